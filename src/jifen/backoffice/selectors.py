"""Reads for the back-office: the dashboard's figures and the lookups the admin pages share.

Every figure is one set-based query. Daily series group by the business day
(settings.TIME_ZONE) of the transaction, so a posting at 23:30 in Shanghai counts on that
Shanghai day even though it is 15:30 UTC.

Definitions, all from the books (so they agree with `verify_ledger`'s I3):
- outstanding (the liability) = Σ wallets' available + pending + held;
- issued  = −Σ entries on issuance accounts (net of reversals and negative adjustments);
- spent   = +Σ entries on redemption accounts (net of refunds);
- expired = +Σ entries on the expiry account.
Over any window, the change in outstanding points = issued − spent − expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from jifen.core import clock
from jifen.ledger.models import Account, Adjustment, Entry
from jifen.members.models import User
from jifen.members.selectors import normalize_phone

SERIES_KINDS = ("issued", "spent", "expired")
# The account kind behind each series and the sign that makes the figure positive.
_SERIES_ACCOUNTS = {
    Account.Kind.ISSUANCE: ("issued", -1),
    Account.Kind.REDEMPTION: ("spent", 1),
    Account.Kind.EXPIRY: ("expired", 1),
}


@dataclass
class Liability:
    available: int
    pending: int
    held: int
    points: int
    value: Decimal
    currency: str


@dataclass
class DailySeries:
    days: list[dt.date]
    issued: list[int]
    spent: list[int]
    expired: list[int]
    totals: dict[str, int] = field(default_factory=dict)


def point_value() -> Decimal:
    """What one point is worth in settings.JIFEN_CURRENCY (a Decimal, never a float)."""
    return Decimal(str(settings.JIFEN_POINT_VALUE))


def points_liability() -> Liability:
    """Points the company owes its members, and their value in currency (to the cent)."""
    row = Account.objects.filter(kind=Account.Kind.WALLET).aggregate(
        available=Sum("available"), pending=Sum("pending"), held=Sum("held")
    )
    available, pending, held = (row[k] or 0 for k in ("available", "pending", "held"))
    points = available + pending + held
    value = (Decimal(points) * point_value()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Liability(
        available=available,
        pending=pending,
        held=held,
        points=points,
        value=value,
        currency=settings.JIFEN_CURRENCY,
    )


def business_days(*, days: int, today: dt.date | None = None) -> list[dt.date]:
    """The last `days` business days, oldest first, ending today."""
    today = today or clock.business_date()
    return [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def points_daily(*, days: int = 30, today: dt.date | None = None) -> DailySeries:
    """Points issued, spent and expired per business day over the last `days` days.

    One GROUP BY (business day, account kind) over the window's entries on system accounts;
    days without postings are zeros.
    """
    window = business_days(days=days, today=today)
    start = clock.start_of_business_day(window[0])
    end = clock.start_of_business_day(window[-1] + dt.timedelta(days=1))
    rows = (
        Entry.objects.filter(
            transaction__created_at__gte=start,
            transaction__created_at__lt=end,
            account__kind__in=list(_SERIES_ACCOUNTS),
        )
        .annotate(day=TruncDate("transaction__created_at", tzinfo=clock.business_tz()))
        .values("day", "account__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    by_day: dict[str, dict[dt.date, int]] = {name: {} for name in SERIES_KINDS}
    for row in rows:
        name, sign = _SERIES_ACCOUNTS[row["account__kind"]]
        day = row["day"]
        by_day[name][day] = by_day[name].get(day, 0) + sign * (row["total"] or 0)
    series = {name: [by_day[name].get(day, 0) for day in window] for name in SERIES_KINDS}
    return DailySeries(
        days=window,
        **series,
        totals={name: sum(values) for name, values in series.items()},
    )


def members_count() -> dict[str, int]:
    """Members (users who are not operators): all, active, and joined in the last 30 days."""
    since = clock.start_of_business_day(clock.business_date() - dt.timedelta(days=29))
    members = User.objects.filter(is_staff=False)
    return members.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(is_active=True, closed_at__isnull=True)),
        new_30d=Count("pk", filter=Q(date_joined__gte=since)),
    )


def adjustments_pending_count() -> int:
    """Adjustments waiting for a second operator's approval."""
    return Adjustment.objects.filter(status=Adjustment.Status.PENDING_APPROVAL).count()


def member_ids_matching(term: str) -> list[int]:
    """Ids of the users a back-office search term names: member number, phone or e-mail.

    Exact matches only, so each lookup uses a unique index however large the table.
    """
    term = (term or "").strip()
    if not term:
        return []
    if "@" in term:
        query = Q(email__iexact=term)
    else:
        phone = normalize_phone(term)
        query = Q(member_number=phone) | Q(phone=phone)
    return list(User.objects.filter(query).values_list("pk", flat=True)[:20])
