"""GET /api/v1/me/tier, /tiers, /me/tier/changes and the operators' endpoints."""

import datetime as dt

import pytest
from django.test import Client

from jifen.core import clock
from jifen.members.tokens import token_issue
from jifen.tiers.models import MemberTier, TierChange
from jifen.tiers.selectors import add_months, window_ending
from jifen.tiers.services import tier_evaluate, tier_notices_send
from jifen.tiers.tests.helpers import earn, put_on

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


def test_a_new_member_is_on_the_base_level_with_progress_to_silver(member):
    today = clock.business_date()
    earn(member, 500)

    response = bearer(member).get("/api/v1/me/tier")

    assert response.status_code == 200
    window = window_ending(today)
    assert response.json() == {
        "level": {"code": "normal", "name": "普通", "rank": 0},
        "since": None,
        "review_on": None,
        "window": {"first_day": window.first.isoformat(), "last_day": today.isoformat()},
        "points_earned": 500,
        "amount_spent": "0.00",
        "currency": "CNY",
        "next_level": {"code": "silver", "name": "银卡", "rank": 1},
        "progress": {
            "points": {"current": 500, "required": 2000, "remaining": 1500, "percent": 25},
            "spend": {
                "current": "0.00",
                "required": "2000.00",
                "remaining": "2000.00",
                "percent": 0,
            },
        },
        "benefits": {
            "earn_multiplier": "1.00",
            "mall_discount": "1.00",
            "extra_draws": 0,
            "birthday_points": 0,
            "free_shipping": False,
            "exclusive_items": False,
            "upgrade_boost_days": 0,
            "upgrade_boost_multiplier": "1.00",
        },
        "earn_multiplier_today": "1.00",
        "boost": None,
        "notice": None,
    }


def test_an_upgraded_member_sees_the_review_date_and_the_acceleration(member):
    today = clock.business_date()
    earn(member, 8000)
    tier_evaluate(member_id=member.pk)

    body = bearer(member).get("/api/v1/me/tier").json()

    assert body["level"] == {"code": "gold", "name": "金卡", "rank": 2}
    assert body["since"] == today.isoformat()
    assert body["review_on"] == add_months(today, 12).isoformat()
    assert body["next_level"]["code"] == "diamond"
    assert body["progress"]["points"] == {
        "current": 8000,
        "required": 30000,
        "remaining": 22000,
        "percent": 26,
    }
    assert body["benefits"]["mall_discount"] == "0.90"
    assert body["benefits"]["free_shipping"] is True
    assert body["earn_multiplier_today"] == "2.50"  # 1.25 × 2 while accelerated
    assert body["boost"] == {
        "multiplier": "2.00",
        "from_day": today.isoformat(),
        "until": (today + dt.timedelta(days=6)).isoformat(),
    }


def test_the_top_level_has_no_next_level(member):
    put_on(member, "diamond", review_on=clock.business_date() + dt.timedelta(days=100))

    body = bearer(member).get("/api/v1/me/tier").json()

    assert body["next_level"] is None
    assert body["progress"] == {"points": None, "spend": None}


def test_a_pending_notice_is_shown(member):
    review_on = clock.business_date() + dt.timedelta(days=20)
    put_on(member, "gold", review_on=review_on)
    earn(member, 6000)
    tier_notices_send()

    notice = bearer(member).get("/api/v1/me/tier").json()["notice"]

    assert notice["review_on"] == review_on.isoformat()
    assert (notice["level"], notice["projected_level"]) == ("金卡", "银卡")
    assert (notice["points_needed"], notice["spend_needed"]) == (2000, "8000.00")


def test_the_tier_needs_authentication():
    assert Client().get("/api/v1/me/tier").status_code == 401


def test_levels_are_public_lowest_first(db):
    body = Client().get("/api/v1/tiers").json()

    assert body["count"] == 4
    assert body["window_months"] == 12
    assert [(i["code"], i["min_points"], i["min_spend"]) for i in body["items"]] == [
        ("normal", None, None),
        ("silver", 2000, "2000.00"),
        ("gold", 8000, "8000.00"),
        ("diamond", 30000, "30000.00"),
    ]
    assert body["items"][1]["benefits"]["mall_discount"] == "0.95"


def test_my_changes_newest_first(member):
    earn(member, 2000)
    tier_evaluate(member_id=member.pk)
    earn(member, 6000)
    tier_evaluate(member_id=member.pk)

    body = bearer(member).get("/api/v1/me/tier/changes").json()

    assert body["count"] == 2
    assert [(c["from_level"]["code"], c["to_level"]["code"]) for c in body["items"]] == [
        ("silver", "gold"),
        ("normal", "silver"),
    ]
    assert body["items"][0]["reason"] == "upgrade"
    assert body["items"][0]["changed_by"] is None


def test_bad_pages_are_refused(member):
    response = bearer(member).get("/api/v1/me/tier/changes?page=0")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_page"


def test_operator_reads_and_reviews_a_member(member, operator):
    put_on(member, "gold", review_on=clock.business_date() + dt.timedelta(days=60))
    client = bearer(operator)

    body = client.get(f"/api/v1/admin/members/{member.member_number}/tier").json()
    assert body["member_number"] == member.member_number
    assert body["level"]["code"] == "gold"

    response = client.post(f"/api/v1/admin/members/{member.member_number}/tier/review")

    assert response.status_code == 200
    result = response.json()
    assert result["changed"] is True
    assert result["level"]["code"] == "silver"
    assert result["change"]["reason"] == "manual_review"
    assert result["change"]["changed_by"] == operator.member_number


def test_operator_sets_a_level(member, operator):
    response = bearer(operator).put(
        f"/api/v1/admin/members/{member.member_number}/tier",
        {"level": "silver", "reason": "活动奖励"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["change"]["explanation"] == "活动奖励"
    assert MemberTier.objects.get(member=member).level.code == "silver"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"level": "platinum", "reason": "x"}, 404, "level_not_found"),
        ({"level": "gold", "reason": ""}, 422, "reason_required"),
        ({"level": 3, "reason": "x"}, 422, "validation_error"),
        ({"level": "gold", "reason": "x", "extra": 1}, 422, "validation_error"),
    ],
)
def test_setting_a_level_refuses_bad_input(member, operator, body, status, code):
    response = bearer(operator).put(
        f"/api/v1/admin/members/{member.member_number}/tier", body, content_type="application/json"
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert TierChange.objects.count() == 0
    assert not MemberTier.objects.filter(member=member).exclude(level__code="normal").exists()


def test_operator_endpoints_need_staff(member):
    client = bearer(member)

    assert client.get(f"/api/v1/admin/members/{member.member_number}/tier").status_code == 403
    assert (
        client.post(f"/api/v1/admin/members/{member.member_number}/tier/review").status_code == 403
    )


def test_unknown_member_is_404(operator):
    response = bearer(operator).post("/api/v1/admin/members/12x/tier/review")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"
