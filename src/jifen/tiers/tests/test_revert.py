"""After a refund: an upgrade the member no longer qualifies for is undone (buy–refund loop)."""

import datetime as dt

import pytest

from jifen.core import clock
from jifen.ledger.services import transaction_reverse
from jifen.tiers.models import MemberTier, TierChange
from jifen.tiers.selectors import add_months
from jifen.tiers.services import tier_evaluate
from jifen.tiers.tests.helpers import earn, level, put_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return clock.business_date()


def test_a_refunded_purchase_takes_back_the_upgrade_it_gave(member, today):
    put_on(member, "silver", since=dt.date(2026, 3, 1), review_on=dt.date(2027, 3, 1))
    earn(member, 2000)
    purchase = earn(member, 6000)
    tier_evaluate(member_id=member.pk)  # gold, with acceleration
    transaction_reverse(transaction_id=purchase.pk, reference="refund-1")

    change = tier_evaluate(member_id=member.pk, after_reversal=True)

    assert (change.from_level.code, change.to_level.code, change.reason) == (
        "gold",
        "silver",
        "revert",
    )
    row = MemberTier.objects.get(member=member)
    # Silver gets its own dates back; the acceleration ends.
    assert (row.level.code, row.since, row.review_on) == (
        "silver",
        dt.date(2026, 3, 1),
        dt.date(2027, 3, 1),
    )
    assert (row.boost_from, row.boost_until) == (None, None)


def test_without_the_flag_evaluation_never_reverts(member):
    purchase = earn(member, 8000)
    tier_evaluate(member_id=member.pk)
    transaction_reverse(transaction_id=purchase.pk, reference="refund-1")

    assert tier_evaluate(member_id=member.pk) is None
    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_a_chain_of_upgrades_is_undone_down_to_the_qualified_level(member, today):
    earn(member, 2000)
    tier_evaluate(member_id=member.pk)  # silver
    big = earn(member, 30000)
    tier_evaluate(member_id=member.pk)  # diamond
    transaction_reverse(transaction_id=big.pk, reference="refund-1", points=25000)  # 7,000 left

    change = tier_evaluate(member_id=member.pk, after_reversal=True)

    assert (change.from_level.code, change.to_level.code) == ("diamond", "silver")
    row = MemberTier.objects.get(member=member)
    assert (row.since, row.review_on) == (today, add_months(today, 12))
    assert tier_evaluate(member_id=member.pk, after_reversal=True) is None
    assert TierChange.objects.filter(member=member).count() == 3


def test_a_partial_refund_that_still_qualifies_changes_nothing(member):
    purchase = earn(member, 9000)
    tier_evaluate(member_id=member.pk)
    transaction_reverse(transaction_id=purchase.pk, reference="refund-1", points=1000)

    assert tier_evaluate(member_id=member.pk, after_reversal=True) is None
    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_a_level_set_by_an_operator_is_not_undone(member, operator):
    from jifen.tiers.services import tier_set

    tier_set(member_id=member.pk, level_code="gold", reason="补偿", changed_by_id=operator.pk)
    purchase = earn(member, 100)
    transaction_reverse(transaction_id=purchase.pk, reference="refund-1")

    assert tier_evaluate(member_id=member.pk, after_reversal=True) is None
    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_an_upgrade_older_than_the_window_is_left_to_the_review(member, today):
    row = put_on(member, "silver", review_on=today + dt.timedelta(days=30))
    TierChange.objects.create(
        member=member,
        from_level=level("normal"),
        to_level=level("silver"),
        reason="upgrade",
        business_date=add_months(today, -13),
    )

    assert tier_evaluate(member_id=member.pk, after_reversal=True) is None
    row.refresh_from_db()
    assert row.level.code == "silver"
