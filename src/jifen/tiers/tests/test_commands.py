"""`jifen reevaluate-tiers` and the daily task."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from jifen.core import clock
from jifen.ledger.models import Transaction
from jifen.members.models import User
from jifen.tiers.models import MemberTier, TierChange, TierNotice
from jifen.tiers.tasks import tier_evaluate_task, tiers_daily_task
from jifen.tiers.tests.helpers import earn, put_on

pytestmark = pytest.mark.django_db


def _setup(make_member):
    today = clock.business_date()
    due, warned, birthday = make_member(), make_member(), make_member()
    put_on(due, "diamond", review_on=today)
    put_on(warned, "gold", review_on=today + dt.timedelta(days=7))
    put_on(birthday, "silver")
    User.objects.filter(pk=birthday.pk).update(birthday=today.replace(year=1995))
    return due, warned, birthday


def test_the_command_runs_notices_reviews_and_gifts_once(make_member):
    due, warned, birthday = _setup(make_member)
    out = StringIO()

    call_command("reevaluate_tiers", stdout=out)
    call_command("reevaluate_tiers", stdout=StringIO())

    assert out.getvalue().strip() == "notices 1; levels changed 1; birthday gifts 1"
    assert MemberTier.objects.get(member=due).level.code == "gold"
    assert TierNotice.objects.filter(member=warned).count() == 1
    assert Transaction.objects.filter(member_id=birthday.pk, kind="earn").count() == 1


def test_the_command_reviews_one_member_at_once(member):
    put_on(member, "gold", review_on=clock.business_date() + dt.timedelta(days=100))
    out = StringIO()

    call_command("reevaluate_tiers", member=member.phone, stdout=out)

    assert out.getvalue().strip() == f"member {member.member_number}: 金卡 → 银卡"
    assert TierChange.objects.get(member=member).reason == "manual_review"


def test_the_command_refuses_an_unknown_member(db):
    with pytest.raises(CommandError):
        call_command("reevaluate_tiers", member="19900000000", stdout=StringIO())


def test_the_command_runs_as_another_day(member):
    put_on(member, "gold", review_on=dt.date(2030, 1, 1))

    call_command("reevaluate_tiers", "--today", "2030-01-01", stdout=StringIO())

    assert MemberTier.objects.get(member=member).level.code == "silver"


def test_the_daily_task(make_member):
    _setup(make_member)

    assert tiers_daily_task() == {"notices": 1, "changed": 1, "birthday_gifts": 1}
    assert tiers_daily_task() == {"notices": 0, "changed": 0, "birthday_gifts": 0}


def test_the_evaluate_task(member):
    earn(member, 2000)

    assert tier_evaluate_task(member.pk) is True
    assert tier_evaluate_task(member.pk) is False
