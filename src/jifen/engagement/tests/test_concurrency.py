"""Races on PostgreSQL: 50 threads released at once (conftest `run_concurrently`)."""

import datetime as dt

import pytest

from jifen.core.errors import Conflict
from jifen.engagement.models import Checkin, MemberEngagement, Share, TaskCompletion
from jifen.engagement.services import (
    checkin_create,
    checkin_makeup,
    makeup_cards_grant,
    share_create,
    task_action_record,
    task_claim,
)
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of
from jifen.members.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
N = 50


def outcomes(results):
    ok = [value for status, value in results if status == "ok"]
    errors = [value for status, value in results if status == "error"]
    return ok, errors


def test_fifty_concurrent_checkins_award_once(member, at, config):
    at(2026, 11, 2, 9)  # Monday: day 1 pays 1 point

    ok, errors = outcomes(_run(lambda i: checkin_create(member_id=member.pk)))

    assert len(ok) == 1
    assert len(errors) == N - 1
    assert all(isinstance(e, Conflict) and e.code == "already_checked_in" for e in errors)
    assert Checkin.objects.filter(member=member).count() == 1
    assert balances_of(member.pk)["available"] == 1
    assert Transaction.objects.filter(member_id=member.pk).count() == 1


def test_fifty_concurrent_first_checkins_of_fifty_members(make_member, at, config):
    members = [make_member() for _ in range(N)]
    at(2026, 11, 7, 9)  # Saturday: 1 × 2

    ok, errors = outcomes(_run(lambda i: checkin_create(member_id=members[i].pk)))

    assert (len(ok), errors) == (N, [])
    assert all(balances_of(m.pk)["available"] == 2 for m in members)


def test_event_task_cap_holds_under_fifty_distinct_events(member, at, make_task):
    at(2026, 11, 2, 9)
    make_task("survey", points=10, cap=3)

    ok, errors = outcomes(
        _run(
            lambda i: task_action_record(
                member_id=member.pk, action="survey_completed", reference=f"evt-{i}"
            )
        )
    )

    assert errors == []
    assert sum(len(done) for done in ok) == 3
    assert TaskCompletion.objects.count() == 3
    assert balances_of(member.pk)["available"] == 30


def test_the_same_event_fifty_times_completes_once(member, at, make_task):
    at(2026, 11, 2, 9)
    make_task("survey", points=10, cap=50)

    ok, errors = outcomes(
        _run(
            lambda i: task_action_record(
                member_id=member.pk, action="survey_completed", reference="evt-1"
            )
        )
    )

    assert errors == []
    assert sum(len(done) for done in ok) == 1
    assert balances_of(member.pk)["available"] == 10


def test_fifty_concurrent_claims_pay_once(member, at, make_task):
    at(2026, 11, 2, 9)
    make_task("phone", evidence="phone_bound", period="lifetime", points=20)

    ok, errors = outcomes(_run(lambda i: task_claim(member_id=member.pk, code="phone")))

    assert len(ok) == 1
    assert all(isinstance(e, Conflict) and e.code == "task_done" for e in errors)
    assert balances_of(member.pk)["available"] == 20


def test_share_cap_holds_under_fifty_concurrent_shares(member, at, set_config):
    set_config(share_points=5, share_daily_cap=3)
    at(2026, 11, 2, 9)

    ok, errors = outcomes(
        _run(lambda i: share_create(member_id=member.pk, target=f"item:{i}", channel="link"))
    )

    assert errors == []
    assert sorted(s.points for s in ok) == [0] * (N - 3) + [5, 5, 5]
    assert Share.objects.count() == N
    assert Share.objects.filter(slot__isnull=False).count() == 3
    assert balances_of(member.pk)["available"] == 15


def test_one_card_fills_one_day_under_fifty_concurrent_makeups(member, at, config):
    User.objects.filter(pk=member.pk).update(date_joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    makeup_cards_grant(member_id=member.pk, cards=1, reference="gift")
    at(2026, 11, 28, 9)  # days 1..27 missed

    ok, errors = outcomes(
        _run(lambda i: checkin_makeup(member_id=member.pk, day=dt.date(2026, 11, 1 + i % 27)))
    )

    assert len(ok) == 1
    # The losers find no card left, or (those aiming at the winner's day) the day taken.
    assert {type(e) for e in errors} == {Conflict}
    assert {e.code for e in errors} <= {"no_makeup_cards", "already_checked_in"}
    assert MemberEngagement.objects.get(member=member).makeup_cards == 0
    assert Checkin.objects.filter(member=member).count() == 1


_runner = None


@pytest.fixture(autouse=True)
def _bind_runner(run_concurrently):
    global _runner
    _runner = run_concurrently
    yield
    _runner = None


def _run(fn):
    return _runner(fn, N)
