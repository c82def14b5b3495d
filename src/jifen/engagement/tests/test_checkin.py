"""Daily check-in: once per business day, streaks, the reward table, bonuses, weekends,
make-up cards."""

import datetime as dt

import pytest

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.engagement.models import Checkin, MakeupCardGrant, MemberEngagement
from jifen.engagement.selectors import checkin_calendar
from jifen.engagement.services import (
    checkin_create,
    checkin_makeup,
    engagement_config_update,
    makeup_cards_grant,
)
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of
from jifen.members.models import User

pytestmark = pytest.mark.django_db

# 2026-11-02 is a Monday; 11-07 and 11-08 are the weekend.
MONDAY = (2026, 11, 2)


@pytest.fixture
def old_member(member):
    User.objects.filter(pk=member.pk).update(date_joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    member.refresh_from_db()
    return member


def available(member) -> int:
    return balances_of(member.pk)["available"]


def check_in_on(at, member, day: dt.date, hour=9):
    at(day.year, day.month, day.day, hour)
    return checkin_create(member_id=member.pk)


def test_first_checkin_pays_day_one(member, at, config):
    at(*MONDAY, 9, 30)

    checkin = checkin_create(member_id=member.pk)

    assert (checkin.day, checkin.streak, checkin.points, checkin.bonus) == (
        dt.date(2026, 11, 2),
        1,
        1,
        0,
    )
    assert available(member) == 1
    txn = Transaction.objects.get(reference=f"checkin:{member.pk}:2026-11-02")
    assert txn.kind == "earn"
    assert txn.details["source"] == "checkin"
    assert txn.explanation == "连续签到第 1 天"


def test_second_checkin_the_same_day_pays_nothing(member, at, config):
    at(*MONDAY, 0, 1)
    checkin_create(member_id=member.pk)
    at(*MONDAY, 23, 59)

    with pytest.raises(Conflict) as error:
        checkin_create(member_id=member.pk)

    assert error.value.code == "already_checked_in"
    assert Checkin.objects.filter(member=member).count() == 1
    assert available(member) == 1
    assert Transaction.objects.filter(member_id=member.pk).count() == 1


def test_business_day_edge_2359_and_0001_shanghai_are_two_days(member, at, config):
    # 23:59 in Shanghai is 15:59 UTC the same date; 00:01 is 16:01 UTC of that same UTC date.
    first = at(2026, 11, 2, 23, 59)
    assert first.astimezone(dt.UTC).date() == dt.date(2026, 11, 2)
    checkin_create(member_id=member.pk)
    second = at(2026, 11, 3, 0, 1)
    assert second.astimezone(dt.UTC).date() == dt.date(2026, 11, 2)  # same UTC day

    checkin = checkin_create(member_id=member.pk)

    assert checkin.day == dt.date(2026, 11, 3)
    assert checkin.streak == 2
    assert available(member) == 1 + 2


def test_table_rises_to_seven_then_stays_with_a_bonus_at_day_seven(member, at, set_config):
    set_config(weekend_factor="1")
    start = dt.date(*MONDAY)
    got = [check_in_on(at, member, start + dt.timedelta(days=i)) for i in range(9)]

    assert [c.points for c in got] == [1, 2, 3, 4, 5, 6, 7, 7, 7]
    assert [c.streak for c in got] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [c.bonus for c in got] == [0, 0, 0, 0, 0, 0, 20, 0, 0]
    assert available(member) == 1 + 2 + 3 + 4 + 5 + 6 + 7 + 7 + 7 + 20
    bonus = Transaction.objects.get(reference=f"checkin-bonus:{member.pk}:2026-11-08:7")
    assert bonus.explanation == "连续签到 7 天奖励"


def test_bonus_at_thirty_days(member, at, set_config):
    set_config(weekend_factor="1", checkin_rewards=[1], checkin_bonuses={"7": 20, "30": 100})
    start = dt.date(2026, 11, 1)
    got = [check_in_on(at, member, start + dt.timedelta(days=i)) for i in range(30)]

    assert got[-1].streak == 30
    assert got[-1].bonus == 100
    assert sum(c.bonus for c in got) == 120
    assert available(member) == 30 + 120


def test_missed_day_resets_the_streak(member, at, set_config):
    set_config(weekend_factor="1")
    check_in_on(at, member, dt.date(2026, 11, 2))
    check_in_on(at, member, dt.date(2026, 11, 3))

    after_gap = check_in_on(at, member, dt.date(2026, 11, 5))

    assert (after_gap.streak, after_gap.points) == (1, 1)
    assert available(member) == 1 + 2 + 1


def test_explicit_table(member, at, set_config):
    set_config(weekend_factor="1", checkin_rewards=[5, 5, 10], checkin_bonuses={})
    start = dt.date(*MONDAY)
    got = [check_in_on(at, member, start + dt.timedelta(days=i)) for i in range(4)]

    assert [c.points for c in got] == [5, 5, 10, 10]
    assert available(member) == 30


def test_weekend_doubles_the_daily_reward(member, at, config):
    saturday = check_in_on(at, member, dt.date(2026, 11, 7))

    assert (saturday.streak, saturday.points) == (1, 2)
    txn = Transaction.objects.get(reference=f"checkin:{member.pk}:2026-11-07")
    assert txn.explanation == "连续签到第 1 天（周末 ×2）"


def test_weekend_factor_rounds_down(member, at, set_config):
    set_config(weekend_factor="1.5", checkin_rewards=[3])

    sunday = check_in_on(at, member, dt.date(2026, 11, 8))

    assert sunday.points == 4  # 3 × 1.5 = 4.5 → 4
    assert available(member) == 4


def test_bonus_is_not_multiplied_on_a_weekend(member, at, set_config):
    set_config(weekend_factor="2", checkin_rewards=[1], checkin_bonuses={"2": 10})
    check_in_on(at, member, dt.date(2026, 11, 6))  # Friday

    saturday = check_in_on(at, member, dt.date(2026, 11, 7))

    assert (saturday.points, saturday.bonus) == (2, 10)
    assert available(member) == 1 + 2 + 10


def test_disabled_checkin_changes_nothing(member, at, set_config):
    set_config(checkin_enabled=False)
    at(*MONDAY)

    with pytest.raises(Conflict) as error:
        checkin_create(member_id=member.pk)

    assert error.value.code == "checkin_disabled"
    assert not Checkin.objects.exists()
    assert available(member) == 0


def test_unknown_member(db, at, config):
    at(*MONDAY)
    with pytest.raises(NotFound):
        checkin_create(member_id=999_999)
    assert not Checkin.objects.exists()


def test_zero_reward_day_records_the_checkin_without_posting(member, at, set_config):
    set_config(checkin_rewards=[0, 5], checkin_bonuses={}, weekend_factor="1")

    first = check_in_on(at, member, dt.date(*MONDAY))

    assert (first.points, first.streak) == (0, 1)
    assert not Transaction.objects.filter(member_id=member.pk).exists()


# --- make-up cards -------------------------------------------------------------------------


def test_makeup_card_fills_a_missed_day_and_keeps_the_streak(old_member, at, set_config):
    set_config(weekend_factor="1")
    member = old_member
    makeup_cards_grant(member_id=member.pk, cards=1, reference="gift-1")
    check_in_on(at, member, dt.date(2026, 11, 2))
    check_in_on(at, member, dt.date(2026, 11, 3))
    at(2026, 11, 5, 8)  # missed the 4th

    filled = checkin_makeup(member_id=member.pk, day=dt.date(2026, 11, 4))
    today = checkin_create(member_id=member.pk)

    assert (filled.is_makeup, filled.streak, filled.points) == (True, 3, 3)
    assert today.streak == 4 and today.points == 4
    assert MemberEngagement.objects.get(member=member).makeup_cards == 0
    assert available(member) == 1 + 2 + 3 + 4
    txn = Transaction.objects.get(reference=f"checkin:{member.pk}:2026-11-04")
    assert txn.explanation == "补签 2026-11-04"


def test_makeup_after_todays_checkin_joins_the_runs_and_pays_the_new_milestone(
    old_member, at, set_config
):
    set_config(weekend_factor="1", checkin_rewards=[1], checkin_bonuses={"7": 20})
    member = old_member
    makeup_cards_grant(member_id=member.pk, cards=1, reference="gift-1")
    for day in (1, 2, 3, 5, 6, 7):  # the 4th missed
        check_in_on(at, member, dt.date(2026, 11, day))
    assert available(member) == 6

    filled = checkin_makeup(member_id=member.pk, day=dt.date(2026, 11, 4))

    # 3 days + the filled day + 3 days = 7 in a row through today.
    assert (filled.streak, filled.points, filled.bonus) == (4, 1, 20)
    assert available(member) == 6 + 1 + 20
    assert checkin_calendar(member=member).streak == 7
    at(2026, 11, 8)
    assert checkin_create(member_id=member.pk).bonus == 0  # streak 8: nothing paid twice


def test_makeup_without_a_card_changes_nothing(old_member, at, config):
    check_in_on(at, old_member, dt.date(2026, 11, 2))
    at(2026, 11, 4)

    with pytest.raises(Conflict) as error:
        checkin_makeup(member_id=old_member.pk, day=dt.date(2026, 11, 3))

    assert error.value.code == "no_makeup_cards"
    assert Checkin.objects.filter(member=old_member).count() == 1
    assert available(old_member) == 1


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 10, 31),  # last month
        dt.date(2026, 11, 10),  # today
        dt.date(2026, 11, 11),  # the future
    ],
)
def test_makeup_only_for_a_past_day_of_this_month(old_member, at, config, day):
    makeup_cards_grant(member_id=old_member.pk, cards=1, reference="gift-1")
    at(2026, 11, 10)

    with pytest.raises(ValidationFailed) as error:
        checkin_makeup(member_id=old_member.pk, day=day)

    assert error.value.code == "invalid_makeup_day"
    assert MemberEngagement.objects.get(member=old_member).makeup_cards == 1
    assert not Checkin.objects.exists()


def test_makeup_not_before_the_member_joined(member, at, config):
    User.objects.filter(pk=member.pk).update(date_joined=dt.datetime(2026, 11, 5, 2, tzinfo=dt.UTC))
    makeup_cards_grant(member_id=member.pk, cards=1, reference="gift-1")
    at(2026, 11, 10)

    with pytest.raises(ValidationFailed):
        checkin_makeup(member_id=member.pk, day=dt.date(2026, 11, 4))

    assert checkin_makeup(member_id=member.pk, day=dt.date(2026, 11, 5)).day == dt.date(2026, 11, 5)


def test_makeup_of_a_day_already_checked_in_keeps_the_card(old_member, at, config):
    makeup_cards_grant(member_id=old_member.pk, cards=1, reference="gift-1")
    check_in_on(at, old_member, dt.date(2026, 11, 2))
    at(2026, 11, 3)

    with pytest.raises(Conflict) as error:
        checkin_makeup(member_id=old_member.pk, day=dt.date(2026, 11, 2))

    assert error.value.code == "already_checked_in"
    assert MemberEngagement.objects.get(member=old_member).makeup_cards == 1
    assert available(old_member) == 1


def test_makeup_disabled(old_member, at, set_config):
    set_config(makeup_enabled=False)
    makeup_cards_grant(member_id=old_member.pk, cards=1, reference="gift-1")
    at(2026, 11, 3)

    with pytest.raises(Conflict) as error:
        checkin_makeup(member_id=old_member.pk, day=dt.date(2026, 11, 2))

    assert error.value.code == "makeup_disabled"
    assert MemberEngagement.objects.get(member=old_member).makeup_cards == 1


def test_card_grant_is_once_per_reference(member):
    first, created = makeup_cards_grant(member_id=member.pk, cards=2, reference="task:1")
    again, created_again = makeup_cards_grant(member_id=member.pk, cards=2, reference="task:1")

    assert (created, created_again, again.pk) == (True, False, first.pk)
    with pytest.raises(Conflict):
        makeup_cards_grant(member_id=member.pk, cards=3, reference="task:1")

    assert MemberEngagement.objects.get(member=member).makeup_cards == 2
    assert MakeupCardGrant.objects.count() == 1


@pytest.mark.parametrize("cards", [0, -1, 101, 1.5, "1", True])
def test_card_grant_refuses_bad_counts(member, cards):
    with pytest.raises(ValidationFailed):
        makeup_cards_grant(member_id=member.pk, cards=cards, reference="x")
    assert not MakeupCardGrant.objects.exists()


# --- calendar ------------------------------------------------------------------------------


def test_calendar_shows_the_month_the_streak_and_tomorrow(old_member, at, set_config):
    set_config(weekend_factor="2")
    makeup_cards_grant(member_id=old_member.pk, cards=1, reference="gift-1")
    check_in_on(at, old_member, dt.date(2026, 11, 4))
    check_in_on(at, old_member, dt.date(2026, 11, 5))
    at(2026, 11, 6, 20)  # Friday, not yet checked in

    cal = checkin_calendar(member=old_member)

    assert cal.month == "2026-11"
    assert len(cal.days) == 30
    assert cal.leading_blanks == 6  # 1 November 2026 is a Sunday
    assert cal.checked_in_today is False
    assert cal.streak == 2
    assert (cal.today_reward.points, cal.today_reward.streak) == (3, 3)
    # Tomorrow is Saturday, the 4th day if today is checked in: 4 × 2.
    assert (cal.tomorrow_reward.points, cal.tomorrow_reward.streak) == (8, 4)
    assert [d.date.day for d in cal.days if d.checked_in] == [4, 5]
    assert [d.date.day for d in cal.days if d.can_make_up] == [1, 2, 3]
    assert cal.makeup_cards == 1

    checkin_create(member_id=old_member.pk)
    cal = checkin_calendar(member=old_member)
    assert cal.checked_in_today is True
    assert cal.streak == 3
    assert (cal.today_reward.points, cal.tomorrow_reward.points) == (3, 8)


def test_calendar_of_an_earlier_month(member, at, config):
    at(2026, 10, 31)
    checkin_create(member_id=member.pk)
    at(2026, 11, 1)

    cal = checkin_calendar(member=member, month="2026-10")

    assert cal.month == "2026-10"
    assert [d.date.day for d in cal.days if d.checked_in] == [31]
    assert cal.streak == 1  # yesterday's run is still alive today


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2026-1", "abc", "2026-12", "1999-01"])
def test_calendar_refuses_bad_months(member, at, config, month):
    at(2026, 11, 5)
    with pytest.raises(ValidationFailed) as error:
        checkin_calendar(member=member, month=month)
    assert error.value.code == "invalid_month"


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values,field",
    [
        ({"checkin_rewards": []}, "checkin_rewards"),
        ({"checkin_rewards": [1, -1]}, "checkin_rewards"),
        ({"checkin_rewards": [1.5]}, "checkin_rewards"),
        ({"checkin_rewards": "1,2"}, "checkin_rewards"),
        ({"checkin_bonuses": {"seven": 20}}, "checkin_bonuses"),
        ({"checkin_bonuses": {"7": -5}}, "checkin_bonuses"),
        ({"checkin_bonuses": {"0": 5}}, "checkin_bonuses"),
        ({"weekend_factor": "0.5"}, "weekend_factor"),
        ({"weekend_factor": "abc"}, "weekend_factor"),
        ({"weekend_factor": "1.234"}, "weekend_factor"),
        ({"share_points": -1}, "share_points"),
        ({"share_daily_cap": 1000}, "share_daily_cap"),
    ],
)
def test_config_refuses_bad_values(config, values, field):
    with pytest.raises(ValidationFailed) as error:
        engagement_config_update(values=values)

    assert field in error.value.fields
    config.refresh_from_db()
    assert config.checkin_rewards == [1, 2, 3, 4, 5, 6, 7]
    assert config.checkin_bonuses == {"7": 20, "30": 100}
    assert str(config.weekend_factor) == "2.00"


def test_streak_carries_over_the_month_boundary(member, at, set_config):
    set_config(weekend_factor="1")
    check_in_on(at, member, dt.date(2026, 10, 30))
    check_in_on(at, member, dt.date(2026, 10, 31))

    first_of_month = check_in_on(at, member, dt.date(2026, 11, 1))

    assert (first_of_month.streak, first_of_month.points) == (3, 3)


def test_bonus_lengths_are_stored_in_one_spelling(member, at, set_config):
    config = set_config(weekend_factor="1", checkin_rewards=[1], checkin_bonuses={"02": 10})
    assert config.checkin_bonuses == {"2": 10}
    check_in_on(at, member, dt.date(*MONDAY))

    assert check_in_on(at, member, dt.date(2026, 11, 3)).bonus == 10
