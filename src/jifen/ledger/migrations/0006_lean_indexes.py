"""Leaner ledger indexes (docs/performance.md, 2026-12-02).

- The spend-order index gains `id`, so it is the spending order itself (expires_on ASC
  NULLS LAST, id): a spend reads its first lots in index order and stops, however many
  lots the wallet has; before, every spend sorted all of them.
- Single-column foreign-key indexes that another index already leads with (lot and entry
  by account, the daily transfer total by member) are dropped; the foreign keys stay.
- Foreign keys set on few rows (a transaction's counterparty, reversed transaction and
  operator; an adjustment's approver) are indexed only where set.

The dropped indexes are removed by name as the database reports them, and the foreign-key
constraints are left alone (Django's AlterField would drop and re-validate them).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (model, field) whose own single-column index goes; the constraint stays.
UNINDEXED = [
    ("adjustment", "decided_by"),
    ("entry", "account"),
    ("lot", "account"),
    ("transaction", "counterparty"),
    ("transaction", "created_by"),
    ("transaction", "reverses"),
    ("transferdailytotal", "member"),
]


def _single_column_indexes(schema_editor, table: str, column: str) -> list[str]:
    """Names of the plain (non-unique) indexes on exactly `column` of `table`."""
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"] == [column]
    ]


def drop_fk_indexes(apps, schema_editor):
    for model_name, field_name in UNINDEXED:
        model = apps.get_model("ledger", model_name)
        column = model._meta.get_field(field_name).column
        for name in _single_column_indexes(schema_editor, model._meta.db_table, column):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_fk_indexes(apps, schema_editor):
    for model_name, field_name in UNINDEXED:
        model = apps.get_model("ledger", model_name)
        field = model._meta.get_field(field_name)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0005_pg_posting_functions_by_login"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The drops run before the partial indexes on the same columns exist.
    operations = [
        migrations.RemoveIndex(
            model_name="lot",
            name="lot_spend_order_idx",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="adjustment",
                    name="decided_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="审批人",
                    ),
                ),
                migrations.AlterField(
                    model_name="entry",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="ledger.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="lot",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lots",
                        to="ledger.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="transaction",
                    name="counterparty",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="对方",
                    ),
                ),
                migrations.AlterField(
                    model_name="transaction",
                    name="created_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="操作人",
                    ),
                ),
                migrations.AlterField(
                    model_name="transaction",
                    name="reverses",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reversals",
                        to="ledger.transaction",
                        verbose_name="冲正的交易",
                    ),
                ),
                migrations.AlterField(
                    model_name="transferdailytotal",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_fk_indexes, create_fk_indexes)],
        ),
        migrations.AddIndex(
            model_name="adjustment",
            index=models.Index(
                condition=models.Q(("decided_by__isnull", False)),
                fields=["decided_by"],
                name="adjustment_decided_by_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lot",
            index=models.Index(
                condition=models.Q(("remaining__gt", 0)),
                fields=["account", "status", "expires_on", "id"],
                name="lot_spend_order_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("counterparty__isnull", False)),
                fields=["counterparty"],
                name="txn_counterparty_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("reverses__isnull", False)),
                fields=["reverses"],
                name="txn_reverses_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("created_by__isnull", False)),
                fields=["created_by"],
                name="txn_created_by_idx",
            ),
        ),
    ]
