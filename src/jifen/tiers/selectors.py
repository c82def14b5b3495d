"""Reads of tiers: a member's level and benefits, what qualifies them, their progress.

Other apps call these (positional arguments are accepted where they are the app's hooks):
- `member_tier(member_id) -> TierInfo`: code, name, rank and benefits of the current level;
- `member_earn_multiplier(member_id, on_date) -> Decimal`: the level's multiplier times the
  upgrade acceleration in force on that day. Callers round the product down to whole points
  (`multiply_points`);
- `member_tier_name(member_id, on_date) -> str`: for explanations;
- `member_mall_discount(member_id) -> Decimal` (0.95 = 9.5 折), `member_free_shipping`,
  `member_extra_draws`, `member_meets_level(member_id, level_code)` (exclusive items).

A member without a MemberTier row (never evaluated) is on the base level: the active level
with the lowest rank.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.apps import apps
from django.conf import settings
from django.db.models import BigIntegerField, DecimalField, F, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.ledger.models import Transaction
from jifen.tiers.models import Level, MemberTier, TierChange, TierNotice

# Points the tiers app gives itself (the birthday gift) do not count towards a level:
# otherwise a level would help keep itself.
NON_QUALIFYING_SOURCES = ("tier_birthday",)
BIRTHDAY_SOURCE = "tier_birthday"
DOWNGRADE_POLICIES = ("one_level", "qualified")
ZERO_MONEY = Decimal("0.00")


# --- settings -----------------------------------------------------------------------------------


def window_months() -> int:
    """Length of the rolling qualification window in months (JIFEN_TIER_WINDOW_MONTHS)."""
    return int(getattr(settings, "JIFEN_TIER_WINDOW_MONTHS", 12))


def review_months() -> int:
    """Months from reaching a level to its re-evaluation (JIFEN_TIER_REVIEW_MONTHS)."""
    return int(getattr(settings, "JIFEN_TIER_REVIEW_MONTHS", 12))


def notice_days() -> int:
    """Days before the re-evaluation that a coming downgrade is announced."""
    return int(getattr(settings, "JIFEN_TIER_NOTICE_DAYS", 30))


def downgrade_policy() -> str:
    """ "one_level": at most one level down per review; "qualified": to the level qualified."""
    policy = getattr(settings, "JIFEN_TIER_DOWNGRADE_POLICY", "one_level")
    if policy not in DOWNGRADE_POLICIES:
        raise ValueError(f"unknown JIFEN_TIER_DOWNGRADE_POLICY {policy!r}")
    return policy


# --- dates --------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clamped to the month's last day."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


@dataclass(frozen=True)
class Window:
    """Business days `first`..`last`, both included."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        return clock.start_of_business_day(self.first)

    @property
    def end(self) -> dt.datetime:  # exclusive
        return clock.start_of_business_day(self.last + dt.timedelta(days=1))


def window_ending(last: dt.date, months: int | None = None) -> Window:
    """The rolling window of `months` (default: the setting) whose last business day is `last`.

    12 months ending 2026-11-23 run from 2025-11-24 00:00 to 2026-11-23 24:00, business time.
    """
    months = window_months() if months is None else months
    return Window(add_months(last, -months) + dt.timedelta(days=1), last)


# --- levels -------------------------------------------------------------------------------------


def levels_active() -> list[Level]:
    """Active levels, lowest rank first. The first is the base level."""
    return list(Level.objects.filter(is_active=True).order_by("rank"))


def base_level() -> Level:
    """The lowest-ranked active level; with none configured, an unsaved neutral level
    (multiplier 1, no discount, no benefits), so callers in other apps never fail."""
    level = Level.objects.filter(is_active=True).order_by("rank").first()
    return level if level is not None else Level(code="normal", name=_("普通"), rank=0)


@dataclass(frozen=True)
class Benefits:
    earn_multiplier: Decimal
    mall_discount: Decimal
    extra_draws: int
    birthday_points: int
    free_shipping: bool
    exclusive_items: bool
    boost_days: int
    boost_multiplier: Decimal

    @classmethod
    def of(cls, level: Level) -> Benefits:
        return cls(
            earn_multiplier=level.earn_multiplier,
            mall_discount=level.mall_discount,
            extra_draws=level.extra_draws,
            birthday_points=level.birthday_points,
            free_shipping=level.free_shipping,
            exclusive_items=level.exclusive_items,
            boost_days=level.boost_days,
            boost_multiplier=level.boost_multiplier,
        )


@dataclass(frozen=True)
class TierInfo:
    code: str
    name: str
    rank: int
    style: str
    benefits: Benefits
    since: dt.date | None  # None: never evaluated, on the base level by default
    review_on: dt.date | None
    boost_from: dt.date | None
    boost_until: dt.date | None
    boost_multiplier: Decimal
    level_id: int

    def boost_on(self, day: dt.date) -> Decimal:
        """The upgrade acceleration factor in force on `day` (1 outside the window)."""
        if self.boost_from and self.boost_until and self.boost_from <= day <= self.boost_until:
            return self.boost_multiplier
        return Decimal(1)


def _info(level: Level, row: MemberTier | None) -> TierInfo:
    return TierInfo(
        code=level.code,
        name=level.name,
        rank=level.rank,
        style=level.style,
        benefits=Benefits.of(level),
        since=row.since if row else None,
        review_on=row.review_on if row else None,
        boost_from=row.boost_from if row else None,
        boost_until=row.boost_until if row else None,
        boost_multiplier=row.boost_multiplier if row else Decimal(1),
        level_id=level.pk,
    )


def member_tier(member_id: int) -> TierInfo:
    """The member's current level and its benefits (the base level if never evaluated)."""
    row = MemberTier.objects.select_related("level").filter(member_id=member_id).first()
    return _info(row.level if row else base_level(), row)


def member_earn_multiplier(member_id: int, on_date: dt.date | None = None) -> Decimal:
    """Level multiplier × upgrade acceleration on `on_date` (default today). One query.

    Apply it with `multiply_points`, which rounds down.
    """
    on_date = on_date or clock.business_date()
    row = (
        MemberTier.objects.filter(member_id=member_id)
        .values("level__earn_multiplier", "boost_from", "boost_until", "boost_multiplier")
        .first()
    )
    if row is None:
        return base_level().earn_multiplier
    multiplier = row["level__earn_multiplier"]
    if row["boost_from"] and row["boost_until"] and row["boost_from"] <= on_date:
        if on_date <= row["boost_until"]:
            multiplier *= row["boost_multiplier"]
    return multiplier


def member_tier_name(member_id: int, on_date: dt.date | None = None) -> str:
    """The level's name, for explanations ("金卡")."""
    return member_tier(member_id).name


def multiply_points(points: int, multiplier: Decimal) -> int:
    """Whole points after a multiplier, rounded down (DESIGN.md: multipliers round down)."""
    return int((Decimal(points) * Decimal(multiplier)).to_integral_value(rounding=ROUND_FLOOR))


def member_mall_discount(member_id: int) -> Decimal:
    """The mall price factor: Decimal("0.95") is 9.5 折; 1 is no discount."""
    return member_tier(member_id).benefits.mall_discount


def member_free_shipping(member_id: int) -> bool:
    return member_tier(member_id).benefits.free_shipping


def member_extra_draws(member_id: int) -> int:
    """Extra lottery draws a day that the level grants."""
    return member_tier(member_id).benefits.extra_draws


def member_meets_level(member_id: int, level_code: str) -> bool:
    """Whether the member's level ranks at or above `level_code` (items reserved for a level).

    An unknown level code is met by no one, so a typo never opens an item to everybody.
    """
    required = Level.objects.filter(code=level_code).values_list("rank", flat=True).first()
    if required is None:
        return False
    return member_tier(member_id).rank >= required


def member_exclusive_items(member_id: int) -> bool:
    """Whether the member's level may redeem items marked exclusive."""
    return member_tier(member_id).benefits.exclusive_items


# --- what qualifies a member ------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """What the member did in `window`: points earned (net of reversals) and amount spent.

    `spend` is None when no spend data exists (the integrations app has no purchases yet).
    """

    window: Window
    points: int
    spend: Decimal | None


def _points_sum(queryset) -> int:
    total = queryset.aggregate(s=Sum(Cast(KT("details__points"), BigIntegerField())))["s"]
    return int(total or 0)


def points_earned(member_id: int, window: Window) -> int:
    """Points of the member's earn postings made in `window`, less what was reversed of them.

    A reversal counts against the window of the earning it undoes, whenever it happens, so
    a refunded purchase never keeps a level. Earn postings only: adjustments, transfers
    and refunds of spent points are not earnings. Two aggregate queries.
    """
    earns = Transaction.objects.filter(
        member_id=member_id,
        kind=Transaction.Kind.EARN,
        created_at__gte=window.start,
        created_at__lt=window.end,
    ).exclude(details__source__in=NON_QUALIFYING_SOURCES)
    reversals = Transaction.objects.filter(
        member_id=member_id,
        kind=Transaction.Kind.REVERSAL,
        reverses__kind=Transaction.Kind.EARN,
        reverses__created_at__gte=window.start,
        reverses__created_at__lt=window.end,
    ).exclude(reverses__details__source__in=NON_QUALIFYING_SOURCES)
    return max(_points_sum(earns) - _points_sum(reversals), 0)


def purchase_model():
    """The integrations app's Purchase model, or None while it does not exist."""
    try:
        model = apps.get_model("integrations", "Purchase")
    except LookupError:
        return None
    names = {f.name for f in model._meta.get_fields()}
    if not {"member", "amount", "occurred_at"} <= names:
        return None
    return model


def amount_spent(member_id: int, window: Window) -> Decimal | None:
    """The member's purchases in `window` less what was refunded of them (None: no data)."""
    model = purchase_model()
    if model is None:
        return None
    money = DecimalField(max_digits=16, decimal_places=2)
    has_refunds = any(f.name == "refunded_amount" for f in model._meta.get_fields())
    net = F("amount") - Coalesce(F("refunded_amount"), Value(0), output_field=money)
    total = model.objects.filter(
        member_id=member_id, occurred_at__gte=window.start, occurred_at__lt=window.end
    ).aggregate(s=Sum(net if has_refunds else F("amount"), output_field=money))["s"]
    return max(Decimal(total or 0), ZERO_MONEY).quantize(Decimal("0.01"))


def qualification_totals(member_id: int, window: Window, *, with_spend: bool = True) -> Totals:
    return Totals(
        window=window,
        points=points_earned(member_id, window),
        spend=amount_spent(member_id, window) if with_spend else None,
    )


def level_qualifies(level: Level, totals: Totals) -> bool:
    """Either threshold that is set is met (>=). A level with none is not reached this way."""
    if level.min_points is not None and totals.points >= level.min_points:
        return True
    return (
        level.min_spend is not None and totals.spend is not None and totals.spend >= level.min_spend
    )


def qualified_level(levels: list[Level], totals: Totals) -> Level:
    """The highest-ranked active level the totals reach; the base level (levels[0]) at least."""
    for level in reversed(levels[1:]):
        if level_qualifies(level, totals):
            return level
    return levels[0]


def review_target(levels: list[Level], current: Level, qualified: Level) -> Level:
    """The level a review leaves the member on, under the downgrade policy.

    Qualified at or above the current level: the qualified level. Below: "qualified" drops to
    it; "one_level" drops to the next active level below the current one, never below the
    qualified level.
    """
    if qualified.rank >= current.rank:
        return qualified
    if downgrade_policy() == "qualified":
        return qualified
    # The qualified level is among those below, so one level down never goes below it.
    return [level for level in levels if level.rank < current.rank][-1]


# --- the member's page and API ------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Progress on one basis towards a level: where the member is, the threshold, what's left."""

    current: int | Decimal
    required: int | Decimal
    remaining: int | Decimal
    percent: int  # 0..100, rounded down


def _gap(current, required) -> Gap:
    remaining = max(required - current, 0)
    percent = 100 if current >= required else int(current * 100 // required)
    return Gap(current=current, required=required, remaining=remaining, percent=percent)


@dataclass(frozen=True)
class NoticeView:
    review_on: dt.date
    level_name: str
    projected_name: str
    points_needed: int | None
    spend_needed: Decimal | None
    created_at: dt.datetime


@dataclass(frozen=True)
class Progress:
    tier: TierInfo
    totals: Totals
    next_level: Level | None
    points: Gap | None
    spend: Gap | None
    boost_active: bool
    notice: NoticeView | None
    levels: list[Level]


def keep_gaps(level: Level, totals: Totals) -> tuple[int | None, Decimal | None]:
    """What is still missing to qualify for `level` on each basis it has (None: no basis)."""
    points = max(level.min_points - totals.points, 0) if level.min_points is not None else None
    spend = None
    if level.min_spend is not None and totals.spend is not None:
        spend = max(level.min_spend - totals.spend, ZERO_MONEY)
    return points, spend


def tier_progress(member_id: int, today: dt.date | None = None) -> Progress:
    """The member's level, progress to the next level in the window ending today, and the
    pending downgrade notice, if the member still falls short of keeping the level."""
    today = today or clock.business_date()
    tier = member_tier(member_id)
    levels = levels_active()
    higher = [level for level in levels if level.rank > tier.rank]
    next_level = higher[0] if higher else None
    totals = qualification_totals(member_id, window_ending(today))
    points = spend = None
    if next_level is not None:
        if next_level.min_points is not None:
            points = _gap(totals.points, next_level.min_points)
        if next_level.min_spend is not None and totals.spend is not None:
            spend = _gap(totals.spend, next_level.min_spend)
    notice = None
    if tier.review_on is not None and tier.review_on >= today:
        row = (
            TierNotice.objects.select_related("level", "projected_level")
            .filter(member_id=member_id, review_on=tier.review_on)
            .first()
        )
        if row is not None:
            notice = _live_notice(row, member_id, levels)
    return Progress(
        tier=tier,
        totals=totals,
        next_level=next_level,
        points=points,
        spend=spend,
        boost_active=tier.boost_on(today) != 1,
        notice=notice,
        levels=levels,
    )


def _live_notice(row: TierNotice, member_id: int, levels: list[Level]) -> NoticeView | None:
    """The notice with what is missing now; None once the member qualifies to keep the level."""
    totals = qualification_totals(member_id, window_ending(row.review_on))
    current = row.level
    target = review_target(levels, current, qualified_level(levels, totals))
    if target.rank >= current.rank:
        return None
    points, spend = keep_gaps(current, totals)
    return NoticeView(
        review_on=row.review_on,
        level_name=current.name,
        projected_name=target.name,
        points_needed=points,
        spend_needed=spend,
        created_at=row.created_at,
    )


def tier_history(member_id: int, *, limit: int = 20) -> list[TierChange]:
    """The member's level changes, newest first."""
    return list(
        TierChange.objects.select_related("from_level", "to_level")
        .filter(member_id=member_id)
        .order_by("-pk")[:limit]
    )
