"""The ledger's invariants (DESIGN.md), checked over the whole database by set queries.

I1 each transaction's entries sum to zero (and it has at least two);
I2 each wallet's cached balance equals the sum of its entries, its lots' remainders
   (available and pending) and its open holds (held), and none is negative;
I3 issued = available + pending + held + redeemed + expired: every entry belongs to a
   known kind of account, so the books close;
I5 each reference and each idempotency key has at most one effect.
Later apps add their own checks (stock, I4) through `register_check`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from jifen.core.models import IdempotencyRecord
from jifen.ledger.models import Account, Bucket, Entry, Hold, Lot, LotMovement, Transaction


@dataclass
class Violation:
    invariant: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant} {self.subject}: {self.message}"


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


_extra_checks: list[Callable[[Report], None]] = []


def register_check(check: Callable[[Report], None]) -> Callable[[Report], None]:
    _extra_checks.append(check)
    return check


def _check_transactions_balance(report: Report) -> None:
    unbalanced = (
        Entry.objects.values("transaction_id")
        .annotate(total=Sum("amount"), n=Count("id"))
        .filter(~Q(total=0) | Q(n__lt=2))
    )
    for row in unbalanced:
        report.violations.append(
            Violation(
                "I1",
                f"transaction {row['transaction_id']}",
                f"entries sum to {row['total']} over {row['n']} entries",
            )
        )
    # A reversal that could take nothing back and forgave it all has no entries by design.
    orphans = (
        Transaction.objects.filter(entries__isnull=True)
        .exclude(kind=Transaction.Kind.REVERSAL, details__forgiven__gt=0)
        .values_list("pk", flat=True)
    )
    for pk in orphans:
        report.violations.append(Violation("I1", f"transaction {pk}", "has no entries"))


def _sums_by_account(queryset, value: str) -> dict[int, int]:
    return {
        row["account_id"]: row["s"] or 0
        for row in queryset.values("account_id").annotate(s=Sum(value))
    }


def _check_wallets(report: Report) -> None:
    by_bucket = {
        bucket: _sums_by_account(Entry.objects.filter(bucket=bucket), "amount")
        for bucket in (Bucket.AVAILABLE, Bucket.PENDING, Bucket.HELD, Bucket.DEBT)
    }
    lots = {
        status: _sums_by_account(Lot.objects.filter(status=status), "remaining")
        for status in (Lot.Status.AVAILABLE, Lot.Status.PENDING)
    }
    holds = _sums_by_account(Hold.objects.filter(status=Hold.Status.HELD), "points")
    wallets = Account.objects.filter(kind=Account.Kind.WALLET).values_list(
        "pk", "member_id", "available", "pending", "held", "debt"
    )
    for pk, member_id, available, pending, held, debt in wallets.iterator(chunk_size=2000):
        subject = f"wallet {pk} (member {member_id})"
        cached = {Bucket.AVAILABLE: available, Bucket.PENDING: pending, Bucket.HELD: held}
        owed = -by_bucket[Bucket.DEBT].get(pk, 0)
        if debt < 0 or debt != owed:
            report.violations.append(
                Violation("I2", subject, f"cached debt {debt} != minus debt entries {owed}")
            )
        for bucket, value in cached.items():
            if value < 0:
                report.violations.append(Violation("I2", subject, f"{bucket} is {value}"))
            from_entries = by_bucket[bucket].get(pk, 0)
            if value != from_entries:
                report.violations.append(
                    Violation(
                        "I2",
                        subject,
                        f"cached {bucket} {value} != entries {from_entries} "
                        f"(difference {value - from_entries:+d})",
                    )
                )
        for status, bucket in (
            (Lot.Status.AVAILABLE, Bucket.AVAILABLE),
            (Lot.Status.PENDING, Bucket.PENDING),
        ):
            from_lots = lots[status].get(pk, 0)
            if cached[bucket] != from_lots:
                report.violations.append(
                    Violation(
                        "I2",
                        subject,
                        f"cached {bucket} {cached[bucket]} != lots {from_lots} "
                        f"(difference {cached[bucket] - from_lots:+d})",
                    )
                )
        if held != holds.get(pk, 0):
            report.violations.append(
                Violation("I2", subject, f"cached held {held} != open holds {holds.get(pk, 0)}")
            )
    report.summary["wallets"] = Account.objects.filter(kind=Account.Kind.WALLET).count()
    bad_lots = Lot.objects.filter(Q(remaining__lt=0) | Q(remaining__gt=F("amount")))
    for pk in bad_lots.values_list("pk", flat=True):
        report.violations.append(Violation("I2", f"lot {pk}", "remaining outside 0..amount"))
    # Every change to a lot is a movement: its remainder is the sum of its movements.
    drifted = (
        Lot.objects.annotate(moved=Sum("movements__amount"))
        .exclude(remaining=F("moved"))
        .values_list("pk", "remaining", "moved")
    )
    for pk, remaining, moved in drifted:
        report.violations.append(
            Violation("I2", f"lot {pk}", f"remaining {remaining} != movements {moved or 0}")
        )


def _check_books_close(report: Report) -> None:
    totals = {
        row["account__kind"]: row["s"] or 0
        for row in Entry.objects.values("account__kind").annotate(s=Sum("amount"))
    }
    issued = -totals.get(Account.Kind.ISSUANCE, 0)
    wallets = totals.get(Account.Kind.WALLET, 0)
    redeemed = totals.get(Account.Kind.REDEMPTION, 0)
    expired = totals.get(Account.Kind.EXPIRY, 0)
    unknown = {k: v for k, v in totals.items() if k not in Account.Kind.values}
    report.summary.update(issued=issued, outstanding=wallets, redeemed=redeemed, expired=expired)
    if issued != wallets + redeemed + expired:
        report.violations.append(
            Violation(
                "I3",
                "books",
                f"issued {issued} != outstanding {wallets} + redeemed {redeemed} + "
                f"expired {expired} (difference {issued - wallets - redeemed - expired:+d})",
            )
        )
    for kind, value in unknown.items():
        report.violations.append(Violation("I3", f"account kind {kind!r}", f"holds {value}"))
    # Sources only give, sinks only take: an issuance account above zero or a redemption or
    # expiry account below zero means points moved the wrong way. (issuance:adjustment
    # also takes: an operator's deduction returns points to it.)
    for code, kind, total in (
        Entry.objects.exclude(account__kind=Account.Kind.WALLET)
        .values_list("account__code", "account__kind")
        .annotate(s=Sum("amount"))
    ):
        wrong_way = total < 0 if kind != Account.Kind.ISSUANCE else total > 0
        if wrong_way and code != "issuance:adjustment":
            report.violations.append(Violation("I3", f"account {code}", f"balance {total}"))
    expired_from_lots = -(
        LotMovement.objects.filter(transaction__kind=Transaction.Kind.EXPIRE).aggregate(
            s=Sum("amount")
        )["s"]
        or 0
    )
    if expired_from_lots != expired:
        report.violations.append(
            Violation("I3", "expiry", f"expired {expired} != lots expired {expired_from_lots}")
        )
    wallet_main = Entry.objects.filter(
        account__kind=Account.Kind.WALLET, bucket=Bucket.MAIN
    ).count()
    if wallet_main:
        report.violations.append(
            Violation("I3", "entries", f"{wallet_main} wallet entries in bucket main")
        )
    system_on_wallet_buckets = (
        Entry.objects.exclude(account__kind=Account.Kind.WALLET).exclude(bucket=Bucket.MAIN).count()
    )
    if system_on_wallet_buckets:
        report.violations.append(
            Violation(
                "I3", "entries", f"{system_on_wallet_buckets} system entries outside bucket main"
            )
        )


def _check_once_only(report: Report) -> None:
    duplicates = Transaction.objects.values("reference").annotate(n=Count("id")).filter(n__gt=1)
    for row in duplicates:
        report.violations.append(
            Violation("I5", f"reference {row['reference']}", f"posted {row['n']} times")
        )
    keys = IdempotencyRecord.objects.values("owner", "key").annotate(n=Count("id")).filter(n__gt=1)
    for row in keys:
        report.violations.append(
            Violation(
                "I5", f"idempotency key {row['owner']}:{row['key']}", f"stored {row['n']} times"
            )
        )
    # A transaction reversed by more points than it moved.
    for txn in Transaction.objects.filter(reversals__isnull=False).distinct().iterator():
        size = sum(e.amount for e in txn.entries.all() if e.amount > 0)
        reversed_points = sum(r.details.get("points", 0) for r in txn.reversals.all())
        if reversed_points > size:
            report.violations.append(
                Violation(
                    "I5", f"transaction {txn.pk}", f"reversed {reversed_points} of {size} points"
                )
            )
    report.summary["transactions"] = Transaction.objects.count()


def ledger_verify() -> Report:
    """Check every invariant; the report lists each violation with its subject.

    On PostgreSQL all checks read one snapshot (a REPEATABLE READ, READ ONLY transaction),
    so a verification run beside live traffic sees a consistent ledger.
    """
    report = Report()
    starts_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and starts_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        _check_transactions_balance(report)
        _check_wallets(report)
        _check_books_close(report)
        _check_once_only(report)
        for check in _extra_checks:
            check(report)
    return report
