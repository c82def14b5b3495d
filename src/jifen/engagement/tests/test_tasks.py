"""Tasks: event evidence with caps per day, week or lifetime; member-action claims."""

import datetime as dt

import pytest

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.engagement.models import MemberEngagement, Task, TaskCompletion
from jifen.engagement.selectors import task_list_for_member
from jifen.engagement.services import task_action_record, task_claim, task_save
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of
from jifen.members.services import profile_update

pytestmark = pytest.mark.django_db


def available(member) -> int:
    return balances_of(member.pk)["available"]


def record(member, reference, action="survey_completed", **kwargs):
    return task_action_record(member_id=member.pk, action=action, reference=reference, **kwargs)


def test_event_completes_the_matching_task_once(member, make_task, at):
    at(2026, 11, 2, 10)
    task = make_task("survey", points=30)

    done = record(member, "evt-1")

    assert [(c.task_id, c.points, c.slot, c.period_key) for c in done] == [
        (task.pk, 30, 1, "2026-11-02")
    ]
    assert available(member) == 30
    txn = Transaction.objects.get(reference=f"task:{task.pk}:{member.pk}:event:evt-1")
    assert txn.explanation == "完成任务：survey"
    assert txn.details["source"] == "task"


def test_replayed_event_completes_nothing(member, make_task, at):
    at(2026, 11, 2)
    make_task("survey", points=30, cap=5)
    record(member, "evt-1")

    assert record(member, "evt-1") == []

    assert TaskCompletion.objects.count() == 1
    assert available(member) == 30


def test_daily_cap_and_the_next_business_day(member, make_task, at):
    make_task("survey", points=10, cap=2)
    at(2026, 11, 2, 23, 58)
    first = [record(member, f"evt-{i}") for i in range(3)]
    at(2026, 11, 3, 0, 1)
    next_day = record(member, "evt-next")

    assert [len(x) for x in first] == [1, 1, 0]
    assert len(next_day) == 1 and next_day[0].period_key == "2026-11-03"
    assert available(member) == 30


def test_weekly_cap_counts_monday_to_sunday(member, make_task, at):
    make_task("review", action="review_posted", period="week", cap=1, points=15)
    at(2026, 11, 2)  # Monday
    assert len(record(member, "r1", action="review_posted")) == 1
    at(2026, 11, 8, 23, 59)  # Sunday, same ISO week
    assert record(member, "r2", action="review_posted") == []
    at(2026, 11, 9, 0, 1)  # next Monday
    got = record(member, "r3", action="review_posted")

    assert got[0].period_key == "2026-W46"
    assert available(member) == 30


def test_first_order_is_a_lifetime_task(member, make_task, at):
    make_task("first-order", action="purchase", period="lifetime", points=100)
    at(2026, 11, 2)
    record(member, "order-1", action="purchase")
    at(2027, 3, 1)
    assert record(member, "order-2", action="purchase") == []
    assert available(member) == 100


def test_required_details_select_the_event(member, make_task, at):
    at(2026, 11, 2)
    make_task(
        "photo-review",
        action="review_posted",
        required_details={"has_photo": True},
        points=20,
        cap=3,
    )

    assert record(member, "r1", action="review_posted", details={"has_photo": False}) == []
    assert record(member, "r2", action="review_posted") == []
    assert len(record(member, "r3", action="review_posted", details={"has_photo": True})) == 1
    assert available(member) == 20


def test_one_event_completes_every_matching_task(member, make_task, at):
    at(2026, 11, 2)
    make_task("buy-daily", action="purchase", points=5)
    make_task("first-order", action="purchase", period="lifetime", points=100)

    done = record(member, "order-1", action="purchase")

    assert sorted(c.task.code for c in done) == ["buy-daily", "first-order"]
    assert available(member) == 105


def test_event_time_decides_the_period(member, make_task, at):
    make_task("survey", cap=1)
    at(2026, 11, 3, 9)
    yesterday = dt.datetime(2026, 11, 2, 15, 59, tzinfo=dt.UTC)  # 23:59 in Shanghai

    got = record(member, "late", occurred_at=yesterday)

    assert got[0].period_key == "2026-11-02"
    assert len(record(member, "today")) == 1


def test_inactive_or_closed_tasks_are_not_completed(member, make_task, at):
    now = at(2026, 11, 2)
    make_task("off", is_active=False)
    make_task("later", starts_at=now + dt.timedelta(days=1))
    make_task("over", ends_at=now - dt.timedelta(seconds=1), starts_at=now - dt.timedelta(days=3))

    assert record(member, "evt") == []
    assert available(member) == 0


def test_makeup_cards_as_a_task_reward(member, make_task, at):
    at(2026, 11, 2)
    make_task("survey", points=0, makeup_cards=1, cap=2)

    record(member, "s1")
    record(member, "s2")
    record(member, "s2")

    assert MemberEngagement.objects.get(member=member).makeup_cards == 2
    assert available(member) == 0


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"action": "Bad Action"}, "invalid_action"),
        ({"action": ""}, "invalid_action"),
        ({"reference": ""}, "invalid_reference"),
        ({"reference": "x" * 201}, "invalid_reference"),
        ({"details": ["a"]}, "invalid_details"),
        ({"occurred_at": dt.datetime(2026, 11, 2, 12)}, "invalid_occurred_at"),
        ({"occurred_at": dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)}, "invalid_occurred_at"),
    ],
)
def test_bad_events_are_refused(member, make_task, at, kwargs, code):
    at(2026, 11, 2, 12)
    make_task("survey")
    arguments = {"action": "survey_completed", "reference": "evt", **kwargs}

    with pytest.raises(ValidationFailed) as error:
        task_action_record(member_id=member.pk, **arguments)

    assert error.value.code == code
    assert not TaskCompletion.objects.exists()


def test_event_for_an_unknown_member(db, make_task, at):
    at(2026, 11, 2)
    make_task("survey")
    with pytest.raises(NotFound):
        task_action_record(member_id=999_999, action="survey_completed", reference="e")


def test_long_references_fit_the_ledger(member, make_task, at):
    at(2026, 11, 2)
    make_task("survey", cap=5)

    assert len(record(member, "r" * 200)) == 1
    assert record(member, "r" * 200) == []  # the hashed evidence still recognises a replay

    assert len(Transaction.objects.get(member_id=member.pk).reference) <= 200
    assert len(TaskCompletion.objects.get().reference) <= 200


# --- member-action tasks -------------------------------------------------------------------


def test_profile_task_is_locked_until_the_profile_is_complete(member, make_task, at):
    at(2026, 11, 2)
    make_task("profile", evidence="profile_complete", period="lifetime", points=50)

    with pytest.raises(Conflict) as error:
        task_claim(member_id=member.pk, code="profile")
    assert error.value.code == "task_locked"
    assert available(member) == 0

    profile_update(member=member, data={"birthday": "1990-05-01", "gender": "female"})
    completion = task_claim(member_id=member.pk, code="profile")

    assert completion.points == 50
    assert available(member) == 50
    with pytest.raises(Conflict) as error:
        task_claim(member_id=member.pk, code="profile")
    assert error.value.code == "task_done"
    assert available(member) == 50


def test_phone_task(make_member, make_task, at):
    at(2026, 11, 2)
    make_task("phone", evidence="phone_bound", period="lifetime", points=20)
    with_phone = make_member()
    without = make_member(phone=None, email="nophone@example.com")

    assert task_claim(member_id=with_phone.pk, code="phone").points == 20
    with pytest.raises(Conflict):
        task_claim(member_id=without.pk, code="phone")


def test_event_tasks_cannot_be_claimed(member, make_task, at):
    at(2026, 11, 2)
    make_task("survey")
    with pytest.raises(Conflict) as error:
        task_claim(member_id=member.pk, code="survey")
    assert error.value.code == "task_not_claimable"


@pytest.mark.parametrize("code", ["nope", "", None, 5])
def test_claim_of_an_unknown_task(member, make_task, at, code):
    at(2026, 11, 2)
    with pytest.raises(NotFound):
        task_claim(member_id=member.pk, code=code)


def test_task_list_statuses(member, make_task, at):
    at(2026, 11, 2)
    make_task("survey", cap=2, sort_order=1)
    make_task("profile", evidence="profile_complete", period="lifetime", sort_order=2)
    make_task("phone", evidence="phone_bound", period="lifetime", sort_order=3)
    make_task("hidden", is_active=False)
    record(member, "s1")
    record(member, "s2")

    statuses = {s.task.code: s for s in task_list_for_member(member=member)}

    assert list(statuses) == ["survey", "profile", "phone"]
    assert (statuses["survey"].status, statuses["survey"].done) == ("done", 2)
    assert (statuses["profile"].status, statuses["profile"].claimable) == ("locked", False)
    assert (statuses["phone"].status, statuses["phone"].claimable) == ("available", True)
    at(2026, 11, 3)
    assert task_list_for_member(member=member)[0].status == "available"


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"code": "Bad Code"}, "code"),
        ({"title": " "}, "title"),
        ({"evidence": "event", "action": ""}, "action"),
        ({"evidence": "profile_complete", "action": "x"}, "action"),
        ({"evidence": "profile_complete", "action": "", "cap": 2}, "cap"),
        ({"points": 0, "makeup_cards": 0}, "points"),
        ({"cap": 0}, "cap"),
        ({"required_details": {"a": [1]}}, "required_details"),
        ({"period": "month"}, "period"),
        (
            {
                "starts_at": dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
                "ends_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            },
            "ends_at",
        ),
    ],
)
def test_task_validation(db, fields, field):
    values = {
        "code": "survey",
        "title": "问卷",
        "evidence": "event",
        "action": "survey_completed",
        "points": 10,
        "period": "day",
        "cap": 1,
        **fields,
    }
    with pytest.raises(ValidationFailed) as error:
        task_save(task=Task(**values))
    assert field in error.value.fields
    assert not Task.objects.exists()


def test_task_code_is_unique(make_task):
    make_task("survey")
    with pytest.raises(ValidationFailed) as error:
        make_task("survey")
    assert "code" in error.value.fields
    assert Task.objects.count() == 1
