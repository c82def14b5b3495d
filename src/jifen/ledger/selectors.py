"""Reads of the ledger for members, the API and the back-office."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Sum
from django.utils.translation import gettext as _

from jifen.core.errors import NotFound, ValidationFailed
from jifen.core.pagination import page_bounds
from jifen.ledger.models import Account, Bucket, Entry, Lot, Transaction

Kind = Transaction.Kind

# What a member sees: public kinds (API.md) and the ledger kinds behind them.
PUBLIC_KINDS: dict[str, list[str]] = {
    "earn": [Kind.EARN],
    "spend": [Kind.SPEND, Kind.HOLD, Kind.CAPTURE],
    "expire": [Kind.EXPIRE],
    "transfer": [Kind.TRANSFER],
    "adjust": [Kind.ADJUST],
    "refund": [Kind.REVERSAL, Kind.RELEASE],
}
PUBLIC_KIND_OF = {kind: public for public, kinds in PUBLIC_KINDS.items() for kind in kinds}


# The wallet and its soonest expiry on the spend-order index (account, status, expires_on,
# id): the aggregate reads the lots of the soonest date only.
_PG_SUMMARY = """
SELECT a.available, a.pending, a.held, a.debt, x.expires_on, x.points
FROM ledger_account a
LEFT JOIN LATERAL (
  SELECT expires_on, SUM(remaining) AS points FROM ledger_lot
  WHERE account_id = a.id AND status = 'available' AND remaining > 0
    AND expires_on IS NOT NULL
  GROUP BY expires_on ORDER BY expires_on LIMIT 1
) x ON true
WHERE a.member_id = %s::bigint
"""


def points_summary(*, member_id: int) -> dict:
    """Balances, debt and the next expiry: {"available", "pending", "held", "debt", "next_expiry"}.

    `next_expiry` is the soonest expiry date among available lots with points left and the
    points that expire on it, or None. One statement on PostgreSQL (it answers every
    transfer and `GET /me/points`), two elsewhere.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_SUMMARY, [member_id])
            row = cursor.fetchone()
        if row is None:
            raise NotFound(_("会员不存在。"), code="member_not_found")
        available, pending, held, debt, expires_on, points = row
        return {
            "available": available,
            "pending": pending,
            "held": held,
            "debt": debt,
            "next_expiry": {"points": points, "date": expires_on} if expires_on else None,
        }
    wallet = (
        Account.objects.filter(member_id=member_id)
        .values("pk", "available", "pending", "held", "debt")
        .first()
    )
    if wallet is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    # One statement on the wallet's spend-order index (account, status, expires_on, id).
    soonest = (
        Lot.objects.filter(
            account_id=wallet.pop("pk"),
            status=Lot.Status.AVAILABLE,
            remaining__gt=0,
            expires_on__isnull=False,
        )
        .values("expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("expires_on")
        .first()
    )
    next_expiry = None
    if soonest is not None:
        next_expiry = {"points": soonest["points"], "date": soonest["expires_on"]}
    return {**wallet, "next_expiry": next_expiry}


@dataclass
class HistoryRow:
    transaction_id: int
    kind: str  # public kind
    points: int  # signed change to what the member holds (available + pending)
    title: str
    explanation: str
    created_at: dt.datetime
    reference: str


def transaction_title(
    txn: Transaction, *, member_id: int, points: int, names: dict[int, str] | None = None
) -> str:
    """A short, translated title of a transaction as the member sees it.

    `names` maps member ids to display names for transfers (looked up when absent).
    """
    if txn.kind == Kind.TRANSFER:
        incoming = points > 0
        other_id = txn.member_id if incoming else txn.counterparty_id
        other = (names or _display_names([other_id])).get(other_id, "—")
        return (_("收到 %(name)s 的转赠") if incoming else _("转赠给 %(name)s")) % {"name": other}
    titles = {
        Kind.EARN: _("获得积分"),
        Kind.SPEND: _("积分兑换"),
        Kind.HOLD: _("积分冻结"),
        Kind.CAPTURE: _("积分扣除"),
        Kind.RELEASE: _("冻结积分退回"),
        Kind.ADJUST: _("积分调整"),
        Kind.EXPIRE: _("积分过期"),
        Kind.MATURE: _("积分生效"),
        Kind.REVERSAL: _("积分退回"),
    }
    return titles.get(txn.kind, txn.kind)


def transaction_explanation(txn: Transaction) -> str:
    """The posting's own words, or a generated one where the ledger wrote it itself."""
    if txn.kind == Kind.EXPIRE:
        return _("%(date)s 到期的积分") % {"date": txn.details.get("expires_on", "")}
    if txn.kind == Kind.TRANSFER:
        note = txn.details.get("note") or ""
        return _("留言：%(note)s") % {"note": note} if note else ""
    if txn.kind == Kind.REVERSAL and not txn.explanation:
        return _("原交易 %(ref)s") % {"ref": txn.details.get("reverses", "")}
    return txn.explanation


def _display_names(member_ids) -> dict[int, str]:
    from jifen.members.models import User

    users = User.objects.filter(pk__in=[i for i in member_ids if i]).only(
        "name", "phone", "email", "member_number"
    )
    return {user.pk: user.display_name for user in users}


def points_history(
    *, member_id: int, kind: str | None = None, page: int = 1, page_size: int = 20
) -> tuple[list[HistoryRow], int]:
    """The member's postings, newest first, as (rows, total count).

    One row per transaction with its net change to available + pending points (and debt);
    that change neither (a capture of held points, pending points maturing) are left out.
    """
    offset, limit = page_bounds(page, page_size)
    entries = Entry.objects.filter(
        member_id=member_id, bucket__in=[Bucket.AVAILABLE, Bucket.PENDING, Bucket.DEBT]
    )
    if kind:
        if kind not in PUBLIC_KINDS:
            raise ValidationFailed(
                _("未知的类型。"), code="invalid_kind", fields={"kind": sorted(PUBLIC_KINDS)}
            )
        entries = entries.filter(transaction__kind__in=PUBLIC_KINDS[kind])
    grouped = (
        entries.values("transaction_id")
        .annotate(points=Sum("amount"))
        .exclude(points=0)
        .order_by("-transaction_id")
    )
    count = grouped.count()
    page_rows = list(grouped[offset : offset + limit])
    txns = Transaction.objects.in_bulk([row["transaction_id"] for row in page_rows])
    names = _display_names(
        {
            member
            for txn in txns.values()
            if txn.kind == Kind.TRANSFER
            for member in (txn.member_id, txn.counterparty_id)
        }
    )
    rows = []
    for row in page_rows:
        txn = txns[row["transaction_id"]]
        rows.append(
            HistoryRow(
                transaction_id=txn.pk,
                kind=PUBLIC_KIND_OF.get(txn.kind, txn.kind),
                points=row["points"],
                title=transaction_title(
                    txn, member_id=member_id, points=row["points"], names=names
                ),
                explanation=transaction_explanation(txn),
                created_at=txn.created_at,
                reference=txn.reference,
            )
        )
    return rows, count
