"""Idempotency-Key on the API (DESIGN.md, "Idempotency"; core.idempotency)."""

import datetime as dt
import hashlib
import json

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from jifen.core.models import IdempotencyRecord
from jifen.ledger.models import Adjustment, Entry, Transaction
from jifen.ledger.services import balances_of, points_earn
from jifen.members.tokens import token_issue

URL = "/api/v1/me/transfers"


def bearer(user, **kwargs) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"}, **kwargs)


def fingerprint(data) -> str:
    """What the middleware hashes for a transfer request with this body (no query string)."""
    parts = [b"POST", URL.encode(), b"", json.dumps(data).encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def send(client, data, key, **extra):
    return client.post(
        URL, data, content_type="application/json", headers={"Idempotency-Key": key}, **extra
    )


@pytest.fixture
def pair(make_member):
    sender, recipient = make_member(name="甲"), make_member(name="乙")
    points_earn(member_id=sender.pk, points=1000, source="purchase", reference="seed")
    return sender, recipient


@pytest.mark.django_db
def test_replay_returns_the_first_result_and_moves_nothing_again(pair):
    sender, recipient = pair
    api = bearer(sender)

    first = send(api, {"to": recipient.phone, "points": 100}, "k-1")
    replay = send(api, {"to": recipient.phone, "points": 100}, "k-1")

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert balances_of(sender.pk)["available"] == 900
    assert balances_of(recipient.pk)["available"] == 100
    record = IdempotencyRecord.objects.get()
    assert (record.owner, record.key, record.state, record.response_status) == (
        f"user:{sender.pk}",
        "k-1",
        "done",
        201,
    )


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(pair):
    sender, recipient = pair
    api = bearer(sender)
    send(api, {"to": recipient.phone, "points": 100}, "k-1")
    before = (Transaction.objects.count(), Entry.objects.count(), balances_of(sender.pk))

    response = send(api, {"to": recipient.phone, "points": 200}, "k-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert (Transaction.objects.count(), Entry.objects.count(), balances_of(sender.pk)) == before


@pytest.mark.django_db
def test_same_key_on_another_endpoint_is_422(pair, operator):
    sender, recipient = pair
    send(bearer(sender), {"to": recipient.phone, "points": 100}, "k-1")

    response = bearer(sender).patch(
        "/api/v1/me",
        {"name": "x"},
        content_type="application/json",
        headers={"Idempotency-Key": "k-1"},
    )

    assert response.status_code == 422
    sender.refresh_from_db()
    assert sender.name == "甲"


@pytest.mark.django_db
def test_a_refusal_is_replayed_too(pair):
    sender, recipient = pair
    api = bearer(sender)

    first = send(api, {"to": recipient.phone, "points": 5000}, "k-1")
    points_earn(member_id=sender.pk, points=5000, source="purchase", reference="more")
    replay = send(api, {"to": recipient.phone, "points": 5000}, "k-1")

    assert first.status_code == 409
    assert replay.status_code == 409
    assert replay.content == first.content
    assert Transaction.objects.filter(kind="transfer").count() == 0


@pytest.mark.django_db
def test_keys_belong_to_their_caller(pair, make_member):
    sender, recipient = pair
    other = make_member()
    points_earn(member_id=other.pk, points=1000, source="purchase", reference="seed-2")

    a = send(bearer(sender), {"to": recipient.phone, "points": 100}, "shared")
    b = send(bearer(other), {"to": recipient.phone, "points": 100}, "shared")

    assert (a.status_code, b.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in b.headers
    assert balances_of(recipient.pk)["available"] == 200
    assert set(Transaction.objects.filter(kind="transfer").values_list("reference", flat=True)) == {
        f"transfer:{sender.pk}:shared",
        f"transfer:{other.pk}:shared",
    }


@pytest.mark.django_db
def test_a_new_token_of_the_same_member_replays_the_same_key(pair):
    sender, recipient = pair

    first = send(bearer(sender), {"to": recipient.phone, "points": 100}, "k-1")
    replay = send(bearer(sender), {"to": recipient.phone, "points": 100}, "k-1")

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content


@pytest.mark.django_db
def test_too_long_key_is_400(pair):
    sender, recipient = pair

    response = send(bearer(sender), {"to": recipient.phone, "points": 100}, "k" * 256)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert Transaction.objects.filter(kind="transfer").count() == 0


@pytest.mark.django_db
def test_long_key_still_makes_a_valid_reference(pair):
    sender, recipient = pair

    response = send(bearer(sender), {"to": recipient.phone, "points": 100}, "k" * 255)

    assert response.status_code == 201
    reference = Transaction.objects.get(kind="transfer").reference
    assert reference.startswith(f"transfer:{sender.pk}:sha256-")
    assert len(reference) <= 200


@pytest.mark.django_db
def test_validation_errors_are_replayed_without_effect(pair):
    sender, recipient = pair
    api = bearer(sender)

    first = send(api, {"to": recipient.phone, "points": "100"}, "k-1")
    replay = send(api, {"to": recipient.phone, "points": "100"}, "k-1")

    assert (first.status_code, replay.status_code) == (422, 422)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert Transaction.objects.filter(kind="transfer").count() == 0


@pytest.mark.django_db
def test_a_csrf_refusal_is_not_remembered(pair):
    """A session client whose CSRF token was stale may retry with the same key."""
    sender, recipient = pair
    client = Client(enforce_csrf_checks=True)
    client.force_login(sender)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    body = {"to": recipient.phone, "points": 100}

    refused = send(client, body, "k-1")
    retried = client.post(
        URL,
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k-1", "X-CSRFToken": token},
    )

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert balances_of(recipient.pk)["available"] == 100


@pytest.mark.django_db
def test_a_permission_refusal_is_not_remembered(member, operator):
    api = bearer(member)
    body = {"member": member.member_number, "points": 10, "reason": "r"}

    response = api.post(
        "/api/v1/admin/adjustments",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k-1"},
    )

    assert response.status_code == 403
    assert IdempotencyRecord.objects.count() == 0
    assert Adjustment.objects.count() == 0


@pytest.mark.django_db
def test_adjustment_replay_posts_once(member, operator):
    api = bearer(operator)
    body = {"member": member.member_number, "points": 10, "reason": "r"}

    first = api.post(
        "/api/v1/admin/adjustments",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "adj-1"},
    )
    replay = api.post(
        "/api/v1/admin/adjustments",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "adj-1"},
    )

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.content == first.content
    assert Adjustment.objects.get().reference == f"api-adjustment:{operator.pk}:adj-1"
    assert balances_of(member.pk)["available"] == 10


@pytest.mark.django_db
def test_lost_response_still_posts_once(pair):
    """Even if the stored response is lost, the ledger reference from the key holds."""
    sender, recipient = pair
    api = bearer(sender)
    first = send(api, {"to": recipient.phone, "points": 100}, "k-1")
    IdempotencyRecord.objects.all().delete()

    again = send(api, {"to": recipient.phone, "points": 100}, "k-1")

    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert balances_of(recipient.pk)["available"] == 100


@pytest.mark.django_db
def test_a_duplicate_while_the_first_is_in_flight_is_409(pair):
    sender, recipient = pair
    body = {"to": recipient.phone, "points": 100}
    IdempotencyRecord.objects.create(
        owner=f"user:{sender.pk}", key="k-1", request_hash=fingerprint(body)
    )

    response = send(bearer(sender), body, "k-1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_in_progress"
    assert Transaction.objects.filter(kind="transfer").count() == 0


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_process_is_taken_over(pair):
    sender, recipient = pair
    body = {"to": recipient.phone, "points": 100}
    record = IdempotencyRecord.objects.create(
        owner=f"user:{sender.pk}", key="k-1", request_hash=fingerprint(body)
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )

    response = send(bearer(sender), body, "k-1")

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().state == "done"
    assert balances_of(recipient.pk)["available"] == 100


# --- real concurrency on PostgreSQL -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_key_sent_fifty_times_at_once_posts_one_transfer(pair, run_concurrently):
    sender, recipient = pair
    token = token_issue(user=sender).token
    body = json.dumps({"to": recipient.phone, "points": 100})

    def call(_i):
        client = Client(headers={"Authorization": f"Bearer {token}"})
        response = client.post(
            URL, body, content_type="application/json", headers={"Idempotency-Key": "burst"}
        )
        return response.status_code, response.content

    results = run_concurrently(call, 50)

    assert all(kind == "ok" for kind, _value in results), results
    replies = [value for _kind, value in results]
    created = [content for status, content in replies if status == 201]
    others = {status for status, _content in replies if status != 201}
    assert created, replies
    assert len(set(created)) == 1  # every success is the same first result
    assert others <= {409}
    for status, content in replies:
        if status == 409:
            assert json.loads(content)["error"]["code"] == "request_in_progress"
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert balances_of(sender.pk)["available"] == 900
    assert balances_of(recipient.pk)["available"] == 100
    assert IdempotencyRecord.objects.get().state == "done"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_different_keys_at_once_post_fifty_adjustments(member, operator, run_concurrently):
    token = token_issue(user=operator).token
    body = json.dumps({"member": member.member_number, "points": 3, "reason": "bench"})

    def call(i):
        client = Client(headers={"Authorization": f"Bearer {token}"})
        return client.post(
            "/api/v1/admin/adjustments",
            body,
            content_type="application/json",
            headers={"Idempotency-Key": f"adj-{i}"},
        ).status_code

    results = run_concurrently(call, 50)

    assert results == [("ok", 201)] * 50
    assert balances_of(member.pk)["available"] == 150
    assert Adjustment.objects.filter(status="applied").count() == 50
