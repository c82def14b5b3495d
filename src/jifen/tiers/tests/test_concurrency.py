"""Races on PostgreSQL: many workers at once still give one gift and one upgrade."""

import datetime as dt

import pytest

from jifen.core import clock
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of, points_earn
from jifen.members.models import User
from jifen.tiers.models import MemberTier, TierChange, TierNotice
from jifen.tiers.services import (
    tier_birthday_gifts,
    tier_evaluate,
    tier_notices_send,
    tiers_review_due,
)
from jifen.tiers.tests.helpers import put_on

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
N = 50


def test_fifty_concurrent_birthday_runs_give_one_gift(member, run_concurrently):
    today = clock.business_date()
    User.objects.filter(pk=member.pk).update(birthday=today.replace(year=1990))
    put_on(member, "gold")

    results = run_concurrently(lambda i: tier_birthday_gifts(today=today), N)

    assert [r for r in results if r[0] == "error"] == []
    assert Transaction.objects.filter(member_id=member.pk, kind="earn").count() == 1
    assert balances_of(member.pk)["available"] == 500


def test_fifty_concurrent_evaluations_upgrade_once(member, run_concurrently):
    points_earn(member_id=member.pk, points=8000, source="purchase", reference="big")

    results = run_concurrently(lambda i: tier_evaluate(member_id=member.pk), N)

    assert [r for r in results if r[0] == "error"] == []
    assert len([r for r in results if r[1] is not None]) == 1
    assert TierChange.objects.filter(member=member).count() == 1
    assert MemberTier.objects.get(member=member).level.code == "gold"


def test_fifty_first_evaluations_of_a_new_member_create_one_row(member, run_concurrently):
    results = run_concurrently(lambda i: tier_evaluate(member_id=member.pk), N)

    assert [r for r in results if r[0] == "error"] == []
    assert MemberTier.objects.filter(member=member).count() == 1


def test_fifty_concurrent_reviews_and_notices_act_once(make_member, run_concurrently):
    today = clock.business_date()
    due = make_member()
    warned = make_member()
    put_on(due, "diamond", review_on=today)
    put_on(warned, "gold", review_on=today + dt.timedelta(days=3))

    def work(i):
        return tier_notices_send(today=today) if i % 2 else tiers_review_due(today=today)

    results = run_concurrently(work, N)

    assert [r for r in results if r[0] == "error"] == []
    assert TierChange.objects.filter(member=due).count() == 1
    assert MemberTier.objects.get(member=due).level.code == "gold"
    assert TierNotice.objects.filter(member=warned).count() == 1
