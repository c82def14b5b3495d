"""Every points movement goes through these services (docs/adr/0001-ledger.md).

Guarantees, each kept by the database rather than by Python:
- Once only: each posting claims a unique `reference` first; a second call with the same
  reference changes nothing and returns the first transaction (I5).
- Balanced: each transaction's entries sum to zero (I1), built by `_post`.
- Never negative: wallet balances change only by guarded UPDATEs
  (`available = available - n WHERE available >= n`, row count checked), backed by CHECKs.
- No deadlocks between wallets: in one transaction, wallet rows are updated in ascending
  primary key order, and a wallet's lots are locked only after its row.

Errors raised: ValidationFailed (bad points, bad arguments), InsufficientPoints,
NotFound, Conflict (reference reused for something else, wrong state), PermissionDenied.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.core.errors import (
    Conflict,
    DomainError,
    InsufficientPoints,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from jifen.ledger.models import (
    Account,
    Adjustment,
    Bucket,
    Entry,
    Hold,
    Lot,
    LotMovement,
    Transaction,
    TransferDailyTotal,
)

logger = logging.getLogger(__name__)
Kind = Transaction.Kind

ISSUANCE_ADJUSTMENT = "issuance:adjustment"
EXPIRY_ACCOUNT = "expiry"
REVERSIBLE_KINDS = {Kind.EARN, Kind.SPEND, Kind.TRANSFER, Kind.ADJUST, Kind.CAPTURE}


# --- validation and accounts ------------------------------------------------------------------


def validate_points(points, *, field_name: str = "points") -> int:
    """A positive whole number of points no larger than one posting may move."""
    if isinstance(points, bool) or not isinstance(points, int):
        raise ValidationFailed(
            _("积分必须是整数。"), code="invalid_points", fields={field_name: "integer required"}
        )
    if points <= 0:
        raise ValidationFailed(
            _("积分必须大于 0。"), code="invalid_points", fields={field_name: "must be positive"}
        )
    if points > settings.JIFEN_POINTS_MAX_PER_POSTING:
        raise ValidationFailed(
            _("积分数额过大。"), code="invalid_points", fields={field_name: "too large"}
        )
    return points


ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9_]{1,50}$")


def _validate_account_name(value: str, field_name: str) -> str:
    """`source` and `purpose` name system accounts: lower-case ASCII words, 1–50 characters."""
    if not isinstance(value, str) or not ACCOUNT_NAME_RE.match(value):
        raise ValidationFailed(
            _("名称无效。"), code=f"invalid_{field_name}", fields={field_name: "[a-z0-9_]{1,50}"}
        )
    return value


def _validate_reference(reference: str) -> str:
    if not reference or not isinstance(reference, str) or len(reference) > 200:
        raise ValidationFailed(
            _("缺少唯一参考号。"),
            code="invalid_reference",
            fields={"reference": "1 to 200 characters"},
        )
    return reference


_system_account_ids: dict[str, int] = {}


def system_account_id(code: str) -> int:
    """The id of a named system account, created on first use.

    Cached per process once committed: the mapping never changes once the row exists, so
    the cache is a shortcut, not something correctness depends on.
    """
    cached = _system_account_ids.get(code)
    if cached is not None:
        return cached
    kind = code.split(":", 1)[0]
    if kind not in {Account.Kind.ISSUANCE, Account.Kind.REDEMPTION, Account.Kind.EXPIRY}:
        raise ValueError(f"unknown system account kind in {code!r}")
    try:
        with transaction.atomic():
            account, _created = Account.objects.get_or_create(code=code, defaults={"kind": kind})
    except IntegrityError:  # created concurrently
        account = Account.objects.get(code=code)
    # Remember it only once committed: a rolled-back row must not stay in the cache.
    transaction.on_commit(lambda: _system_account_ids.__setitem__(code, account.pk))
    return account.pk


def wallet_create(*, member) -> Account:
    account, _created = Account.objects.get_or_create(
        member=member, defaults={"kind": Account.Kind.WALLET}
    )
    return account


def _wallet_id(member_id: int) -> int:
    return _wallet_row(member_id)[0]


def _wallet_row(member_id: int, *, lock: bool = False) -> tuple[int, int]:
    """(wallet id, debt) of the member's wallet, in one query; NotFound without a wallet."""
    query = Account.objects.filter(member_id=member_id)
    if lock:
        query = query.select_for_update()
    row = query.values_list("pk", "debt").first()
    if row is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    return row


def expiry_date_for(earned_on: dt.date, policy: str | None = None) -> dt.date | None:
    """The last valid business day of points earned on `earned_on` under the policy.

    "days:N" → N days later; "year_end:N" → 31 December of the Nth calendar year, counting
    the year of earning as the first; "never" → None.
    """
    policy = policy or settings.JIFEN_EXPIRY_POLICY
    name, _sep, arg = policy.partition(":")
    if name == "never":
        return None
    if name == "days":
        return earned_on + dt.timedelta(days=int(arg))
    if name == "year_end":
        return dt.date(earned_on.year + int(arg) - 1, 12, 31)
    raise ValueError(f"unknown JIFEN_EXPIRY_POLICY {policy!r}")


# --- the posting engine -----------------------------------------------------------------------


@dataclass
class _Posting:
    """What one transaction does, collected before anything is written."""

    entries: list[tuple[int, str, int, int | None]] = field(default_factory=list)
    # wallet id → {bucket: delta}
    wallet_deltas: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, account_id: int, bucket: str, amount: int, member_id: int | None = None):
        if amount == 0:
            return
        self.entries.append((account_id, bucket, amount, member_id))
        if member_id is not None:
            deltas = self.wallet_deltas[account_id]
            deltas[bucket] = deltas.get(bucket, 0) + amount

    def check_balanced(self):
        total = sum(amount for _a, _b, amount, _m in self.entries)
        if total != 0 or len(self.entries) < 2:
            raise AssertionError(f"unbalanced posting: {self.entries}")


class _AlreadyPosted(Exception):
    def __init__(self, txn: Transaction):
        self.txn = txn


def _claim(
    *,
    kind: str,
    reference: str,
    member_id: int | None,
    explanation: str = "",
    details: dict | None = None,
    counterparty_id: int | None = None,
    reverses_id: int | None = None,
    created_by_id: int | None = None,
) -> Transaction:
    """Insert the transaction row, which claims the reference; raise _AlreadyPosted if taken.

    On PostgreSQL a concurrent claim of the same reference waits for the first to commit
    or roll back, then fails or succeeds accordingly: exactly one caller posts. There it is
    one `INSERT … ON CONFLICT (reference) DO NOTHING RETURNING id` (no savepoint: an empty
    result means "already posted"); other databases use a savepoint around a plain INSERT.
    """
    if connection.vendor == "postgresql":
        now = timezone.now()
        fields = {
            "kind": kind,
            "reference": reference,
            "member_id": member_id,
            "explanation": explanation,
            "details": details or {},
            "counterparty_id": counterparty_id,
            "reverses_id": reverses_id,
            "created_by_id": created_by_id,
        }
        with connection.cursor() as cursor:
            cursor.execute(_PG_CLAIM, {**fields, "details": _json(fields["details"]), "now": now})
            row = cursor.fetchone()
        if row is None:
            existing = Transaction.objects.filter(reference=reference).first()
            if existing is None:  # cannot happen: the conflicting row is committed
                raise AssertionError(f"reference {reference!r} conflicted but is not visible")
            raise _AlreadyPosted(existing)
        return _loaded(Transaction(pk=row[0], created_at=now, **fields))
    try:
        with transaction.atomic():
            return Transaction.objects.create(
                kind=kind,
                reference=reference,
                member_id=member_id,
                explanation=explanation,
                details=details or {},
                counterparty_id=counterparty_id,
                reverses_id=reverses_id,
                created_by_id=created_by_id,
            )
    except IntegrityError:
        existing = Transaction.objects.filter(reference=reference).first()
        if existing is None:
            raise
        raise _AlreadyPosted(existing) from None


_PG_CLAIM = """
INSERT INTO ledger_transaction (kind, reference, explanation, details, member_id,
    counterparty_id, reverses_id, created_by_id, created_at)
VALUES (%(kind)s::varchar, %(reference)s::varchar, %(explanation)s::text, %(details)s::jsonb,
    %(member_id)s::bigint, %(counterparty_id)s::bigint, %(reverses_id)s::bigint,
    %(created_by_id)s::bigint, %(now)s::timestamptz)
ON CONFLICT (reference) DO NOTHING
RETURNING id
"""


def _json(value) -> str:
    """A JSONField value as the text PostgreSQL's jsonb parses (JSONField's own encoding)."""
    return json.dumps(value)


def _loaded(instance):
    """Mark a model instance built from a row written by raw SQL as saved in the database."""
    instance._state.adding = False
    instance._state.db = "default"
    return instance


# One statement per credit on PostgreSQL: claim the reference, then (only if claimed) the
# guarded wallet UPDATE, both entries, the lot and its movement, and optionally the
# adjustment row. Every write after the claim reads `txn` (and the wallet update `w`), so a
# reference already taken writes nothing; a wallet that fails its condition (no wallet, or
# debt to repay first when `debt_free`) leaves only the claim, and the caller continues on the
# general path with that transaction. Data-modifying CTEs all run to completion, whatever the
# final SELECT reads.
_PG_CREDIT = """
WITH txn AS (
  INSERT INTO ledger_transaction (kind, reference, explanation, details, member_id,
      counterparty_id, reverses_id, created_by_id, created_at)
  VALUES (%(kind)s::varchar, %(reference)s::varchar, %(explanation)s::text, %(details)s::jsonb,
      %(member_id)s::bigint, NULL, NULL, %(created_by_id)s::bigint, %(now)s::timestamptz)
  ON CONFLICT (reference) DO NOTHING
  RETURNING id
), w AS (
  UPDATE ledger_account SET {bucket} = {bucket} + %(points)s::bigint
  WHERE member_id = %(member_id)s::bigint AND kind = 'wallet'
    AND (debt = 0 OR NOT %(debt_free)s::boolean) AND EXISTS (SELECT 1 FROM txn)
  RETURNING id
), e AS (
  INSERT INTO ledger_entry (transaction_id, account_id, bucket, amount, member_id, created_at)
  SELECT txn.id, %(system_id)s::bigint, 'main', -%(points)s::bigint, NULL, %(now)s::timestamptz
  FROM txn, w
  UNION ALL
  SELECT txn.id, w.id, %(bucket)s::varchar, %(points)s::bigint, %(member_id)s::bigint,
      %(now)s::timestamptz
  FROM txn, w
), lot AS (
  INSERT INTO ledger_lot (account_id, member_id, transaction_id, status, amount, remaining,
      expires_on, available_on, created_at)
  SELECT w.id, %(member_id)s::bigint, txn.id, %(status)s::varchar, %(points)s::bigint,
      %(points)s::bigint, %(expires_on)s::date, %(available_on)s::date, %(now)s::timestamptz
  FROM txn, w
  RETURNING id, transaction_id, amount
), mv AS (
  INSERT INTO ledger_lotmovement (transaction_id, lot_id, amount)
  SELECT transaction_id, id, amount FROM lot
){adjustment}
SELECT (SELECT id FROM txn), (SELECT id FROM w){adjustment_columns}
"""
# The adjustment row of an operator's adjustment applied at once, in the same statement.
# ON CONFLICT: its reference may belong to an adjustment waiting for approval (Conflict).
_PG_CREDIT_ADJUSTMENT = """, adj AS (
  INSERT INTO ledger_adjustment (member_id, points, reason, status, reference,
      requested_by_id, decided_by_id, decided_at, transaction_id, created_at)
  SELECT %(member_id)s::bigint, %(points)s::bigint, %(reason)s::varchar, 'applied',
      %(adjustment_reference)s::varchar, %(created_by_id)s::bigint, NULL, NULL, txn.id,
      %(now)s::timestamptz
  FROM txn, w
  ON CONFLICT (reference) DO NOTHING
  RETURNING id
)"""
_PG_CREDIT_SQL = {
    (bucket, adjustment): _PG_CREDIT.format(
        bucket=bucket,
        adjustment=_PG_CREDIT_ADJUSTMENT if adjustment else "",
        adjustment_columns=", (SELECT id FROM adj)" if adjustment else "",
    )
    for bucket in (Bucket.AVAILABLE, Bucket.PENDING)
    for adjustment in (False, True)
}


def _pg_credit(
    *,
    kind: str,
    reference: str,
    member_id: int,
    points: int,
    system_id: int,
    explanation: str,
    details: dict,
    created_by_id: int | None,
    expires_on: dt.date | None,
    available_on: dt.date | None = None,
    debt_free: bool = True,
    adjustment_reference: str | None = None,
) -> tuple[Transaction, int | None, int | None]:
    """The whole credit in one statement (PostgreSQL): (transaction, wallet id, adjustment id).

    Raises _AlreadyPosted when the reference is taken. A wallet id of None means only the
    claim was written (no wallet, or debt to repay): the caller posts the rest itself.
    An adjustment id of None (with a wallet) means its reference is taken.
    """
    now = timezone.now()
    bucket = Bucket.PENDING if available_on else Bucket.AVAILABLE
    params = {
        "kind": kind,
        "reference": reference,
        "explanation": explanation,
        "details": _json(details),
        "member_id": member_id,
        "created_by_id": created_by_id,
        "now": now,
        "points": points,
        "debt_free": debt_free,
        "system_id": system_id,
        "bucket": bucket,
        "status": Lot.Status.PENDING if available_on else Lot.Status.AVAILABLE,
        "expires_on": expires_on,
        "available_on": available_on,
        "reason": explanation,
        "adjustment_reference": adjustment_reference,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PG_CREDIT_SQL[bucket, adjustment_reference is not None], params)
        txn_id, wallet_id, *adjustment = cursor.fetchone()
    if txn_id is None:
        existing = Transaction.objects.filter(reference=reference).first()
        if existing is None:
            raise AssertionError(f"reference {reference!r} conflicted but is not visible")
        raise _AlreadyPosted(existing)
    txn = _loaded(
        Transaction(
            pk=txn_id,
            kind=kind,
            reference=reference,
            member_id=member_id,
            explanation=explanation,
            details=details,
            created_by_id=created_by_id,
            created_at=now,
        )
    )
    return txn, wallet_id, (adjustment[0] if adjustment else None)


def _replayed(existing: Transaction, *, kind: str, member_id: int | None, **same) -> Transaction:
    """The first result of a repeated call, or Conflict if the reference meant something else.

    `same` names what must match besides kind and member: `points`, `counterparty_id`,
    `reverses_id`, or any key of the transaction's details (`source`, `purpose`, `hold`).
    """
    differs = existing.kind != kind or existing.member_id != member_id
    for name, value in same.items():
        if name in ("counterparty_id", "reverses_id"):
            differs |= getattr(existing, name) != value
        else:
            differs |= existing.details.get(name) != value
    if differs:
        raise Conflict(_("该参考号已用于另一笔交易。"), code="reference_conflict")
    return existing


def _apply_wallet_deltas(posting: _Posting) -> None:
    """One guarded UPDATE per wallet, in ascending id order (the lock order)."""
    for account_id in sorted(posting.wallet_deltas):
        deltas = posting.wallet_deltas[account_id]
        query = Account.objects.filter(pk=account_id, kind=Account.Kind.WALLET)
        updates = {}
        for bucket, delta in deltas.items():
            if delta == 0:
                continue
            if bucket == Bucket.DEBT:  # the column counts what is owed: minus the entries
                updates["debt"] = F("debt") - delta
                if delta > 0:
                    query = query.filter(debt__gte=delta)
                continue
            updates[bucket] = F(bucket) + delta
            if delta < 0:
                query = query.filter(**{f"{bucket}__gte": -delta})
        if updates and query.update(**updates) != 1:
            raise InsufficientPoints(_("积分不足。"))


def _write(txn: Transaction, posting: _Posting) -> None:
    posting.check_balanced()
    _apply_wallet_deltas(posting)
    Entry.objects.bulk_create(
        [
            Entry(
                transaction=txn,
                account_id=account_id,
                bucket=bucket,
                amount=amount,
                member_id=member_id,
            )
            for account_id, bucket, amount, member_id in posting.entries
        ]
    )


def _consume_lots(txn: Transaction, account_id: int, points: int) -> list[tuple[Lot, int]]:
    """Take `points` from the wallet's available lots, soonest-expiring first.

    Must run after the wallet's guarded UPDATE, which holds the wallet's row lock, so lots
    are always locked after their wallet. Returns (lot, taken) pairs.
    """
    taken: list[tuple[Lot, int]] = []
    still = points
    lots = (
        Lot.objects.select_for_update()
        .filter(account_id=account_id, status=Lot.Status.AVAILABLE, remaining__gt=0)
        .order_by(F("expires_on").asc(nulls_last=True), "pk")
    )
    batch_size = 20
    offset = 0
    while still > 0:
        batch = list(lots[offset : offset + batch_size])
        if not batch:
            # The cached balance passed its guard but the lots do not cover it: I2 is broken.
            raise AssertionError(f"wallet {account_id}: lots do not cover {points} points")
        for lot in batch:
            take = min(lot.remaining, still)
            taken.append((lot, take))
            still -= take
            if still == 0:
                break
        offset += batch_size
    _move_lots(txn, [(lot, -take) for lot, take in taken])
    return taken


def _move_lots(txn: Transaction, moves: list[tuple[Lot, int]]) -> None:
    """Change lots' remaining by the given deltas in one UPDATE, and record the movements."""
    if not moves:
        return
    ids = [lot.pk for lot, _delta in moves]
    delta_case = Case(*[When(pk=lot.pk, then=Value(delta)) for lot, delta in moves])
    changed = Lot.objects.filter(pk__in=ids).update(remaining=F("remaining") + delta_case)
    if changed != len(set(ids)):
        raise AssertionError("lot vanished during a posting")
    LotMovement.objects.bulk_create(
        [LotMovement(transaction=txn, lot=lot, amount=delta) for lot, delta in moves]
    )


def _create_lots(
    txn: Transaction,
    account_id: int,
    member_id: int,
    parts: Iterable[tuple[int, dt.date | None]],
    *,
    available_on: dt.date | None = None,
) -> None:
    status = Lot.Status.PENDING if available_on else Lot.Status.AVAILABLE
    lots = Lot.objects.bulk_create(
        [
            Lot(
                account_id=account_id,
                member_id=member_id,
                transaction=txn,
                status=status,
                amount=amount,
                remaining=amount,
                expires_on=expires_on,
                available_on=available_on,
            )
            for amount, expires_on in parts
            if amount > 0
        ]
    )
    if any(lot.pk is None for lot in lots):  # backends without RETURNING on bulk insert
        lots = list(Lot.objects.filter(transaction=txn, account_id=account_id))
    LotMovement.objects.bulk_create(
        [LotMovement(transaction=txn, lot=lot, amount=lot.amount) for lot in lots]
    )


# --- earn, spend, hold ------------------------------------------------------------------------


@transaction.atomic
def points_earn(
    *,
    member_id: int,
    points: int,
    source: str,
    reference: str,
    explanation: str = "",
    details: dict | None = None,
    expires_on: dt.date | None = None,
    pending_until: dt.date | None = None,
    created_by_id: int | None = None,
) -> Transaction:
    """Credit `points` to the member from issuance account `issuance:<source>`.

    The points form one lot expiring on `expires_on` (default: the expiry policy). With
    `pending_until`, they are pending until that business day, then become available.
    """
    validate_points(points)
    _validate_reference(reference)
    _validate_account_name(source, "source")
    today = clock.business_date()
    if expires_on is None:
        expires_on = expiry_date_for(today)
    if pending_until is not None and pending_until <= today:
        pending_until = None
    claim = {
        "kind": Kind.EARN,
        "reference": reference,
        "member_id": member_id,
        "explanation": explanation,
        "details": {**(details or {}), "source": source, "points": points},
        "created_by_id": created_by_id,
    }
    try:
        if connection.vendor == "postgresql":
            # The usual case (a wallet without debt) is one statement; otherwise only the
            # claim is written and the general path below does the rest.
            txn, wallet_id, _adjustment = _pg_credit(
                **claim,
                points=points,
                system_id=system_account_id(f"issuance:{source}"),
                expires_on=expires_on,
                available_on=pending_until,
            )
            if wallet_id is not None:
                return txn
        else:
            txn = _claim(**claim)
    except _AlreadyPosted as posted:
        return _replayed(
            posted.txn, kind=Kind.EARN, member_id=member_id, points=points, source=source
        )
    wallet_id, debt = _wallet_row(member_id)
    if debt:  # rare: lock, re-read, and repay what is owed before crediting the rest
        wallet_id, debt = _wallet_row(member_id, lock=True)
    repaid = min(debt, points)
    bucket = Bucket.PENDING if pending_until else Bucket.AVAILABLE
    posting = _Posting()
    posting.add(system_account_id(f"issuance:{source}"), Bucket.MAIN, -points)
    posting.add(wallet_id, Bucket.DEBT, repaid, member_id)
    posting.add(wallet_id, bucket, points - repaid, member_id)
    _write(txn, posting)
    if repaid:
        txn.details = {**txn.details, "debt_repaid": repaid}
        Transaction.objects.filter(pk=txn.pk).update(details=txn.details)
    _create_lots(
        txn, wallet_id, member_id, [(points - repaid, expires_on)], available_on=pending_until
    )
    return txn


@transaction.atomic
def points_spend(
    *,
    member_id: int,
    points: int,
    purpose: str,
    reference: str,
    explanation: str = "",
    details: dict | None = None,
) -> Transaction:
    """Debit available points to `redemption:<purpose>`, consuming soonest-expiring lots.

    Raises InsufficientPoints (and changes nothing) when the available balance is short.
    """
    validate_points(points)
    _validate_reference(reference)
    _validate_account_name(purpose, "purpose")
    try:
        txn = _claim(
            kind=Kind.SPEND,
            reference=reference,
            member_id=member_id,
            explanation=explanation,
            details={**(details or {}), "purpose": purpose, "points": points},
        )
    except _AlreadyPosted as posted:
        return _replayed(
            posted.txn, kind=Kind.SPEND, member_id=member_id, points=points, purpose=purpose
        )
    wallet_id = _wallet_id(member_id)
    _expire_due_lots(wallet_id)
    posting = _Posting()
    posting.add(wallet_id, Bucket.AVAILABLE, -points, member_id)
    posting.add(system_account_id(f"redemption:{purpose}"), Bucket.MAIN, points)
    _write(txn, posting)
    _consume_lots(txn, wallet_id, points)
    return txn


@transaction.atomic
def points_hold(
    *,
    member_id: int,
    points: int,
    reference: str,
    explanation: str = "",
    details: dict | None = None,
    expires_at: dt.datetime | None = None,
) -> Hold:
    """Reserve available points (available → held), consuming lots as a spend would."""
    validate_points(points)
    _validate_reference(reference)
    try:
        txn = _claim(
            kind=Kind.HOLD,
            reference=reference,
            member_id=member_id,
            explanation=explanation,
            details={**(details or {}), "points": points},
        )
    except _AlreadyPosted as posted:
        _replayed(posted.txn, kind=Kind.HOLD, member_id=member_id, points=points)
        return posted.txn.hold
    wallet_id = _wallet_id(member_id)
    _expire_due_lots(wallet_id)
    posting = _Posting()
    posting.add(wallet_id, Bucket.AVAILABLE, -points, member_id)
    posting.add(wallet_id, Bucket.HELD, points, member_id)
    _write(txn, posting)
    _consume_lots(txn, wallet_id, points)
    return Hold.objects.create(
        member_id=member_id,
        account_id=wallet_id,
        points=points,
        hold_transaction=txn,
        expires_at=expires_at,
    )


def _settle_hold(
    hold_id: int, *, to_status: str, kind: str, reference: str, explanation: str, purpose: str = ""
) -> Hold:
    hold = Hold.objects.filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(_("冻结记录不存在。"), code="hold_not_found")
    try:
        txn = _claim(
            kind=kind,
            reference=reference,
            member_id=hold.member_id,
            explanation=explanation,
            details={"hold": hold.pk},
        )
    except _AlreadyPosted as posted:
        _replayed(posted.txn, kind=kind, member_id=hold.member_id, hold=hold.pk)
        hold.refresh_from_db()
        return hold
    # The state change is the guard: of a concurrent capture and release, one wins.
    if not Hold.objects.filter(pk=hold.pk, status=Hold.Status.HELD).update(
        status=to_status, settle_transaction=txn
    ):
        hold.refresh_from_db()
        raise Conflict(
            _("冻结已处理：%(status)s") % {"status": hold.get_status_display()},
            code="hold_not_held",
        )
    posting = _Posting()
    posting.add(hold.account_id, Bucket.HELD, -hold.points, hold.member_id)
    if to_status == Hold.Status.CAPTURED:
        posting.add(system_account_id(f"redemption:{purpose}"), Bucket.MAIN, hold.points)
    else:
        posting.add(hold.account_id, Bucket.AVAILABLE, hold.points, hold.member_id)
    _write(txn, posting)
    if to_status == Hold.Status.RELEASED:
        consumed = LotMovement.objects.filter(transaction_id=hold.hold_transaction_id)
        _move_lots(
            txn, [(movement.lot, -movement.amount) for movement in consumed.select_related("lot")]
        )
    hold.refresh_from_db()
    return hold


@transaction.atomic
def points_hold_capture(
    *, hold_id: int, reference: str, purpose: str = "mall", explanation: str = ""
) -> Hold:
    """Turn held points into a redemption. Idempotent by reference; Conflict if released."""
    _validate_reference(reference)
    _validate_account_name(purpose, "purpose")
    return _settle_hold(
        hold_id,
        to_status=Hold.Status.CAPTURED,
        kind=Kind.CAPTURE,
        reference=reference,
        explanation=explanation,
        purpose=purpose,
    )


@transaction.atomic
def points_hold_release(*, hold_id: int, reference: str, explanation: str = "") -> Hold:
    """Give held points back to the lots they came from (original expiry kept)."""
    _validate_reference(reference)
    return _settle_hold(
        hold_id,
        to_status=Hold.Status.RELEASED,
        kind=Kind.RELEASE,
        reference=reference,
        explanation=explanation,
    )


# --- transfer ---------------------------------------------------------------------------------


def points_transfer(
    *, sender_id: int, recipient_id: int, points: int, reference: str, note: str = ""
) -> Transaction:
    """Move available points between members; the recipient's lots keep the sender's expiry.

    Refused: to oneself, to or from a closed account, below JIFEN_TRANSFER_MIN, or beyond
    JIFEN_TRANSFER_DAILY_LIMIT per sender per business day (a guarded counter, so
    concurrent transfers cannot pass the limit together). All or nothing.

    On PostgreSQL a new transfer is one call of the `jifen_transfer` function (ADR 0006);
    the returned transaction then carries `sender_summary`, the sender's points_summary
    read in the same statement after the posting (absent on replays and on other paths).
    """
    validate_points(points)
    _validate_reference(reference)
    if sender_id == recipient_id:
        raise ValidationFailed(_("不能转赠给自己。"), code="transfer_to_self")
    _check_transfer_minimum(points)
    note = note[:500]
    if connection.vendor == "postgresql":
        call = _PgTransferCall(sender_id=sender_id, points=points, reference=reference, note=note)
        txn = call.outcome(recipient_id, call.run(_PG_TRANSFER_CALL, recipient_id))
        if txn is not None:
            return txn
    return _points_transfer_general(
        sender_id=sender_id,
        recipient_id=recipient_id,
        points=points,
        reference=reference,
        note=note,
    )


def _check_transfer_minimum(points: int) -> None:
    if points < settings.JIFEN_TRANSFER_MIN:
        raise ValidationFailed(
            _("每次至少转赠 %(min)s 积分。") % {"min": settings.JIFEN_TRANSFER_MIN},
            code="transfer_below_minimum",
            fields={"points": "below minimum"},
        )


def points_transfer_to_login(
    *, sender_id: int, login: str, points: int, reference: str, note: str = ""
):
    """points_transfer to the member whose phone (preferred) or member number is `login`
    (already normalised), in one statement on PostgreSQL: (transaction, recipient) or None.

    None when one statement cannot answer: not PostgreSQL, arguments points_transfer would
    refuse, no such member, the sender itself, or lots of the sender's past their date. Then
    nothing was written, and the caller finds the member and calls points_transfer, which
    answers or refuses exactly as it always has. The recipient is a User with id,
    member_number, name, phone and email loaded (display_name works), no other fields.
    """
    from jifen.members.models import User

    if connection.vendor != "postgresql":
        return None
    try:
        validate_points(points)
        _validate_reference(reference)
        _check_transfer_minimum(points)
    except DomainError:
        return None
    note = note[:500]
    call = _PgTransferCall(sender_id=sender_id, points=points, reference=reference, note=note)
    row = call.run(_PG_TRANSFER_TO_LOGIN_CALL, login)
    recipient_id, member_number, name, phone, email, status = row[:6]
    if status in ("recipient_unknown", "transfer_to_self", "expire_due"):
        return None
    txn = call.outcome(recipient_id, row[5:])
    recipient = _loaded(
        User(pk=recipient_id, member_number=member_number, name=name, phone=phone, email=email)
    )
    return txn, recipient


# A refusal raised inside a PL/pgSQL posting function (migration ledger 0004): the statement
# aborts, so everything it wrote is undone. Message 'jifen:<code>'.
_PG_REFUSAL_PREFIX = "jifen:"


def _pg_refusal(error: DatabaseError) -> str | None:
    """The refusal code of a posting function's RAISE, or None for any other error."""
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) != "P0001":
        return None
    message = getattr(getattr(cause, "diag", None), "message_primary", None) or ""
    return message[len(_PG_REFUSAL_PREFIX) :] if message.startswith(_PG_REFUSAL_PREFIX) else None


@contextmanager
def _pg_posting_call():
    """Run one posting-function statement with all-or-nothing semantics.

    Outside a transaction the statement is its own transaction (no BEGIN/COMMIT round
    trips); inside the caller's transaction a savepoint keeps a refusal from aborting it.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


_PG_TRANSFER_CALL = """
SELECT * FROM jifen_transfer(%s::bigint, %s::bigint, %s::bigint, %s::varchar, %s::text,
    %s::jsonb, %s::timestamptz, %s::date, %s::bigint)
"""
_PG_TRANSFER_TO_LOGIN_CALL = """
SELECT * FROM jifen_transfer_to_login(%s::bigint, %s::varchar, %s::bigint, %s::varchar,
    %s::text, %s::jsonb, %s::timestamptz, %s::date, %s::bigint)
"""


class _PgTransferCall:
    """One call of jifen_transfer (or its by-login wrapper), arguments already validated.

    `run` executes it (refusals raised inside map to the DomainErrors of the general path);
    `outcome` turns its status into the transaction, a refusal, or None = take the general
    path (only when the sender has lots past their date: the function wrote nothing).
    """

    def __init__(self, *, sender_id: int, points: int, reference: str, note: str):
        self.sender_id, self.points, self.reference, self.note = sender_id, points, reference, note
        self.now = timezone.now()
        self.limit = settings.JIFEN_TRANSFER_DAILY_LIMIT
        self.details = {"note": note, "points": points}

    def run(self, sql: str, recipient) -> tuple:
        params = [
            self.sender_id,
            recipient,
            self.points,
            self.reference,
            self.note,
            _json(self.details),
            self.now,
            clock.business_date(),
            self.limit,
        ]
        try:
            with _pg_posting_call(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        except DatabaseError as error:
            refusal = _pg_refusal(error)
            if refusal == "transfer_daily_limit":
                raise ValidationFailed(
                    _("超过每日转赠上限 %(limit)s 积分。") % {"limit": self.limit},
                    code="transfer_daily_limit",
                    fields={"points": "over daily limit"},
                ) from None
            if refusal == "insufficient_points":
                raise InsufficientPoints(_("积分不足。")) from None
            if refusal == "member_not_found":
                raise NotFound(_("会员不存在。"), code="member_not_found") from None
            raise

    def outcome(self, recipient_id: int, row) -> Transaction | None:
        status, txn_id, available, pending, held, debt, expires_on, soonest = row
        if status == "recipient_not_found":
            raise NotFound(_("收款会员不存在。"), code="recipient_not_found")
        if status == "member_not_found":
            raise NotFound(_("会员不存在。"), code="member_not_found")
        if status == "account_closed":
            raise ValidationFailed(_("账户已注销，无法转赠。"), code="account_closed")
        if status == "expire_due":
            return None
        if status == "replay":
            existing = Transaction.objects.filter(reference=self.reference).first()
            if existing is None:
                raise AssertionError(f"reference {self.reference!r} conflicted but is not visible")
            return _replayed(
                existing,
                kind=Kind.TRANSFER,
                member_id=self.sender_id,
                counterparty_id=recipient_id,
                points=self.points,
            )
        if status != "ok":
            raise AssertionError(f"jifen_transfer answered {status!r}")
        txn = _loaded(
            Transaction(
                pk=txn_id,
                kind=Kind.TRANSFER,
                reference=self.reference,
                member_id=self.sender_id,
                counterparty_id=recipient_id,
                explanation=self.note,
                details=self.details,
                created_at=self.now,
            )
        )
        txn.sender_summary = {
            "available": available,
            "pending": pending,
            "held": held,
            "debt": debt,
            "next_expiry": {"points": soonest, "date": expires_on} if expires_on else None,
        }
        return txn


@transaction.atomic
def _points_transfer_general(
    *, sender_id: int, recipient_id: int, points: int, reference: str, note: str
) -> Transaction:
    """points_transfer in one database transaction (arguments already validated)."""
    from jifen.members.models import User

    if connection.vendor == "postgresql":
        return _pg_transfer(
            sender_id=sender_id,
            recipient_id=recipient_id,
            points=points,
            reference=reference,
            note=note,
        )
    members = {u.pk: u for u in User.objects.filter(pk__in=[sender_id, recipient_id])}
    if recipient_id not in members:
        raise NotFound(_("收款会员不存在。"), code="recipient_not_found")
    if sender_id not in members:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    if members[recipient_id].is_closed or members[sender_id].is_closed:
        raise ValidationFailed(_("账户已注销，无法转赠。"), code="account_closed")
    try:
        txn = _claim(
            kind=Kind.TRANSFER,
            reference=reference,
            member_id=sender_id,
            counterparty_id=recipient_id,
            explanation=note[:500],
            details={"note": note[:500], "points": points},
        )
    except _AlreadyPosted as posted:
        return _replayed(
            posted.txn,
            kind=Kind.TRANSFER,
            member_id=sender_id,
            counterparty_id=recipient_id,
            points=points,
        )

    today = clock.business_date()
    TransferDailyTotal.objects.bulk_create(
        [TransferDailyTotal(member_id=sender_id, day=today, points=0)], ignore_conflicts=True
    )
    limit = settings.JIFEN_TRANSFER_DAILY_LIMIT
    if not TransferDailyTotal.objects.filter(
        member_id=sender_id, day=today, points__lte=limit - points
    ).update(points=F("points") + points):
        raise ValidationFailed(
            _("超过每日转赠上限 %(limit)s 积分。") % {"limit": limit},
            code="transfer_daily_limit",
            fields={"points": "over daily limit"},
        )

    sender_wallet, recipient_wallet = _wallet_id(sender_id), _wallet_id(recipient_id)
    _expire_due_lots(sender_wallet, lock_first=(sender_wallet, recipient_wallet))
    posting = _Posting()
    posting.add(sender_wallet, Bucket.AVAILABLE, -points, sender_id)
    posting.add(recipient_wallet, Bucket.AVAILABLE, points, recipient_id)
    _write(txn, posting)  # both wallet rows, in id order
    taken = _consume_lots(txn, sender_wallet, points)
    by_expiry: dict[dt.date | None, int] = defaultdict(int)
    for lot, amount in taken:
        by_expiry[lot.expires_on] += amount
    _create_lots(
        txn,
        recipient_wallet,
        recipient_id,
        [(amount, expires_on) for expires_on, amount in by_expiry.items()],
    )
    return txn


# A transfer on PostgreSQL in four statements (docs/adr/0005-posting-statements.md):
# 1. check both members, claim the reference, count the daily total (an upsert guarded by
#    the limit), and read both wallet ids and whether the sender has lots past their date;
# 2. lock both wallets in ascending id order, apply the guarded deltas, write the entries;
# 3. lock the sender's soonest-expiring lots (after its wallet: the lock order);
# 4. take from them, record the movements, create the recipient's lots and their movements.
_PG_TRANSFER_CLAIM = """
WITH u AS (
  SELECT id, (is_active AND closed_at IS NULL) AS open
  FROM members_user WHERE id IN (%(sender)s::bigint, %(recipient)s::bigint)
), txn AS (
  INSERT INTO ledger_transaction (kind, reference, explanation, details, member_id,
      counterparty_id, reverses_id, created_by_id, created_at)
  SELECT 'transfer', %(reference)s::varchar, %(note)s::text, %(details)s::jsonb,
      %(sender)s::bigint, %(recipient)s::bigint, NULL, NULL, %(now)s::timestamptz
  WHERE (SELECT count(*) FROM u WHERE open) = 2
  ON CONFLICT (reference) DO NOTHING
  RETURNING id
), d AS (
  INSERT INTO ledger_transferdailytotal AS t (member_id, day, points)
  SELECT %(sender)s::bigint, %(day)s::date, %(points)s::bigint FROM txn
  WHERE %(points)s::bigint <= %(limit)s::bigint
  ON CONFLICT (member_id, day) DO UPDATE SET points = t.points + EXCLUDED.points
  WHERE t.points + EXCLUDED.points <= %(limit)s::bigint
  RETURNING points
)
SELECT (SELECT id FROM txn), EXISTS (SELECT 1 FROM d),
  (SELECT open FROM u WHERE id = %(sender)s::bigint),
  (SELECT open FROM u WHERE id = %(recipient)s::bigint),
  (SELECT id FROM ledger_account WHERE member_id = %(sender)s::bigint),
  (SELECT id FROM ledger_account WHERE member_id = %(recipient)s::bigint),
  EXISTS (
    SELECT 1 FROM ledger_lot
    WHERE account_id = (SELECT id FROM ledger_account WHERE member_id = %(sender)s::bigint)
      AND status = 'available' AND remaining > 0 AND expires_on < %(day)s::date
  )
"""
# The locking subquery emits (and so locks) the wallets in id order before the UPDATE can
# reach either row: the join produces a row only after `locked` has returned it.
_PG_TRANSFER_WALLETS = """
WITH locked AS (
  SELECT id FROM ledger_account
  WHERE id IN (%(sender_wallet)s::bigint, %(recipient_wallet)s::bigint)
  ORDER BY id FOR UPDATE
), w AS (
  UPDATE ledger_account a
  SET available = a.available + CASE WHEN a.id = %(sender_wallet)s::bigint
      THEN -%(points)s::bigint ELSE %(points)s::bigint END
  FROM locked
  WHERE a.id = locked.id AND a.kind = 'wallet'
    AND (a.id <> %(sender_wallet)s::bigint OR a.available >= %(points)s::bigint)
  RETURNING a.id
), e AS (
  INSERT INTO ledger_entry (transaction_id, account_id, bucket, amount, member_id, created_at)
  SELECT %(txn)s::bigint, x.account_id, 'available', x.amount, x.member_id,
      %(now)s::timestamptz
  FROM (VALUES (1, %(sender_wallet)s::bigint, -%(points)s::bigint, %(sender)s::bigint),
               (2, %(recipient_wallet)s::bigint, %(points)s::bigint, %(recipient)s::bigint))
      AS x(n, account_id, amount, member_id)
  WHERE (SELECT count(*) FROM w) = 2
  ORDER BY x.n
)
SELECT count(*) FROM w
"""
_PG_LOTS_FOR_SPEND = """
SELECT id, remaining, expires_on FROM ledger_lot
WHERE account_id = %s::bigint AND status = 'available' AND remaining > 0
ORDER BY expires_on ASC NULLS LAST, id ASC
LIMIT %s OFFSET %s
FOR UPDATE
"""
_PG_TRANSFER_LOTS = """
WITH take AS (
  SELECT * FROM unnest(%(lot_ids)s::bigint[], %(takes)s::bigint[]) WITH ORDINALITY
      AS t(id, amount, n)
), upd AS (
  UPDATE ledger_lot l SET remaining = l.remaining - take.amount
  FROM take WHERE l.id = take.id
  RETURNING l.id
), mv AS (
  INSERT INTO ledger_lotmovement (transaction_id, lot_id, amount)
  SELECT %(txn)s::bigint, id, -amount FROM take ORDER BY n
), lot AS (
  INSERT INTO ledger_lot (account_id, member_id, transaction_id, status, amount, remaining,
      expires_on, available_on, created_at)
  SELECT %(recipient_wallet)s::bigint, %(recipient)s::bigint, %(txn)s::bigint, 'available',
      amount, amount, expires_on, NULL, %(now)s::timestamptz
  FROM unnest(%(new_amounts)s::bigint[], %(new_expiries)s::date[]) WITH ORDINALITY
      AS n(amount, expires_on, n)
  ORDER BY n
  RETURNING id, amount
), mv2 AS (
  INSERT INTO ledger_lotmovement (transaction_id, lot_id, amount)
  SELECT %(txn)s::bigint, id, amount FROM lot ORDER BY id
)
SELECT count(*) FROM upd
"""


def _pg_transfer(
    *, sender_id: int, recipient_id: int, points: int, reference: str, note: str
) -> Transaction:
    """points_transfer's posting on PostgreSQL (arguments already validated)."""
    now = timezone.now()
    today = clock.business_date()
    limit = settings.JIFEN_TRANSFER_DAILY_LIMIT
    details = {"note": note, "points": points}
    params = {
        "sender": sender_id,
        "recipient": recipient_id,
        "reference": reference,
        "note": note,
        "details": _json(details),
        "now": now,
        "day": today,
        "points": points,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PG_TRANSFER_CLAIM, params)
        txn_id, counted, sender_open, recipient_open, sender_wallet, recipient_wallet, due = (
            cursor.fetchone()
        )
    if recipient_open is None:
        raise NotFound(_("收款会员不存在。"), code="recipient_not_found")
    if sender_open is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    if not (sender_open and recipient_open):
        raise ValidationFailed(_("账户已注销，无法转赠。"), code="account_closed")
    if txn_id is None:
        existing = Transaction.objects.filter(reference=reference).first()
        if existing is None:
            raise AssertionError(f"reference {reference!r} conflicted but is not visible")
        return _replayed(
            existing,
            kind=Kind.TRANSFER,
            member_id=sender_id,
            counterparty_id=recipient_id,
            points=points,
        )
    if not counted:
        raise ValidationFailed(
            _("超过每日转赠上限 %(limit)s 积分。") % {"limit": limit},
            code="transfer_daily_limit",
            fields={"points": "over daily limit"},
        )
    if sender_wallet is None or recipient_wallet is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    if due:  # rare: points past their date leave the sender's wallet first
        _expire_due_lots(sender_wallet, lock_first=(sender_wallet, recipient_wallet))
    params.update(txn=txn_id, sender_wallet=sender_wallet, recipient_wallet=recipient_wallet)
    with connection.cursor() as cursor:
        cursor.execute(_PG_TRANSFER_WALLETS, params)
        if cursor.fetchone()[0] != 2:
            raise InsufficientPoints(_("积分不足。"))
        # The sender's lots, soonest-expiring first, a few at a time (usually one suffices).
        taken: list[tuple[int, int, dt.date | None]] = []
        still, offset, batch_size = points, 0, 20
        while still > 0:
            cursor.execute(_PG_LOTS_FOR_SPEND, [sender_wallet, batch_size, offset])
            batch = cursor.fetchall()
            if not batch:
                raise AssertionError(f"wallet {sender_wallet}: lots do not cover {points} points")
            for lot_id, remaining, expires_on in batch:
                take = min(remaining, still)
                taken.append((lot_id, take, expires_on))
                still -= take
                if still == 0:
                    break
            offset += batch_size
        by_expiry: dict[dt.date | None, int] = defaultdict(int)
        for _lot_id, take, expires_on in taken:
            by_expiry[expires_on] += take
        params.update(
            lot_ids=[lot_id for lot_id, _take, _e in taken],
            takes=[take for _lot_id, take, _e in taken],
            new_amounts=list(by_expiry.values()),
            new_expiries=list(by_expiry.keys()),
        )
        cursor.execute(_PG_TRANSFER_LOTS, params)
        if cursor.fetchone()[0] != len(taken):
            raise AssertionError("lot vanished during a posting")
    return _loaded(
        Transaction(
            pk=txn_id,
            kind=Kind.TRANSFER,
            reference=reference,
            member_id=sender_id,
            counterparty_id=recipient_id,
            explanation=note,
            details=details,
            created_at=now,
        )
    )


# --- adjustments ------------------------------------------------------------------------------


def _adjustment_post(
    *,
    member_id: int,
    wallet_id: int,
    points: int,
    reason: str,
    reference: str,
    applied_by_id: int,
) -> Transaction:
    """Post an adjustment's points; raises _AlreadyPosted when its reference was used."""
    txn = _claim(
        kind=Kind.ADJUST,
        reference=f"adjustment:{reference}",
        member_id=member_id,
        explanation=reason,
        details={"adjustment": reference},
        created_by_id=applied_by_id,
    )
    posting = _Posting()
    posting.add(system_account_id(ISSUANCE_ADJUSTMENT), Bucket.MAIN, -points)
    posting.add(wallet_id, Bucket.AVAILABLE, points, member_id)
    if points < 0:
        _expire_due_lots(wallet_id)
    _write(txn, posting)
    if points > 0:
        _create_lots(txn, wallet_id, member_id, [(points, expiry_date_for(clock.business_date()))])
    else:
        _consume_lots(txn, wallet_id, -points)
    return txn


def _adjustment_replayed(*, reference: str, member_id: int, points: int) -> Adjustment:
    existing = Adjustment.objects.get(reference=reference)
    if existing.member_id != member_id or existing.points != points:
        raise Conflict(_("该参考号已用于另一笔调整。"), code="reference_conflict")
    return existing


def adjustment_request(
    *, member_id: int, points: int, reason: str, reference: str, requested_by
) -> Adjustment:
    """An operator adds (points > 0) or removes (points < 0) a member's points.

    Small adjustments apply at once; beyond JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD they wait
    for a second operator (`adjustment_decide`). A repeated reference returns the first
    adjustment; the same reference for another member or amount is a Conflict.
    All or nothing. On PostgreSQL an adjustment applied at once is one call of the
    `jifen_adjustment_credit` function (ADR 0006).
    """
    if not getattr(requested_by, "is_staff", False):
        raise PermissionDenied(_("只有运营人员可以调整积分。"))
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ValidationFailed(
            _("调整积分必须是非零整数。"),
            code="invalid_points",
            fields={"points": "non-zero integer required"},
        )
    validate_points(abs(points))
    reason = (reason or "").strip()[:500]
    if not reason:
        raise ValidationFailed(
            _("请填写调整原因。"), code="reason_required", fields={"reason": "required"}
        )
    _validate_reference(reference)
    fields = {
        "member_id": member_id,
        "points": points,
        "reason": reason,
        "reference": reference,
        "requested_by": requested_by,
    }
    if 0 < points <= settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD and (
        connection.vendor == "postgresql"
    ):
        # The load benchmark's earn: one statement, its own transaction when called alone.
        return _pg_adjustment_credit(**fields)
    return _adjustment_request_general(**fields)


_PG_ADJUSTMENT_CALL = """
SELECT * FROM jifen_adjustment_credit(%s::bigint, %s::bigint, %s::varchar, %s::varchar,
    %s::varchar, %s::jsonb, %s::bigint, %s::bigint, %s::date, %s::timestamptz)
"""


_PG_ADJUSTMENT_TO_LOGIN_CALL = """
SELECT * FROM jifen_adjustment_credit_to_login(%s::varchar, %s::bigint, %s::varchar,
    %s::varchar, %s::varchar, %s::jsonb, %s::bigint, %s::bigint, %s::date, %s::timestamptz)
"""


def adjustment_request_to_login(
    *, login: str, points: int, reason: str, reference: str, requested_by
) -> tuple[Adjustment, str] | None:
    """adjustment_request for the member whose phone (preferred) or member number is `login`
    (already normalised), in one statement on PostgreSQL: (adjustment, member number) or None.

    Only an adjustment applied at once (0 < points <= JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD) is
    answered here. None when one statement cannot answer: not PostgreSQL, arguments
    adjustment_request would refuse, a larger or negative adjustment, or no such member. Then
    nothing was written, and the caller finds the member and calls adjustment_request.
    """
    if connection.vendor != "postgresql" or not getattr(requested_by, "is_staff", False):
        return None
    if isinstance(points, bool) or not isinstance(points, int):
        return None
    if not 0 < points <= settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD:
        return None
    reason = (reason or "").strip()[:500]
    try:
        validate_points(points)
        _validate_reference(reference)
    except DomainError:
        return None
    if not reason:
        return None
    return _pg_adjustment_credit(
        member_id=None,
        login=login,
        points=points,
        reason=reason,
        reference=reference,
        requested_by=requested_by,
    )


def _pg_adjustment_credit(
    *,
    member_id: int | None,
    points: int,
    reason: str,
    reference: str,
    requested_by,
    login: str | None = None,
):
    """A positive adjustment applied at once, as one function call (PostgreSQL).

    By member id: the Adjustment. By `login` (member_id None): (Adjustment, member number),
    or None when no member has that phone or member number (nothing written).
    """
    system_id = system_account_id(ISSUANCE_ADJUSTMENT)
    now = timezone.now()
    txn_reference = f"adjustment:{reference}"
    details = {"adjustment": reference}
    params = [
        member_id if login is None else login,
        points,
        reason,
        reference,
        txn_reference,
        _json(details),
        requested_by.pk,
        system_id,
        expiry_date_for(clock.business_date()),
        now,
    ]
    try:
        with _pg_posting_call(), connection.cursor() as cursor:
            if login is None:
                cursor.execute(_PG_ADJUSTMENT_CALL, params)
                status, txn_id, adjustment_id = cursor.fetchone()
            else:
                cursor.execute(_PG_ADJUSTMENT_TO_LOGIN_CALL, params)
                member_id, member_number, status, txn_id, adjustment_id = cursor.fetchone()
                if status == "member_unknown":
                    return None
    except DatabaseError as error:
        refusal = _pg_refusal(error)
        if refusal == "member_not_found":
            raise NotFound(_("会员不存在。"), code="member_not_found") from None
        if refusal == "reference_conflict":  # the reference waits for approval
            raise Conflict(_("该参考号已用于另一笔调整。"), code="reference_conflict") from None
        raise
    if status == "replay":
        adjustment = _adjustment_replayed(reference=reference, member_id=member_id, points=points)
        return adjustment if login is None else (adjustment, member_number)
    if status != "ok":
        raise AssertionError(f"jifen_adjustment_credit answered {status!r}")
    txn = _loaded(
        Transaction(
            pk=txn_id,
            kind=Kind.ADJUST,
            reference=txn_reference,
            member_id=member_id,
            explanation=reason,
            details=details,
            created_by_id=requested_by.pk,
            created_at=now,
        )
    )
    adjustment = _loaded(
        Adjustment(
            pk=adjustment_id,
            status=Adjustment.Status.APPLIED,
            transaction=txn,
            created_at=now,
            member_id=member_id,
            points=points,
            reason=reason,
            reference=reference,
            requested_by=requested_by,
        )
    )
    return adjustment if login is None else (adjustment, member_number)


@transaction.atomic
def _adjustment_request_general(
    *, member_id: int, points: int, reason: str, reference: str, requested_by
) -> Adjustment:
    """adjustment_request in one database transaction (arguments already validated)."""
    fields = {
        "member_id": member_id,
        "points": points,
        "reason": reason,
        "reference": reference,
        "requested_by": requested_by,
    }
    wallet_id = _wallet_id(member_id)
    if abs(points) <= settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD:
        # Applied at once: the posting claims the reference, then one insert records it.
        try:
            txn = _adjustment_post(
                member_id=member_id,
                wallet_id=wallet_id,
                points=points,
                reason=reason,
                reference=reference,
                applied_by_id=requested_by.pk,
            )
        except _AlreadyPosted:
            return _adjustment_replayed(reference=reference, member_id=member_id, points=points)
        try:
            return Adjustment.objects.create(
                status=Adjustment.Status.APPLIED, transaction=txn, **fields
            )
        except IntegrityError:
            # The reference belongs to an adjustment waiting for approval (nothing posted
            # yet, so the claim above succeeded): refuse; the whole posting rolls back.
            raise Conflict(_("该参考号已用于另一笔调整。"), code="reference_conflict") from None
    if points < 0 and Account.objects.filter(pk=wallet_id, available__lt=-points).exists():
        # Refused early as a courtesy; approval re-checks under the guarded update anyway.
        raise InsufficientPoints(_("会员可用积分不足以扣减。"))
    try:
        with transaction.atomic():
            return Adjustment.objects.create(status=Adjustment.Status.PENDING_APPROVAL, **fields)
    except IntegrityError:
        return _adjustment_replayed(reference=reference, member_id=member_id, points=points)


@transaction.atomic
def adjustment_decide(*, adjustment_id: int, approve: bool, decided_by) -> Adjustment:
    """A second operator approves (and so applies) or rejects a pending adjustment."""
    if not getattr(decided_by, "is_staff", False):
        raise PermissionDenied(_("只有运营人员可以审批。"))
    adjustment = Adjustment.objects.filter(pk=adjustment_id).first()
    if adjustment is None:
        raise NotFound(_("调整申请不存在。"), code="adjustment_not_found")
    if adjustment.requested_by_id == decided_by.pk:
        raise PermissionDenied(_("审批人不能是申请人。"), code="same_operator")
    status = Adjustment.Status.APPLIED if approve else Adjustment.Status.REJECTED
    if not Adjustment.objects.filter(
        pk=adjustment.pk, status=Adjustment.Status.PENDING_APPROVAL
    ).update(status=status, decided_by=decided_by, decided_at=timezone.now()):
        raise Conflict(_("该申请已处理。"), code="adjustment_already_decided")
    adjustment.refresh_from_db()
    if approve:
        adjustment.transaction = _adjustment_post(
            member_id=adjustment.member_id,
            wallet_id=_wallet_id(adjustment.member_id),
            points=adjustment.points,
            reason=adjustment.reason,
            reference=adjustment.reference,
            applied_by_id=decided_by.pk,
        )
        adjustment.save(update_fields=["transaction"])
    return adjustment


# --- reversal ---------------------------------------------------------------------------------


@transaction.atomic
def transaction_reverse(
    *,
    transaction_id: int,
    reference: str,
    reason: str = "",
    points: int | None = None,
    created_by_id: int | None = None,
    shortfall: str = "refuse",
) -> Transaction:
    """Undo a transaction, wholly or by `points`, with a new reversal transaction.

    Points a member received are taken back from the same lots; points a member gave up
    come back to the lots they left, with their original expiry. Partial reversals may
    repeat until the original is used up. Raises Conflict when `reference` was used for
    something else.

    When points to take back from an earn or an adjustment were spent meanwhile,
    `shortfall` decides: "refuse" raises InsufficientPoints (nothing changes); "debt" takes
    what the wallet has available (soonest-expiring first) and records the rest as debt,
    which later earnings repay; "available" takes what is available and forgives the rest.
    A wallet never goes negative under any policy.

    Locks the original transaction row before any wallet: callers must not hold wallet
    locks from an earlier posting in the same database transaction when calling this.
    """
    _validate_reference(reference)
    if shortfall not in ("refuse", "debt", "available"):
        raise ValidationFailed(_("未知的不足处理方式。"), code="invalid_shortfall")
    original = (
        Transaction.objects.select_for_update()  # serialises partial reversals
        .filter(pk=transaction_id)
        .first()
    )
    if original is None:
        raise NotFound(_("交易不存在。"), code="transaction_not_found")
    if original.kind not in REVERSIBLE_KINDS:
        raise ValidationFailed(_("此类交易不能冲正。"), code="not_reversible")
    same = {"reverses_id": original.pk}
    if points is not None:
        same["points"] = points
    existing = Transaction.objects.filter(reference=reference).first()
    if existing is not None:
        return _replayed(existing, kind=Kind.REVERSAL, member_id=original.member_id, **same)
    original_entries = list(original.entries.all())
    size = sum(e.amount for e in original_entries if e.amount > 0)
    already = sum(t.details.get("points", 0) for t in original.reversals.all())
    left = size - already
    if points is None:
        points = left
    if left <= 0 or validate_points(points) > left:
        raise ValidationFailed(
            _("冲正积分超过可冲正数额（%(left)s）。") % {"left": left},
            code="reversal_exceeds_original",
            fields={"points": left},
        )
    try:
        txn = _claim(
            kind=Kind.REVERSAL,
            reference=reference,
            member_id=original.member_id,
            counterparty_id=original.counterparty_id,
            explanation=reason,
            details={"points": points, "reverses": original.reference},
            reverses_id=original.pk,
            created_by_id=created_by_id,
        )
    except _AlreadyPosted as posted:
        return _replayed(posted.txn, kind=Kind.REVERSAL, member_id=original.member_id, **same)

    # Which lots the original moved, net of earlier reversals.
    lot_source = original
    if original.kind == Kind.CAPTURE:
        lot_source = Hold.objects.get(settle_transaction=original).hold_transaction
    net: dict[int, int] = defaultdict(int)
    for movement in LotMovement.objects.filter(
        Q(transaction=lot_source) | Q(transaction__reverses=original)
    ):
        net[movement.lot_id] += movement.amount
    lot_ids = [lot_id for lot_id, amount in net.items() if amount]
    # Lock order: the wallets (ascending id), then their lots, re-read under the lock so a
    # concurrent maturation or spend cannot leave us deciding on a stale status.
    account_ids = sorted(
        set(Lot.objects.filter(pk__in=lot_ids).values_list("account_id", flat=True))
    )
    list(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    lots = {lot.pk: lot for lot in Lot.objects.select_for_update().filter(pk__in=lot_ids)}

    posting = _Posting()
    moves: list[tuple[Lot, int]] = []
    short_by_account: dict[int, int] = {}
    # Wallet side, account by account.
    by_account: dict[int, list[Lot]] = defaultdict(list)
    for lot_id in lot_ids:
        by_account[lots[lot_id].account_id].append(lots[lot_id])
    for account_id, account_lots in by_account.items():
        received = net[account_lots[0].pk] > 0
        # Take back soonest-expiring first. A refund refills the latest-expiring lots
        # first (in the member's favour); a transfer's sender is refilled in the same
        # order the recipient gives back, so no points change their expiry.
        refill_latest_first = not received and original.kind != Kind.TRANSFER
        account_lots.sort(
            key=lambda lot: (lot.expires_on or dt.date.max, lot.pk), reverse=refill_latest_first
        )
        still = points
        for lot in account_lots:
            if still == 0:
                break
            amount = min(abs(net[lot.pk]), still)
            if received:  # only what is left in the lot (locked above) can come back
                amount = min(amount, lot.remaining)
                if amount == 0:
                    continue
            still -= amount
            delta = -amount if received else amount
            moves.append((lot, delta))
            bucket = Bucket.PENDING if lot.status == Lot.Status.PENDING else Bucket.AVAILABLE
            posting.add(account_id, bucket, delta, lot.member_id)
        if received and still:
            short_by_account[account_id] = still
    # A received posting whose lots never existed (an earn that only repaid debt) has no
    # lots to walk: its whole amount is short.
    if not by_account and original.kind in (Kind.EARN, Kind.ADJUST) and original.member_id:
        wallet = Account.objects.select_for_update().get(member_id=original.member_id)
        received_by_wallet = sum(e.amount for e in original_entries if e.member_id)
        if received_by_wallet > 0:
            short_by_account[wallet.pk] = points
    forgiven = debt = 0
    if short_by_account:
        if shortfall == "refuse" or original.kind not in (Kind.EARN, Kind.ADJUST):
            raise InsufficientPoints(_("积分已被使用，无法全部冲正。"))
        (account_id, short), *_rest = short_by_account.items()
        touched = {lot.pk for lot, _delta in moves}
        others = (
            Lot.objects.select_for_update()
            .filter(account_id=account_id, status=Lot.Status.AVAILABLE, remaining__gt=0)
            .exclude(pk__in=touched)
            .order_by(F("expires_on").asc(nulls_last=True), "pk")
        )
        for lot in others:
            take = min(lot.remaining, short)
            moves.append((lot, -take))
            posting.add(account_id, Bucket.AVAILABLE, -take, original.member_id)
            short -= take
            if short == 0:
                break
        if short and shortfall == "debt":
            debt = short
            posting.add(account_id, Bucket.DEBT, -short, original.member_id)
        else:
            forgiven = short
    # System side: undo proportionally (the original has at most one system entry); what
    # is forgiven stays issued.
    undone = points - forgiven
    for entry in original_entries:
        if entry.member_id is None:
            posting.add(entry.account_id, entry.bucket, -undone if entry.amount > 0 else undone)
    if debt or forgiven:
        txn.details = {**txn.details, "debt": debt, "forgiven": forgiven}
        Transaction.objects.filter(pk=txn.pk).update(details=txn.details)
    if forgiven == points:  # nothing left to take back: recorded, with no entries
        return txn
    posting.check_balanced()
    # Lock wallets before lots (the lock order), then move lots guarded by their CHECK.
    _write(txn, posting)
    try:
        with transaction.atomic():
            _move_lots(txn, moves)
    except IntegrityError:
        raise InsufficientPoints(_("积分已被使用，无法全部冲正。")) from None
    return txn


# --- periodic jobs: expiry and maturation -----------------------------------------------------


def _expire_due_lots(wallet_id: int, *, lock_first: tuple[int, ...] = ()) -> None:
    """Expire the wallet's lots past their date before it is debited ("expire on touch").

    Without this, points past their date could be spent until the periodic job runs. When
    the posting will lock other wallets too (`lock_first`), all of them are locked here in
    ascending id order first, so the lock order holds.
    """
    today = clock.business_date()
    if not Lot.objects.filter(
        account_id=wallet_id, status=Lot.Status.AVAILABLE, remaining__gt=0, expires_on__lt=today
    ).exists():
        return
    if lock_first:
        list(
            Account.objects.select_for_update()
            .filter(pk__in=lock_first)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    _expire_batch([wallet_id], today)


def points_expire(*, today: dt.date | None = None, batch_size: int = 500) -> int:
    """Expire the remainder of every available lot whose expiry date has passed.

    Set-based, in batches of wallets, each batch one database transaction: one expiry
    transaction per lot (reference `expire:lot:<id>:<day>`, so a rerun or a concurrent run posts
    nothing twice), one UPDATE for the lots and one for the wallets. Returns points expired.
    """
    today = today or clock.business_date()
    expired_total = 0
    last_account = 0
    while True:
        account_ids = list(
            Lot.objects.filter(
                status=Lot.Status.AVAILABLE,
                remaining__gt=0,
                expires_on__lt=today,
                account_id__gt=last_account,
            )
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch_size]
        )
        if not account_ids:
            return expired_total
        last_account = account_ids[-1]
        expired_total += _expire_batch(account_ids, today)


@transaction.atomic
def _expire_batch(account_ids: list[int], today: dt.date) -> int:
    # Lock order: wallets (ascending id), then their lots.
    list(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    lots = list(
        Lot.objects.select_for_update()
        .filter(
            account_id__in=account_ids,
            status=Lot.Status.AVAILABLE,
            remaining__gt=0,
            expires_on__lt=today,
        )
        .order_by("pk")
    )
    if not lots:
        return 0
    expiry_id = system_account_id(EXPIRY_ACCOUNT)
    existing = set(
        Transaction.objects.filter(
            reference__in=[f"expire:lot:{lot.pk}:{today}" for lot in lots]
        ).values_list("reference", flat=True)
    )
    # A lot refilled after its expiry (a refund of points spent from it) expires again on
    # a later day, under that day's reference.
    lots = [lot for lot in lots if f"expire:lot:{lot.pk}:{today}" not in existing]
    txns = Transaction.objects.bulk_create(
        [
            Transaction(
                kind=Kind.EXPIRE,
                reference=f"expire:lot:{lot.pk}:{today}",
                member_id=lot.member_id,
                explanation="",
                details={"lot": lot.pk, "expires_on": str(lot.expires_on)},
            )
            for lot in lots
        ]
    )
    if any(t.pk is None for t in txns):
        by_ref = {
            t.reference: t
            for t in Transaction.objects.filter(reference__in=[t.reference for t in txns])
        }
        txns = [by_ref[t.reference] for t in txns]
    entries, movements = [], []
    per_account: dict[int, int] = defaultdict(int)
    for lot, txn in zip(lots, txns, strict=True):
        entries.append(
            Entry(
                transaction=txn,
                account_id=lot.account_id,
                bucket=Bucket.AVAILABLE,
                amount=-lot.remaining,
                member_id=lot.member_id,
            )
        )
        entries.append(
            Entry(transaction=txn, account_id=expiry_id, bucket=Bucket.MAIN, amount=lot.remaining)
        )
        movements.append(LotMovement(transaction=txn, lot=lot, amount=-lot.remaining))
        per_account[lot.account_id] += lot.remaining
    Entry.objects.bulk_create(entries)
    LotMovement.objects.bulk_create(movements)
    Lot.objects.filter(pk__in=[lot.pk for lot in lots]).update(remaining=0)
    changed = Account.objects.filter(pk__in=list(per_account)).update(
        available=F("available")
        - Case(*[When(pk=a, then=Value(n)) for a, n in per_account.items()])
    )
    if changed != len(per_account):
        raise AssertionError("wallet vanished during expiry")
    return sum(per_account.values())


def points_mature(*, today: dt.date | None = None, batch_size: int = 500) -> int:
    """Make pending lots whose `available_on` has come available. Returns points matured."""
    today = today or clock.business_date()
    total = 0
    last_lot = 0
    while True:
        lot_ids = list(
            Lot.objects.filter(status=Lot.Status.PENDING, available_on__lte=today, pk__gt=last_lot)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not lot_ids:
            return total
        last_lot = lot_ids[-1]
        total += _mature_batch(lot_ids)


@transaction.atomic
def _mature_batch(lot_ids: list[int]) -> int:
    account_ids = sorted(
        set(Lot.objects.filter(pk__in=lot_ids).values_list("account_id", flat=True))
    )
    list(
        Account.objects.select_for_update()
        .filter(pk__in=account_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    lots = list(
        Lot.objects.select_for_update()
        .filter(pk__in=lot_ids, status=Lot.Status.PENDING)
        .order_by("pk")
    )
    total = 0
    matured = []
    for lot in lots:
        try:
            # One savepoint per lot: a wallet that fails its guard (which only a broken
            # invariant can cause) is logged and skipped instead of blocking the job.
            with transaction.atomic():
                if lot.remaining:
                    txn = _claim(
                        kind=Kind.MATURE,
                        reference=f"mature:lot:{lot.pk}",
                        member_id=lot.member_id,
                        details={"lot": lot.pk, "points": lot.remaining},
                    )
                    posting = _Posting()
                    posting.add(lot.account_id, Bucket.PENDING, -lot.remaining, lot.member_id)
                    posting.add(lot.account_id, Bucket.AVAILABLE, lot.remaining, lot.member_id)
                    _write(txn, posting)
                    total += lot.remaining
        except _AlreadyPosted:
            pass  # posted by an earlier run whose status update is what is missing
        except InsufficientPoints:
            logger.error(
                "lot %s: wallet %s cannot mature it; run verify-ledger", lot.pk, lot.account_id
            )
            continue
        matured.append(lot.pk)
    Lot.objects.filter(pk__in=matured).update(status=Lot.Status.AVAILABLE)
    return total


def balances_of(member_id: int) -> dict[str, int]:
    """The cached balances of a member's wallet."""
    row = Account.objects.filter(member_id=member_id).values("available", "pending", "held").first()
    if row is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    return row


def entries_total(account_id: int, bucket: str) -> int:
    return (
        Entry.objects.filter(account_id=account_id, bucket=bucket).aggregate(s=Sum("amount"))["s"]
        or 0
    )
