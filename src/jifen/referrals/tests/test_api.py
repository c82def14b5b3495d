"""GET /api/v1/me/referrals, POST and GET /api/v1/me/codes."""

import pytest
from django.test import Client

from jifen.ledger.services import balances_of
from jifen.referrals import services
from jifen.referrals.codes_models import ProductCode

pytestmark = pytest.mark.django_db


def test_referrals_needs_a_login():
    response = Client().get("/api/v1/me/referrals")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_referrals_lists_code_link_program_and_masked_invitees(
    referrer, invite_code, make_member, bearer
):
    services.referral_register(invitee=make_member(name="张三丰"), invite_code=invite_code)

    response = bearer(referrer).get("/api/v1/me/referrals")

    assert response.status_code == 200
    body = response.json()
    assert body["invite_code"] == invite_code
    assert body["invite_url"] == f"http://testserver/invite/{invite_code}/"
    assert body["qr_url"] == f"http://testserver/invite/{invite_code}/qr.svg"
    assert body["program"] == {
        "enabled": True,
        "referrer_points": 50,
        "invitee_points": 50,
        "trigger": "register",
    }
    assert body["stats"] == {"invited": 1, "rewarded": 1, "waiting": 0, "points": 50}
    assert body["count"] == 1
    item = body["items"][0]
    assert (item["invitee"], item["status"], item["status_label"], item["points"]) == (
        "*三丰",
        "rewarded",
        "已奖励",
        50,
    )
    assert item["created_at"].endswith("+08:00")


def test_referrals_bad_page(member, bearer):
    response = bearer(member).get("/api/v1/me/referrals?page=0")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_page"
    assert bearer(member).get("/api/v1/me/referrals?page=x").status_code == 422


def test_redeem_a_code(batch, member, bearer):
    response = bearer(member).post(
        "/api/v1/me/codes", {"code": batch.plain[1]}, content_type="application/json"
    )

    assert response.status_code == 201
    body = response.json()
    row = ProductCode.objects.get(batch=batch, serial=2)
    assert body["points"] == 20 and body["batch"] == "春季瓶盖码"
    assert body["reference"] == f"code:{row.pk}"
    assert balances_of(member.pk)["available"] == 20

    listed = bearer(member).get("/api/v1/me/codes").json()
    assert listed["count"] == 1
    assert listed["items"][0]["serial"] == 2 and listed["items"][0]["points"] == 20


def test_redeem_with_an_idempotency_key_replays(batch, member, bearer):
    client = bearer(member)
    first = client.post(
        "/api/v1/me/codes",
        {"code": batch.plain[0]},
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    second = client.post(
        "/api/v1/me/codes",
        {"code": batch.plain[0]},
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert balances_of(member.pk)["available"] == 20


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "AAAAAAAAAAAAAAAA"}, 404, "code_not_found"),
        ({"code": "short"}, 422, "invalid_code"),
        ({"code": 1234567890123456}, 422, "validation_error"),
        ({"code": None}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"code": "A" * 65}, 422, "validation_error"),
        ({"code": "AAAA\u0000AAAAAAAAAAA"}, 422, "validation_error"),
        ({"code": "AAAAAAAAAAAAAAAA", "extra": 1}, 422, "validation_error"),
    ],
)
def test_redeem_bad_input(batch, member, bearer, body, status, code):
    response = bearer(member).post("/api/v1/me/codes", body, content_type="application/json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert balances_of(member.pk)["available"] == 0


def test_redeem_malformed_json(member, bearer):
    response = bearer(member).post("/api/v1/me/codes", "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_redeem_used_code_and_rate_limit(batch, make_member, bearer, settings):
    settings.JIFEN_CODE_MAX_FAILURES_PER_MEMBER = 2
    first, second = make_member(), make_member()
    bearer(first).post(
        "/api/v1/me/codes", {"code": batch.plain[0]}, content_type="application/json"
    )
    client = bearer(second)

    used = client.post(
        "/api/v1/me/codes", {"code": batch.plain[0]}, content_type="application/json"
    )
    assert used.status_code == 409 and used.json()["error"]["code"] == "code_used"
    client.post("/api/v1/me/codes", {"code": "C" * 16}, content_type="application/json")
    limited = client.post(
        "/api/v1/me/codes", {"code": batch.plain[1]}, content_type="application/json"
    )

    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too_many_code_attempts"
    assert balances_of(second.pk)["available"] == 0


def test_redeem_needs_a_login(batch):
    response = Client().post(
        "/api/v1/me/codes", {"code": batch.plain[0]}, content_type="application/json"
    )
    assert response.status_code == 401
    assert ProductCode.objects.filter(redeemed_by__isnull=False).count() == 0
