"""What other apps read: level, multiplier with acceleration, discount, shipping, access."""

import datetime as dt
from decimal import Decimal

import pytest

from jifen.core import clock
from jifen.tiers import selectors
from jifen.tiers.models import Level, MemberTier
from jifen.tiers.selectors import (
    member_earn_multiplier,
    member_exclusive_items,
    member_extra_draws,
    member_free_shipping,
    member_mall_discount,
    member_meets_level,
    member_tier,
    member_tier_name,
    multiply_points,
)
from jifen.tiers.services import tier_evaluate
from jifen.tiers.tests.helpers import earn, put_on

pytestmark = pytest.mark.django_db


def test_a_member_never_evaluated_is_on_the_base_level(member):
    info = member_tier(member.pk)

    assert (info.code, info.name, info.rank, info.since, info.review_on) == (
        "normal",
        "普通",
        0,
        None,
        None,
    )
    assert member_earn_multiplier(member.pk, clock.business_date()) == Decimal("1.00")
    assert member_mall_discount(member.pk) == Decimal("1.00")
    assert member_free_shipping(member.pk) is False
    assert MemberTier.objects.count() == 0  # reading writes nothing


def test_benefits_of_each_level(member):
    put_on(member, "silver")
    assert member_mall_discount(member.pk) == Decimal("0.95")
    assert (member_free_shipping(member.pk), member_extra_draws(member.pk)) == (False, 1)

    put_on(member, "diamond")
    assert member_mall_discount(member.pk) == Decimal("0.85")
    assert (member_free_shipping(member.pk), member_extra_draws(member.pk)) == (True, 5)
    assert member_exclusive_items(member.pk) is True
    assert member_tier_name(member.pk, clock.business_date()) == "钻石"


def test_acceleration_applies_only_inside_its_window(member):
    today = clock.business_date()
    earn(member, 8000)
    tier_evaluate(member_id=member.pk)  # gold: 1.25, then ×2 for 7 days

    assert member_earn_multiplier(member.pk, today - dt.timedelta(days=1)) == Decimal("1.25")
    assert member_earn_multiplier(member.pk, today) == Decimal("2.50")
    assert member_earn_multiplier(member.pk, today + dt.timedelta(days=6)) == Decimal("2.50")
    assert member_earn_multiplier(member.pk, today + dt.timedelta(days=7)) == Decimal("1.25")


def test_the_multiplier_is_one_query(member, django_assert_num_queries):
    put_on(member, "gold")

    with django_assert_num_queries(1):
        member_earn_multiplier(member.pk, clock.business_date())


def test_multiplied_points_round_down():
    assert multiply_points(99, Decimal("1.25")) == 123  # 123.75
    assert multiply_points(1, Decimal("1.10")) == 1
    assert multiply_points(10, Decimal("2.50")) == 25
    assert multiply_points(0, Decimal("1.50")) == 0


def test_level_requirements_for_exclusive_items(member):
    put_on(member, "gold")

    assert member_meets_level(member.pk, "silver") is True
    assert member_meets_level(member.pk, "gold") is True
    assert member_meets_level(member.pk, "diamond") is False
    assert member_meets_level(member.pk, "no-such-level") is False


def test_without_any_level_configured_other_apps_still_get_neutral_answers(member):
    Level.objects.update(is_active=False)

    assert member_earn_multiplier(member.pk, clock.business_date()) == Decimal(1)
    assert member_mall_discount(member.pk) == Decimal(1)
    assert tier_evaluate(member_id=member.pk) is None


def test_progress_shows_both_bases_towards_the_next_level(member):
    earn(member, 500)

    progress = selectors.tier_progress(member.pk)

    assert progress.next_level.code == "silver"
    assert (progress.points.current, progress.points.remaining, progress.points.percent) == (
        500,
        1500,
        25,
    )
    assert progress.spend.required == Decimal("2000.00")
    assert progress.notice is None
