"""Birthday gifts: the level's points, once per member and year, through the ledger."""

import datetime as dt

import pytest

from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of
from jifen.members.models import User
from jifen.tiers.services import birthday_reference, tier_birthday_gifts
from jifen.tiers.tests.helpers import put_on

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 23)


def born(member, day):
    User.objects.filter(pk=member.pk).update(birthday=day)
    return member


def test_a_gold_member_gets_the_gold_gift_on_the_birthday(member):
    born(member, dt.date(1990, 11, 23))
    put_on(member, "gold")

    assert tier_birthday_gifts(today=DAY) == 1

    txn = Transaction.objects.get(reference=birthday_reference(member.pk, 2026))
    assert (txn.kind, txn.member_id, txn.explanation) == ("earn", member.pk, "金卡生日礼")
    assert txn.details["points"] == 500
    assert txn.details["source"] == "tier_birthday"
    assert balances_of(member.pk)["available"] == 500


def test_running_twice_gives_once(member):
    born(member, dt.date(1990, 11, 23))
    put_on(member, "gold")

    tier_birthday_gifts(today=DAY)
    assert tier_birthday_gifts(today=DAY) == 0

    assert balances_of(member.pk)["available"] == 500


def test_a_level_change_between_runs_does_not_give_a_second_gift(member):
    born(member, dt.date(1990, 11, 23))
    put_on(member, "silver")
    tier_birthday_gifts(today=DAY)
    put_on(member, "diamond")

    assert tier_birthday_gifts(today=DAY) == 0

    assert balances_of(member.pk)["available"] == 100


def test_the_next_year_gives_again(member):
    born(member, dt.date(1990, 11, 23))
    put_on(member, "silver")

    tier_birthday_gifts(today=DAY)
    tier_birthday_gifts(today=DAY.replace(year=2027))

    assert Transaction.objects.filter(member_id=member.pk, kind="earn").count() == 2
    assert balances_of(member.pk)["available"] == 200


def test_no_gift_on_other_days_or_levels_without_one(make_member):
    other_day = born(make_member(), dt.date(1990, 11, 24))
    put_on(other_day, "gold")
    base = born(make_member(), dt.date(1990, 11, 23))  # never evaluated: base level, no gift

    assert tier_birthday_gifts(today=DAY) == 0

    assert Transaction.objects.filter(kind="earn").count() == 0
    assert balances_of(base.pk)["available"] == 0


def test_closed_accounts_get_nothing(member):
    born(member, dt.date(1990, 11, 23))
    put_on(member, "gold")
    User.objects.filter(pk=member.pk).update(closed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    assert tier_birthday_gifts(today=DAY) == 0


def test_leap_day_birthdays_are_celebrated_on_28_february_in_common_years(member):
    born(member, dt.date(2000, 2, 29))
    put_on(member, "silver")

    assert tier_birthday_gifts(today=dt.date(2027, 2, 28)) == 1
    assert tier_birthday_gifts(today=dt.date(2028, 2, 28)) == 0  # a leap year: wait
    assert tier_birthday_gifts(today=dt.date(2028, 2, 29)) == 1


def test_the_base_level_gift_reaches_members_never_evaluated(member):
    from jifen.tiers.models import Level

    Level.objects.filter(code="normal").update(birthday_points=20)
    born(member, dt.date(1990, 11, 23))

    assert tier_birthday_gifts(today=DAY) == 1
    assert balances_of(member.pk)["available"] == 20
