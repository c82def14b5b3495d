"""/api/v1/me/checkins, /me/tasks, /me/shares."""

import datetime as dt

import pytest
from django.test import Client

from jifen.engagement.models import Checkin, Share, TaskCompletion
from jifen.engagement.services import makeup_cards_grant
from jifen.ledger.services import balances_of
from jifen.members.models import User
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


def test_checkin_then_calendar(member, at, config):
    at(2026, 11, 2, 9)
    client = bearer(member)

    response = client.post("/api/v1/me/checkins")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("date", "streak", "points", "bonus", "total", "is_makeup")} == {
        "date": "2026-11-02",
        "streak": 1,
        "points": 1,
        "bonus": 0,
        "total": 1,
        "is_makeup": False,
    }
    assert body["created_at"].endswith("+08:00")

    calendar = client.get("/api/v1/me/checkins").json()
    assert calendar["month"] == "2026-11"
    assert calendar["today"] == "2026-11-02"
    assert calendar["checked_in_today"] is True
    assert calendar["streak"] == 1
    assert calendar["today_reward"] == {"points": 1, "bonus": 0, "total": 1, "streak": 1}
    assert calendar["tomorrow_reward"] == {"points": 2, "bonus": 0, "total": 2, "streak": 2}
    assert len(calendar["days"]) == 30
    assert calendar["days"][1] == {
        "date": "2026-11-02",
        "checked_in": True,
        "points": 1,
        "bonus": 0,
        "is_makeup": False,
        "is_today": True,
        "can_make_up": False,
    }


def test_second_checkin_is_409_and_pays_nothing(member, at, config):
    at(2026, 11, 2, 9)
    client = bearer(member)
    client.post("/api/v1/me/checkins")

    response = client.post("/api/v1/me/checkins")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_checked_in"
    assert balances_of(member.pk)["available"] == 1


def test_checkin_replayed_with_an_idempotency_key(member, at, config):
    at(2026, 11, 2, 9)
    client = bearer(member)

    first = client.post("/api/v1/me/checkins", headers={"Idempotency-Key": "k1"})
    again = client.post("/api/v1/me/checkins", headers={"Idempotency-Key": "k1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert balances_of(member.pk)["available"] == 1


def test_calendar_month_parameter_is_validated(member, at, config):
    at(2026, 11, 2)
    response = bearer(member).get("/api/v1/me/checkins?month=2026-13")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_month"


def test_makeup_through_the_api(member, at, config):
    User.objects.filter(pk=member.pk).update(date_joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    makeup_cards_grant(member_id=member.pk, cards=1, reference="gift")
    at(2026, 11, 3)
    client = bearer(member)

    made = client.post(
        "/api/v1/me/checkins/makeup", {"day": "2026-11-02"}, content_type="application/json"
    )
    again = client.post(
        "/api/v1/me/checkins/makeup", {"day": "2026-11-01"}, content_type="application/json"
    )

    assert made.status_code == 201
    assert made.json()["is_makeup"] is True
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "no_makeup_cards"
    assert Checkin.objects.filter(member=member).count() == 1


@pytest.mark.parametrize(
    "body", [{"day": "yesterday"}, {"day": 5}, {}, {"day": "2026-11-02", "extra": 1}]
)
def test_makeup_bad_input(member, at, config, body):
    at(2026, 11, 3)
    response = bearer(member).post(
        "/api/v1/me/checkins/makeup", body, content_type="application/json"
    )
    assert response.status_code == 422
    assert not Checkin.objects.exists()


def test_checkins_need_authentication(db):
    assert Client().get("/api/v1/me/checkins").status_code == 401
    assert Client().post("/api/v1/me/checkins").status_code == 401


def test_session_checkin_needs_csrf(member, at, config):
    at(2026, 11, 2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post("/api/v1/me/checkins")

    assert response.status_code == 403
    assert not Checkin.objects.exists()


# --- tasks ---------------------------------------------------------------------------------


def test_task_list_and_claim(member, at, make_task):
    at(2026, 11, 2)
    make_task("phone", title="绑定手机", evidence="phone_bound", period="lifetime", points=20)
    make_task("survey", title="填写问卷", points=10, cap=2)
    client = bearer(member)

    listing = client.get("/api/v1/me/tasks").json()
    claimed = client.post("/api/v1/me/tasks/phone/claim")
    twice = client.post("/api/v1/me/tasks/phone/claim")
    after = client.get("/api/v1/me/tasks").json()

    assert listing["count"] == 2
    assert [(t["code"], t["status"], t["claimable"], t["done"]) for t in listing["items"]] == [
        ("phone", "available", True, 0),
        ("survey", "available", False, 0),
    ]
    assert claimed.status_code == 201
    assert claimed.json()["points"] == 20
    assert claimed.json()["period"] == "lifetime"
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "task_done"
    assert after["items"][0]["status"] == "done"
    assert balances_of(member.pk)["available"] == 20


def test_claims_that_fail(member, at, make_task):
    at(2026, 11, 2)
    make_task("profile", evidence="profile_complete", period="lifetime")
    make_task("survey")
    client = bearer(member)

    locked = client.post("/api/v1/me/tasks/profile/claim")
    event = client.post("/api/v1/me/tasks/survey/claim")
    unknown = client.post("/api/v1/me/tasks/nope/claim")

    assert (locked.status_code, locked.json()["error"]["code"]) == (409, "task_locked")
    assert (event.status_code, event.json()["error"]["code"]) == (409, "task_not_claimable")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "task_not_found")
    assert not TaskCompletion.objects.exists()


# --- shares --------------------------------------------------------------------------------


def test_share(member, at, set_config):
    set_config(share_points=5, share_daily_cap=2)
    at(2026, 11, 2)
    client = bearer(member)

    responses = [
        client.post(
            "/api/v1/me/shares",
            {"target": f"item:{i}", "channel": "wechat"},
            content_type="application/json",
        )
        for i in range(3)
    ]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert [(r.json()["points"], r.json()["remaining_today"]) for r in responses] == [
        (5, 1),
        (5, 0),
        (0, 0),
    ]
    assert balances_of(member.pk)["available"] == 10


@pytest.mark.parametrize(
    "body",
    [
        {"target": "item:1", "channel": "qq"},
        {"target": "item:1"},
        {"target": 42, "channel": "link"},
        {"target": "not a target", "channel": "link"},
        {"target": "item:1", "channel": "link", "points": 100},
        {"target": "x" * 121, "channel": "link"},
    ],
)
def test_share_bad_input(member, at, config, body):
    at(2026, 11, 2)
    response = bearer(member).post("/api/v1/me/shares", body, content_type="application/json")

    assert response.status_code == 422
    assert "error" in response.json() and response.json()["error"]["code"] in {
        "validation_error",
        "invalid_target",
    }
    assert not Share.objects.exists()


def test_share_malformed_json(member, at, config):
    at(2026, 11, 2)
    response = bearer(member).post("/api/v1/me/shares", "{", content_type="application/json")
    assert response.status_code == 400
    assert not Share.objects.exists()
