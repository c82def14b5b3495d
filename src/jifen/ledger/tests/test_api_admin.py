"""Operator endpoints: adjustments (request, list, approve, reject) and a member's points."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jifen.ledger.models import Account, Adjustment, Entry, Lot, Transaction
from jifen.ledger.services import balances_of, points_earn
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db

URL = "/api/v1/admin/adjustments"


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


@pytest.fixture
def staff(operator):
    return bearer(operator)


@pytest.fixture
def second_operator(make_member):
    return make_member(email="second@example.com", phone=None, is_staff=True)


def state():
    return (
        Adjustment.objects.count(),
        Transaction.objects.count(),
        Entry.objects.count(),
        Lot.objects.count(),
        list(Account.objects.filter(kind="wallet").order_by("pk").values_list("available")),
    )


def adjust(client, data, **extra):
    return client.post(URL, data, content_type="application/json", **extra)


@pytest.mark.parametrize("member_field", ["member_number", "phone"])
def test_small_adjustment_applies_at_once(member, operator, staff, member_field):
    response = adjust(
        staff, {"member": getattr(member, member_field), "points": 100, "reason": "客服补偿"}
    )

    assert response.status_code == 201
    adjustment = Adjustment.objects.get()
    assert response.json() == {
        "id": adjustment.pk,
        "status": "applied",
        "points": 100,
        "member_number": member.member_number,
        "transaction_id": adjustment.transaction_id,
    }
    assert (adjustment.reason, adjustment.requested_by_id) == ("客服补偿", operator.pk)
    assert adjustment.transaction.kind == "adjust"
    assert balances_of(member.pk)["available"] == 100


def test_adjustment_by_email(make_member, staff):
    member = make_member(email="Ann@Example.com")

    response = adjust(staff, {"member": "ann@example.com", "points": 5, "reason": "r"})

    assert response.status_code == 201
    assert balances_of(member.pk)["available"] == 5


def test_negative_adjustment_removes_points(member, staff):
    points_earn(member_id=member.pk, points=100, source="purchase", reference="e1")

    response = adjust(staff, {"member": member.member_number, "points": -40, "reason": "误发"})

    assert response.status_code == 201
    assert balances_of(member.pk)["available"] == 60


def test_removing_more_than_available_is_409_and_changes_nothing(member, staff):
    points_earn(member_id=member.pk, points=10, source="purchase", reference="e1")
    before = state()

    response = adjust(staff, {"member": member.member_number, "points": -11, "reason": "r"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_points"
    assert state() == before


def test_large_adjustment_waits_for_another_operator(member, staff, second_operator, settings):
    settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD = 1000
    created = adjust(staff, {"member": member.member_number, "points": 5000, "reason": "活动"})
    adjustment_id = created.json()["id"]

    assert created.status_code == 201
    assert (created.json()["status"], created.json()["transaction_id"]) == (
        "pending_approval",
        None,
    )
    assert balances_of(member.pk)["available"] == 0

    own = staff.post(f"{URL}/{adjustment_id}/approve")
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "same_operator"
    assert balances_of(member.pk)["available"] == 0

    approved = bearer(second_operator).post(f"{URL}/{adjustment_id}/approve")

    assert approved.status_code == 200
    adjustment = Adjustment.objects.get()
    body = approved.json()
    assert body == {
        "id": adjustment_id,
        "status": "applied",
        "points": 5000,
        "member_number": member.member_number,
        "transaction_id": adjustment.transaction_id,
        "reason": "活动",
        "requested_by": adjustment.requested_by.member_number,
        "decided_by": second_operator.member_number,
        "created_at": timezone.localtime(adjustment.created_at).isoformat(timespec="milliseconds"),
        "decided_at": timezone.localtime(adjustment.decided_at).isoformat(timespec="milliseconds"),
    }
    assert balances_of(member.pk)["available"] == 5000

    twice = bearer(second_operator).post(f"{URL}/{adjustment_id}/approve")
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "adjustment_already_decided"
    assert balances_of(member.pk)["available"] == 5000


def test_rejected_adjustment_moves_nothing(member, staff, second_operator, settings):
    settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD = 1000
    adjustment_id = adjust(
        staff, {"member": member.member_number, "points": 5000, "reason": "r"}
    ).json()["id"]
    before = state()

    response = bearer(second_operator).post(f"{URL}/{adjustment_id}/reject")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["transaction_id"]) == ("rejected", None)
    assert state() == before
    assert bearer(second_operator).post(f"{URL}/{adjustment_id}/approve").status_code == 409
    assert balances_of(member.pk)["available"] == 0


@pytest.mark.parametrize("adjustment_id", ["999999", "0", "abc"])
def test_deciding_an_unknown_adjustment(staff, adjustment_id):
    response = staff.post(f"{URL}/{adjustment_id}/approve")

    assert response.status_code == (422 if adjustment_id == "abc" else 404)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"points": 0, "reason": "r"}, 422, "invalid_points"),
        ({"points": 10**30, "reason": "r"}, 422, "invalid_points"),
        ({"points": -(10**30), "reason": "r"}, 422, "invalid_points"),
        ({"points": 10, "reason": "   "}, 422, "reason_required"),
        ({"points": "10", "reason": "r"}, 422, "validation_error"),
        ({"points": 1.5, "reason": "r"}, 422, "validation_error"),
        ({"points": 10.0, "reason": "r"}, 422, "validation_error"),
        ({"points": True, "reason": "r"}, 422, "validation_error"),
        ({"points": None, "reason": "r"}, 422, "validation_error"),
        ({"points": 10}, 422, "validation_error"),
        ({"reason": "r"}, 422, "validation_error"),
        ({"points": 10, "reason": "r" * 501}, 422, "validation_error"),
        ({"points": 10, "reason": "r", "status": "applied"}, 422, "validation_error"),
    ],
)
def test_bad_adjustment_is_refused_and_changes_nothing(member, staff, body, status, code):
    before = state()

    response = adjust(staff, {"member": member.member_number, **body})

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert state() == before


@pytest.mark.parametrize("who", ["0000000000", "nobody@example.com", "", "13999999999"])
def test_adjustment_for_an_unknown_member_is_404(member, staff, who):
    before = state()

    response = adjust(staff, {"member": who, "points": 10, "reason": "r"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"
    assert state() == before


def test_adjustment_malformed_json_is_400(member, staff):
    before = state()

    response = staff.post(URL, "{points: 10}", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert state() == before


def test_members_cannot_adjust(member, make_member):
    other = make_member()
    before = state()

    response = adjust(bearer(member), {"member": other.member_number, "points": 10, "reason": "r"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "staff_required"
    assert state() == before


def test_adjustment_is_lean(member, staff):
    # Warm the system account cache as a running server would have it.
    adjust(staff, {"member": member.member_number, "points": 1, "reason": "warm"})

    with CaptureQueriesContext(connection) as queries:
        response = adjust(
            staff,
            {"member": member.member_number, "points": 1, "reason": "bench"},
            headers={"Idempotency-Key": "lean-1"},
        )

    assert response.status_code == 201
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # token; claim key; member; adjustment (wallet, insert); posting (transaction, wallet,
    # balance, entries, lot, lot movement); adjustment's transaction; store the response.
    assert len(statements) <= 14, "\n".join(statements)


def test_adjustment_list_filters_and_pages(make_member, staff, settings):
    settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD = 1000
    member = make_member()
    for points in (10, 2000, 20, 3000):
        adjust(staff, {"member": member.member_number, "points": points, "reason": "r"})

    everything = staff.get(URL).json()
    pending = staff.get(f"{URL}?status=pending_approval").json()
    page2 = staff.get(f"{URL}?page=2&page_size=3").json()

    assert everything["count"] == 4
    assert [a["points"] for a in everything["items"]] == [3000, 20, 2000, 10]
    assert [a["status"] for a in everything["items"]] == [
        "pending_approval",
        "applied",
        "pending_approval",
        "applied",
    ]
    assert [a["points"] for a in pending["items"]] == [3000, 2000]
    assert pending["count"] == 2
    assert [a["points"] for a in page2["items"]] == [10]
    assert staff.get(f"{URL}?status=bogus").status_code == 422
    assert staff.get(f"{URL}?page_size=500").status_code == 422


def test_adjustment_list_has_no_n_plus_one(make_member, staff, django_assert_max_num_queries):
    for _ in range(5):
        member = make_member()
        adjust(staff, {"member": member.member_number, "points": 10, "reason": "r"})

    # token, page, count
    with django_assert_max_num_queries(3):
        response = staff.get(URL)

    assert response.json()["count"] == 5


def test_member_points_for_an_operator(member, staff):
    points_earn(member_id=member.pk, points=80, source="purchase", reference="e1")
    expires_on = Lot.objects.get().expires_on

    response = staff.get(f"/api/v1/admin/members/{member.member_number}/points")

    assert response.status_code == 200
    assert response.json() == {
        "member_number": member.member_number,
        "name": member.name,
        "available": 80,
        "pending": 0,
        "held": 0,
        "debt": 0,
        "next_expiry": {"points": 80, "date": expires_on.isoformat()},
    }


def test_member_points_unknown_member_is_404(staff, db):
    response = staff.get("/api/v1/admin/members/0000000000/points")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"


def test_member_points_is_for_operators_only(member):
    response = bearer(member).get(f"/api/v1/admin/members/{member.member_number}/points")

    assert response.status_code == 403
