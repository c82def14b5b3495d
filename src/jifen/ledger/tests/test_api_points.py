"""GET /me/points and /me/points/history."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from jifen.core import clock
from jifen.ledger.models import Transaction
from jifen.ledger.services import points_earn, points_hold, points_spend, points_transfer
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


def earn(member, points, reference, **kwargs):
    return points_earn(
        member_id=member.pk, points=points, source="purchase", reference=reference, **kwargs
    )


def test_points_summary(member):
    soon = clock.business_date() + dt.timedelta(days=30)
    later = clock.business_date() + dt.timedelta(days=90)
    earn(member, 100, "e1", expires_on=soon)
    earn(member, 40, "e2", expires_on=later)
    earn(member, 50, "e3", pending_until=clock.business_date() + dt.timedelta(days=7))
    points_hold(member_id=member.pk, points=30, reference="h1")

    response = bearer(member).get("/api/v1/me/points")

    assert response.status_code == 200
    # The hold took 30 from the soonest-expiring lot.
    assert response.json() == {
        "available": 110,
        "pending": 50,
        "held": 30,
        "debt": 0,
        "next_expiry": {"points": 70, "date": soon.isoformat()},
    }


def test_points_summary_of_a_new_member(member):
    assert bearer(member).get("/api/v1/me/points").json() == {
        "available": 0,
        "pending": 0,
        "held": 0,
        "debt": 0,
        "next_expiry": None,
    }


def test_points_need_authentication(member):
    assert Client().get("/api/v1/me/points").status_code == 401
    assert Client().get("/api/v1/me/points/history").status_code == 401


def _history_setup(make_member, settings):
    settings.JIFEN_TRANSFER_MIN = 1
    member = make_member(name="甲")
    friend = make_member(name="乙")
    earn(member, 100, "e1", explanation="订单 A001")
    points_spend(member_id=member.pk, points=30, purpose="mall", reference="s1")
    points_transfer(
        sender_id=member.pk, recipient_id=friend.pk, points=20, reference="t1", note="生日快乐"
    )
    return member, friend


def test_history_newest_first_with_exact_rows(make_member, settings):
    member, _friend = _history_setup(make_member, settings)
    txns = {t.reference: t for t in Transaction.objects.all()}

    response = bearer(member).get("/api/v1/me/points/history")

    assert response.status_code == 200

    def at(ref):
        return timezone.localtime(txns[ref].created_at).isoformat(timespec="milliseconds")

    assert response.json() == {
        "count": 3,
        "items": [
            {
                "id": txns["t1"].pk,
                "kind": "transfer",
                "points": -20,
                "title": "转赠给 乙",
                "explanation": "留言：生日快乐",
                "created_at": at("t1"),
                "reference": "t1",
            },
            {
                "id": txns["s1"].pk,
                "kind": "spend",
                "points": -30,
                "title": "积分兑换",
                "explanation": "",
                "created_at": at("s1"),
                "reference": "s1",
            },
            {
                "id": txns["e1"].pk,
                "kind": "earn",
                "points": 100,
                "title": "获得积分",
                "explanation": "订单 A001",
                "created_at": at("e1"),
                "reference": "e1",
            },
        ],
    }


def test_history_filter_and_pages(make_member, settings):
    member, friend = _history_setup(make_member, settings)
    api = bearer(member)

    earned = api.get("/api/v1/me/points/history?kind=earn").json()
    page2 = api.get("/api/v1/me/points/history?page=2&page_size=2").json()
    received = bearer(friend).get("/api/v1/me/points/history?kind=transfer").json()

    assert (earned["count"], [i["reference"] for i in earned["items"]]) == (1, ["e1"])
    assert (page2["count"], [i["reference"] for i in page2["items"]]) == (3, ["e1"])
    assert received["count"] == 1
    assert (received["items"][0]["points"], received["items"][0]["title"]) == (20, "收到 甲 的转赠")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("kind=bonus", "invalid_kind"),
        ("page=0", "invalid_page"),
        ("page_size=101", "invalid_page"),
        ("page_size=0", "invalid_page"),
        ("page=x", "validation_error"),
        ("page_size=1.5", "validation_error"),
    ],
)
def test_history_bad_query_is_422(member, query, code):
    response = bearer(member).get(f"/api/v1/me/points/history?{query}")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


def test_history_shows_only_the_members_own_postings(make_member):
    member, other = make_member(), make_member()
    earn(other, 500, "other-1")

    assert bearer(member).get("/api/v1/me/points/history").json() == {"items": [], "count": 0}


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/me/points/nope", "/api/v1/me/x/y/z"])
def test_unknown_api_path_is_a_json_404(member, path):
    for response in (bearer(member).get(path), bearer(member).post(path)):
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "接口不存在。", "fields": {}}
        }


def test_openapi_document_lists_the_endpoints(db):
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/auth/token",
        "/api/v1/auth/register",
        "/api/v1/auth/codes",
        "/api/v1/me",
        "/api/v1/me/points",
        "/api/v1/me/points/history",
        "/api/v1/me/addresses",
        "/api/v1/me/addresses/{address_id}",
        "/api/v1/me/transfers",
        "/api/v1/admin/adjustments",
        "/api/v1/admin/adjustments/{adjustment_id}/approve",
        "/api/v1/admin/adjustments/{adjustment_id}/reject",
        "/api/v1/admin/members/{member_number}/points",
    } <= set(paths)  # other apps add their own paths
    transfer = paths["/api/v1/me/transfers"]["post"]
    assert [p["name"] for p in transfer["parameters"]] == ["Idempotency-Key"]
