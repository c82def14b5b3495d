"""Tiers in the JSON API: the member's level and progress, the levels, operators' reviews.

Money leaves as decimal strings with the currency; multipliers and discounts as decimal
strings too ("1.25", "0.95" = 9.5 折). Dates are business days (YYYY-MM-DD).
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from jifen.core import clock
from jifen.core.errors import NotFound
from jifen.core.pagination import page_bounds
from jifen.members.api import ErrorOut, Text, local
from jifen.members.auth import member_auth, staff_auth
from jifen.members.models import User
from jifen.tiers import selectors, services
from jifen.tiers.models import TierChange

router = Router(tags=["tiers"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class LevelRef(Schema):
    code: str
    name: str
    rank: int


class BenefitsOut(Schema):
    earn_multiplier: str = Field(description="积分倍率，向下取整")
    mall_discount: str = Field(description="商城折扣：0.95 即 9.5 折；1.00 无折扣")
    extra_draws: int
    birthday_points: int
    free_shipping: bool
    exclusive_items: bool
    upgrade_boost_days: int
    upgrade_boost_multiplier: str


class LevelOut(LevelRef):
    min_points: int | None
    min_spend: str | None
    benefits: BenefitsOut


class LevelList(Schema):
    items: list[LevelOut]
    count: int
    currency: str
    window_months: int


class GapOut(Schema):
    current: str | int
    required: str | int
    remaining: str | int
    percent: int


class ProgressOut(Schema):
    points: GapOut | None
    spend: GapOut | None


class WindowOut(Schema):
    first_day: dt.date
    last_day: dt.date


class BoostOut(Schema):
    multiplier: str
    from_day: dt.date
    until: dt.date


class NoticeOut(Schema):
    review_on: dt.date
    level: str
    projected_level: str
    points_needed: int | None
    spend_needed: str | None
    created_at: dt.datetime


class TierOut(Schema):
    level: LevelRef
    since: dt.date | None
    review_on: dt.date | None = Field(description="下次评定日；基础等级为 null")
    window: WindowOut
    points_earned: int
    amount_spent: str | None = Field(description="null：暂无消费数据")
    currency: str
    next_level: LevelRef | None
    progress: ProgressOut
    benefits: BenefitsOut
    earn_multiplier_today: str = Field(description="今日积分倍率（含升级加速）")
    boost: BoostOut | None
    notice: NoticeOut | None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _gap(gap, money: bool) -> dict | None:
    if gap is None:
        return None
    fmt = _money if money else int
    return {
        "current": fmt(gap.current),
        "required": fmt(gap.required),
        "remaining": fmt(gap.remaining),
        "percent": gap.percent,
    }


def _ref(level) -> dict | None:
    if level is None:
        return None
    return {"code": level.code, "name": level.name, "rank": level.rank}


def benefits_out(benefits: selectors.Benefits) -> dict:
    return {
        "earn_multiplier": f"{benefits.earn_multiplier:.2f}",
        "mall_discount": f"{benefits.mall_discount:.2f}",
        "extra_draws": benefits.extra_draws,
        "birthday_points": benefits.birthday_points,
        "free_shipping": benefits.free_shipping,
        "exclusive_items": benefits.exclusive_items,
        "upgrade_boost_days": benefits.boost_days,
        "upgrade_boost_multiplier": f"{benefits.boost_multiplier:.2f}",
    }


def tier_out(member_id: int) -> dict:
    today = clock.business_date()
    progress = selectors.tier_progress(member_id, today)
    tier = progress.tier
    notice = progress.notice
    return {
        "level": _ref(tier),
        "since": tier.since,
        "review_on": tier.review_on,
        "window": {
            "first_day": progress.totals.window.first,
            "last_day": progress.totals.window.last,
        },
        "points_earned": progress.totals.points,
        "amount_spent": _money(progress.totals.spend),
        "currency": settings.JIFEN_CURRENCY,
        "next_level": _ref(progress.next_level),
        "progress": {
            "points": _gap(progress.points, money=False),
            "spend": _gap(progress.spend, money=True),
        },
        "benefits": benefits_out(tier.benefits),
        "earn_multiplier_today": f"{tier.benefits.earn_multiplier * tier.boost_on(today):.2f}",
        "boost": (
            {
                "multiplier": f"{tier.boost_multiplier:.2f}",
                "from_day": tier.boost_from,
                "until": tier.boost_until,
            }
            if progress.boost_active
            else None
        ),
        "notice": (
            {
                "review_on": notice.review_on,
                "level": notice.level_name,
                "projected_level": notice.projected_name,
                "points_needed": notice.points_needed,
                "spend_needed": _money(notice.spend_needed),
                "created_at": local(notice.created_at),
            }
            if notice
            else None
        ),
    }


@router.get("/me/tier", auth=member_auth, response={200: TierOut, **ERRORS})
def my_tier(request):
    """The member's level, progress to the next level, benefits and next re-evaluation date."""
    return Status(200, tier_out(request.user.pk))


@router.get("/tiers", response={200: LevelList})
def level_list(request):
    """The active levels, lowest first: what qualifies for each and what it gives."""
    items = [
        {
            **_ref(level),
            "min_points": level.min_points,
            "min_spend": _money(level.min_spend),
            "benefits": benefits_out(selectors.Benefits.of(level)),
        }
        for level in selectors.levels_active()
    ]
    return Status(
        200,
        {
            "items": items,
            "count": len(items),
            "currency": settings.JIFEN_CURRENCY,
            "window_months": selectors.window_months(),
        },
    )


class ChangeOut(Schema):
    id: int
    from_level: LevelRef | None
    to_level: LevelRef
    reason: str
    reason_label: str
    explanation: str
    points_earned: int
    amount_spent: str | None
    changed_by: str | None = Field(description="运营人员会员号；系统评定为 null")
    business_date: dt.date
    created_at: dt.datetime


class ChangeList(Schema):
    items: list[ChangeOut]
    count: int


def change_out(change: TierChange) -> dict:
    return {
        "id": change.pk,
        "from_level": _ref(change.from_level),
        "to_level": _ref(change.to_level),
        "reason": change.reason,
        "reason_label": change.get_reason_display(),
        "explanation": change.explanation,
        "points_earned": change.points_earned,
        "amount_spent": _money(change.amount_spent),
        "changed_by": change.changed_by.member_number if change.changed_by else None,
        "business_date": change.business_date,
        "created_at": local(change.created_at),
    }


def _changes(member_id: int, page: int, page_size: int) -> dict:
    offset, limit = page_bounds(page, page_size)
    changes = (
        TierChange.objects.select_related("from_level", "to_level", "changed_by")
        .filter(member_id=member_id)
        .order_by("-pk")
    )
    return {
        "items": [change_out(c) for c in changes[offset : offset + limit]],
        "count": changes.count(),
    }


@router.get("/me/tier/changes", auth=member_auth, response={200: ChangeList, **ERRORS})
def my_tier_changes(request, page: int = 1, page_size: int = 20):
    """The member's level changes, newest first."""
    return Status(200, _changes(request.user.pk, page, page_size))


# --- operators ----------------------------------------------------------------------------


def _member(member_number: str) -> User:
    member = (
        User.objects.filter(member_number=member_number).first()
        if member_number.isdigit()
        else None
    )
    if member is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    return member


class MemberTierOut(TierOut):
    member_number: str
    changes: list[ChangeOut]


@router.get(
    "/admin/members/{member_number}/tier", auth=staff_auth, response={200: MemberTierOut, **ERRORS}
)
def member_tier(request, member_number: str):
    """A member's level and progress, with the latest level changes."""
    member = _member(member_number)
    return Status(
        200,
        {
            **tier_out(member.pk),
            "member_number": member.member_number,
            "changes": _changes(member.pk, 1, 20)["items"],
        },
    )


class ReviewOut(Schema):
    changed: bool
    level: LevelRef
    change: ChangeOut | None


def _review_result(member: User, change: TierChange | None) -> dict:
    return {
        "changed": change is not None,
        "level": _ref(selectors.member_tier(member.pk)),
        "change": change_out(change) if change else None,
    }


@router.post(
    "/admin/members/{member_number}/tier/review",
    auth=staff_auth,
    response={200: ReviewOut, **ERRORS},
)
def member_tier_review(request, member_number: str):
    """Re-evaluate the member now: up to the qualified level, or down by the policy."""
    member = _member(member_number)
    change = services.tier_review(member_id=member.pk, manual=True, changed_by_id=request.user.pk)
    return Status(200, _review_result(member, change))


class TierSetIn(Schema):
    model_config = ConfigDict(extra="forbid")

    level: Text = Field(max_length=32)
    reason: Text = Field(max_length=500)


@router.put(
    "/admin/members/{member_number}/tier", auth=staff_auth, response={200: ReviewOut, **ERRORS}
)
def member_tier_set(request, member_number: str, payload: TierSetIn):
    """Put the member on a level, with a reason. Setting the current level changes nothing."""
    member = _member(member_number)
    change = services.tier_set(
        member_id=member.pk,
        level_code=payload.level,
        reason=payload.reason,
        changed_by_id=request.user.pk,
    )
    return Status(200, _review_result(member, change))
