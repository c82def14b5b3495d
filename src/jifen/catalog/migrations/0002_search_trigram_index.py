"""On PostgreSQL, a trigram GIN index for the catalog search (LIKE '%term%' on search_text).

Needs the pg_trgm extension; where it cannot be created (no privilege), the index is
skipped and search still works, by a sequential scan. SQLite needs nothing.
"""

from django.db import migrations, transaction


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # noqa: BLE001 - optional speed-up only
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS catalog_item_search_trgm "
        "ON catalog_item USING gin (search_text gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_item_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
