"""POST /me/transfers: a member gives points to another."""

import pytest
from django.test import Client
from django.utils import timezone

from jifen.core.models import IdempotencyRecord
from jifen.ledger.models import Account, Entry, Lot, Transaction
from jifen.ledger.services import balances_of, points_earn
from jifen.members.models import User
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/transfers"


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


@pytest.fixture
def sender(make_member):
    user = make_member(name="甲")
    points_earn(member_id=user.pk, points=1000, source="purchase", reference=f"seed-{user.pk}")
    return user


@pytest.fixture
def recipient(make_member):
    return make_member(name="乙", email="yi@example.com")


def state():
    """Everything a transfer could change."""
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Lot.objects.count(),
        list(
            Account.objects.filter(kind="wallet")
            .order_by("pk")
            .values_list("available", "pending", "held")
        ),
    )


def send(client, data, **extra):
    return client.post(URL, data, content_type="application/json", **extra)


@pytest.mark.parametrize("to_field", ["phone", "email", "member_number"])
def test_transfer_by_phone_email_or_member_number(sender, recipient, to_field):
    response = send(bearer(sender), {"to": getattr(recipient, to_field), "points": 300})

    assert response.status_code == 201
    txn = Transaction.objects.get(kind="transfer")
    assert response.json() == {
        "id": txn.pk,
        "points": 300,
        "to": {"member_number": recipient.member_number, "name": "乙"},
        "balance": {
            "available": 700,
            "pending": 0,
            "held": 0,
            "debt": 0,
            "next_expiry": {
                "points": 700,
                "date": Lot.objects.get(account__member=sender).expires_on.isoformat(),
            },
        },
    }
    assert balances_of(sender.pk)["available"] == 700
    assert balances_of(recipient.pk)["available"] == 300
    assert (txn.member_id, txn.counterparty_id) == (sender.pk, recipient.pk)


def test_transfer_note_is_kept(sender, recipient):
    send(bearer(sender), {"to": recipient.phone, "points": 10, "note": " 生日快乐 "})

    assert Transaction.objects.get(kind="transfer").details["note"] == "生日快乐"


def test_transfer_reference_without_a_key_is_fresh_each_time(sender, recipient):
    api = bearer(sender)

    send(api, {"to": recipient.phone, "points": 10})
    send(api, {"to": recipient.phone, "points": 10})

    references = list(
        Transaction.objects.filter(kind="transfer").values_list("reference", flat=True)
    )
    assert len(set(references)) == 2
    assert all(r.startswith("transfer:") for r in references)
    assert balances_of(recipient.pk)["available"] == 20


def test_transfer_reference_comes_from_the_idempotency_key(sender, recipient):
    response = send(
        bearer(sender), {"to": recipient.phone, "points": 10}, headers={"Idempotency-Key": "abc-1"}
    )

    assert response.status_code == 201
    assert Transaction.objects.get(kind="transfer").reference == f"transfer:{sender.pk}:abc-1"


@pytest.mark.parametrize(
    ("points", "status", "code"),
    [
        (0, 422, "invalid_points"),
        (-10, 422, "invalid_points"),
        (10**30, 422, "invalid_points"),
        (5, 422, "transfer_below_minimum"),
        (1001, 409, "insufficient_points"),
        ("10", 422, "validation_error"),
        (10.0, 422, "validation_error"),
        (1.5, 422, "validation_error"),
        (True, 422, "validation_error"),
        (None, 422, "validation_error"),
        ([10], 422, "validation_error"),
        ({"n": 10}, 422, "validation_error"),
    ],
)
def test_bad_points_are_refused_and_nothing_changes(sender, recipient, points, status, code):
    before = state()

    response = send(bearer(sender), {"to": recipient.phone, "points": points})

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert state() == before


def test_daily_limit_is_enforced(sender, recipient, settings):
    settings.JIFEN_TRANSFER_DAILY_LIMIT = 500
    api = bearer(sender)
    assert send(api, {"to": recipient.phone, "points": 400}).status_code == 201
    before = state()

    response = send(api, {"to": recipient.phone, "points": 101})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "transfer_daily_limit"
    assert state() == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"to": "13999999999", "points": 10}, 404, "recipient_not_found"),
        ({"to": "nobody@example.com", "points": 10}, 404, "recipient_not_found"),
        ({"to": "", "points": 10}, 404, "recipient_not_found"),
        ({"to": 13999999999, "points": 10}, 422, "validation_error"),
        ({"points": 10}, 422, "validation_error"),
        ({"to": "x"}, 422, "validation_error"),
        ({"to": "x", "points": 10, "note": 5}, 422, "validation_error"),
        ({"to": "x", "points": 10, "note": "n" * 501}, 422, "validation_error"),
        ({"to": "x", "points": 10, "reference": "mine"}, 422, "validation_error"),
        ([], 422, "validation_error"),
    ],
)
def test_bad_body_is_refused_and_nothing_changes(sender, body, status, code):
    before = state()

    response = send(bearer(sender), body)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert state() == before


@pytest.mark.parametrize("raw", ["{", '{"to": "x", "points": 10', "points=10", "{'to': 'x'}"])
def test_malformed_json_is_400_and_nothing_changes(sender, raw):
    before = state()

    response = bearer(sender).post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert state() == before


def test_transfer_to_oneself_is_refused(sender):
    before = state()

    response = send(bearer(sender), {"to": sender.member_number, "points": 10})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "transfer_to_self"
    assert state() == before


def test_transfer_to_a_closed_account_is_refused(sender, recipient):
    User.objects.filter(pk=recipient.pk).update(closed_at=timezone.now())
    before = state()

    response = send(bearer(sender), {"to": recipient.phone, "points": 10})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "account_closed"
    assert state() == before


def test_transfer_needs_authentication(sender, recipient):
    before = state()

    response = send(Client(), {"to": recipient.phone, "points": 10})

    assert response.status_code == 401
    assert state() == before
    assert IdempotencyRecord.objects.count() == 0
