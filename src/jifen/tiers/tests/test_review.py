"""Scheduled and manual re-evaluation: downgrade policies, keeping a level, idempotence."""

import datetime as dt
from decimal import Decimal

import pytest

from jifen.core import clock
from jifen.core.errors import NotFound, ValidationFailed
from jifen.tiers.models import MemberTier, TierChange
from jifen.tiers.selectors import add_months
from jifen.tiers.services import tier_review, tier_set, tiers_review_due
from jifen.tiers.tests.helpers import earn, put_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return clock.business_date()


def test_one_level_policy_drops_a_single_level(member, today):
    put_on(member, "diamond", review_on=today)
    earn(member, 100)

    assert tiers_review_due(today=today) == 1

    change = TierChange.objects.get(member=member)
    assert (change.from_level.code, change.to_level.code) == ("diamond", "gold")
    assert change.reason == TierChange.Reason.REVIEW
    assert change.points_earned == 100
    row = MemberTier.objects.get(member=member)
    assert (row.level.code, row.since, row.review_on) == ("gold", today, add_months(today, 12))


def test_qualified_policy_drops_to_the_qualified_level(member, today, settings):
    settings.JIFEN_TIER_DOWNGRADE_POLICY = "qualified"
    put_on(member, "diamond", review_on=today)
    earn(member, 2000)

    tiers_review_due(today=today)

    change = TierChange.objects.get(member=member)
    assert (change.from_level.code, change.to_level.code) == ("diamond", "silver")


def test_downgrade_to_the_base_level_has_no_review_date(member, today, settings):
    settings.JIFEN_TIER_DOWNGRADE_POLICY = "qualified"
    put_on(member, "gold", review_on=today)

    tiers_review_due(today=today)

    row = MemberTier.objects.get(member=member)
    assert (row.level.code, row.review_on) == ("normal", None)


def test_one_level_policy_never_goes_below_the_qualified_level(member, today):
    put_on(member, "diamond", review_on=today)
    earn(member, 8000)  # still gold

    tiers_review_due(today=today)

    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_keeping_the_level_moves_the_review_a_period_on_without_a_change(member, today):
    put_on(member, "gold", review_on=today)
    earn(member, 8000)

    assert tiers_review_due(today=today) == 0

    row = MemberTier.objects.get(member=member)
    assert (row.level.code, row.review_on) == ("gold", add_months(today, 12))
    assert TierChange.objects.count() == 0


def test_a_review_long_overdue_is_rescheduled_from_today(member, today):
    put_on(member, "gold", review_on=today - dt.timedelta(days=400))
    earn(member, 8000)

    tiers_review_due(today=today)

    assert MemberTier.objects.get(member=member).review_on == add_months(today, 12)


def test_running_the_review_twice_changes_once(member, today):
    put_on(member, "diamond", review_on=today)

    assert tiers_review_due(today=today) == 1
    assert tiers_review_due(today=today) == 0

    assert TierChange.objects.filter(member=member).count() == 1
    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_a_review_not_yet_due_does_nothing(member, today):
    put_on(member, "gold", review_on=today + dt.timedelta(days=1))

    assert tiers_review_due(today=today) == 0
    assert tier_review(member_id=member.pk, today=today) is None

    row = MemberTier.objects.get(member=member)
    assert (row.level.code, row.review_on) == ("gold", today + dt.timedelta(days=1))


def test_a_review_upgrades_a_member_who_qualifies_higher(member, today):
    put_on(member, "silver", review_on=today)
    earn(member, 8000)

    tiers_review_due(today=today)

    change = TierChange.objects.get(member=member)
    assert (change.from_level.code, change.to_level.code) == ("silver", "gold")
    assert MemberTier.objects.get(member=member).boost_until == today + dt.timedelta(days=6)


def test_a_downgrade_ends_the_acceleration(member, today):
    row = put_on(member, "gold", review_on=today)
    MemberTier.objects.filter(pk=row.pk).update(
        boost_from=today, boost_until=today + dt.timedelta(days=3), boost_multiplier=2
    )

    tiers_review_due(today=today)

    row.refresh_from_db()
    assert (row.boost_from, row.boost_until, row.boost_multiplier) == (None, None, Decimal(1))


def test_members_on_a_deactivated_level_move_down_at_their_review(member, today):
    from jifen.tiers.models import Level

    put_on(member, "diamond", review_on=today)
    earn(member, 30000)
    Level.objects.filter(code="diamond").update(is_active=False)

    tiers_review_due(today=today)

    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_manual_review_acts_before_the_date_and_records_the_operator(member, operator, today):
    review_on = today + dt.timedelta(days=90)
    put_on(member, "gold", review_on=review_on)

    change = tier_review(member_id=member.pk, manual=True, changed_by_id=operator.pk)

    assert change.reason == TierChange.Reason.MANUAL_REVIEW
    assert change.changed_by == operator
    assert change.to_level.code == "silver"


def test_a_second_manual_review_the_same_day_does_not_drop_again(member, operator, today):
    put_on(member, "diamond", review_on=today + dt.timedelta(days=90))

    tier_review(member_id=member.pk, manual=True, changed_by_id=operator.pk)
    assert tier_review(member_id=member.pk, manual=True, changed_by_id=operator.pk) is None

    assert MemberTier.objects.get(member=member).level.code == "gold"
    assert TierChange.objects.filter(member=member).count() == 1
    # The next day a review may act again.
    tomorrow = today + dt.timedelta(days=1)
    change = tier_review(
        member_id=member.pk, manual=True, changed_by_id=operator.pk, today=tomorrow
    )
    assert change.to_level.code == "silver"


def test_manual_review_of_a_member_who_keeps_the_level_leaves_the_date(member, operator, today):
    review_on = today + dt.timedelta(days=90)
    put_on(member, "gold", review_on=review_on)
    earn(member, 8000)

    assert tier_review(member_id=member.pk, manual=True, changed_by_id=operator.pk) is None

    assert MemberTier.objects.get(member=member).review_on == review_on


def test_operator_sets_a_level_with_a_reason(member, operator, today):
    change = tier_set(
        member_id=member.pk, level_code="gold", reason="客诉补偿", changed_by_id=operator.pk
    )

    assert (change.from_level.code, change.to_level.code) == ("normal", "gold")
    assert (change.reason, change.explanation, change.changed_by) == (
        "manual",
        "客诉补偿",
        operator,
    )
    row = MemberTier.objects.get(member=member)
    assert row.review_on == add_months(today, 12)
    assert (row.boost_from, row.boost_until) == (None, None)  # no acceleration when set


@pytest.mark.parametrize(
    ("code", "reason", "error", "error_code"),
    [
        ("gold", "  ", ValidationFailed, "reason_required"),
        ("platinum", "补偿", NotFound, "level_not_found"),
    ],
)
def test_setting_a_level_refuses_bad_input_and_changes_nothing(
    member, operator, code, reason, error, error_code
):
    put_on(member, "silver", review_on=clock.business_date())

    with pytest.raises(error) as raised:
        tier_set(member_id=member.pk, level_code=code, reason=reason, changed_by_id=operator.pk)

    assert raised.value.code == error_code
    assert MemberTier.objects.get(member=member).level.code == "silver"
    assert TierChange.objects.count() == 0
