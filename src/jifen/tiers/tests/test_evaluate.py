"""tier_evaluate: upgrades at once, exactly at the thresholds, never twice, never down."""

import datetime as dt
from decimal import Decimal

import pytest

from jifen.core import clock
from jifen.core.errors import NotFound
from jifen.ledger.services import adjustment_request, transaction_reverse
from jifen.tiers import selectors
from jifen.tiers.models import MemberTier, TierChange
from jifen.tiers.services import tier_evaluate
from jifen.tiers.tests.helpers import earn, level, put_on

pytestmark = pytest.mark.django_db


def test_one_point_short_of_silver_stays_on_the_base_level(member):
    earn(member, 1999)

    assert tier_evaluate(member_id=member.pk) is None

    row = MemberTier.objects.get(member=member)
    assert (row.level.code, row.review_on) == ("normal", None)
    assert TierChange.objects.count() == 0


def test_reaching_the_threshold_exactly_upgrades_at_once(member):
    today = clock.business_date()
    earn(member, 1999)
    earn(member, 1)

    change = tier_evaluate(member_id=member.pk)

    assert change.from_level.code == "normal"
    assert change.to_level.code == "silver"
    assert change.reason == TierChange.Reason.UPGRADE
    assert change.points_earned == 2000
    assert change.changed_by is None
    assert change.business_date == today
    row = MemberTier.objects.get(member=member)
    assert row.level.code == "silver"
    assert row.since == today
    assert row.review_on == selectors.add_months(today, 12)
    # Silver has no acceleration.
    assert (row.boost_from, row.boost_until, row.boost_multiplier) == (None, None, Decimal(1))


def test_evaluating_again_changes_nothing(member):
    earn(member, 2000)
    tier_evaluate(member_id=member.pk)

    assert tier_evaluate(member_id=member.pk) is None
    assert tier_evaluate(member_id=member.pk) is None

    assert TierChange.objects.filter(member=member).count() == 1


def test_a_big_earning_jumps_levels_in_one_change_and_starts_acceleration(member):
    today = clock.business_date()
    earn(member, 8000)

    change = tier_evaluate(member_id=member.pk)

    assert (change.from_level.code, change.to_level.code) == ("normal", "gold")
    assert TierChange.objects.filter(member=member).count() == 1
    row = MemberTier.objects.get(member=member)
    assert row.boost_from == today
    assert row.boost_until == today + dt.timedelta(days=6)  # 7 days, today included
    assert row.boost_multiplier == Decimal("2.00")


def test_top_level_reads_nothing_more(member, django_assert_num_queries):
    put_on(member, "diamond", review_on=clock.business_date() + dt.timedelta(days=200))

    # The active levels and the member's row, inside a savepoint (SAVEPOINT, RELEASE).
    with django_assert_num_queries(4):
        assert tier_evaluate(member_id=member.pk) is None


def test_reversed_earnings_do_not_count(member):
    txn = earn(member, 2500)
    transaction_reverse(transaction_id=txn.pk, reference="refund-1", points=600)

    assert (
        selectors.points_earned(member.pk, selectors.window_ending(clock.business_date())) == 1900
    )
    assert tier_evaluate(member_id=member.pk) is None
    assert MemberTier.objects.get(member=member).level.code == "normal"


def test_adjustments_and_birthday_gifts_do_not_count(member, operator):
    adjustment_request(
        member_id=member.pk, points=5000, reason="补偿", reference="adj-1", requested_by=operator
    )
    earn(member, 1500, source="tier_birthday")
    earn(member, 1999)

    assert tier_evaluate(member_id=member.pk) is None
    assert MemberTier.objects.get(member=member).level.code == "normal"


def test_evaluation_never_downgrades(member):
    put_on(member, "gold", review_on=clock.business_date())

    assert tier_evaluate(member_id=member.pk) is None

    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_unknown_member_is_not_found_and_nothing_is_written(db):
    with pytest.raises(NotFound) as error:
        tier_evaluate(member_id=987654)

    assert error.value.code == "member_not_found"
    assert MemberTier.objects.count() == 0


def test_an_inactive_level_is_skipped(member):
    level("silver").__class__.objects.filter(code="silver").update(is_active=False)
    earn(member, 2000)

    assert tier_evaluate(member_id=member.pk) is None
    earn(member, 6000)
    change = tier_evaluate(member_id=member.pk)

    assert (change.from_level.code, change.to_level.code) == ("normal", "gold")
