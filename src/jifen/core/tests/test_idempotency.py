import datetime as dt

import pytest
from django.http import JsonResponse
from django.test import RequestFactory
from django.utils import timezone

from jifen.core.idempotency import IdempotencyMiddleware
from jifen.core.models import IdempotencyRecord
from jifen.members.models import Address

pytestmark = pytest.mark.django_db

ADDRESS = {
    "recipient": "李华",
    "phone": "13800138000",
    "province": "北京市",
    "city": "北京市",
    "detail": "长安街 1 号",
}


def post(member, key, body=b'{"a": 1}', path="/api/v1/me/addresses"):
    request = RequestFactory().post(
        path, data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )
    request.user = member
    return request


def address_view(calls):
    def view(request):
        calls.append(1)
        Address.objects.create(member=request.user, **ADDRESS)
        return JsonResponse({"ok": len(calls)}, status=201)

    return view


def test_first_result_is_replayed_and_acts_once(member):
    calls = []
    middleware = IdempotencyMiddleware(address_view(calls))
    first = middleware(post(member, "k1"))
    second = middleware(post(member, "k1"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.content == first.content == b'{"ok": 1}'
    assert second["Idempotent-Replayed"] == "true"
    assert len(calls) == 1 and Address.objects.count() == 1


def test_same_key_with_another_body_is_refused(member):
    middleware = IdempotencyMiddleware(address_view([]))
    middleware(post(member, "k1"))
    response = middleware(post(member, "k1", body=b'{"a": 2}'))
    assert response.status_code == 422
    assert Address.objects.count() == 1


def test_a_stale_claim_is_taken_over_once(member):
    IdempotencyRecord.objects.create(
        owner=f"user:{member.pk}", key="k1", request_hash="will be replaced"
    )
    record = IdempotencyRecord.objects.get()
    calls = []
    middleware = IdempotencyMiddleware(address_view(calls))
    # Same fingerprint as the request below, and older than STALE_AFTER.
    from jifen.core.idempotency import request_fingerprint

    IdempotencyRecord.objects.filter(pk=record.pk).update(
        request_hash=request_fingerprint(post(member, "k1")),
        created_at=timezone.now() - dt.timedelta(minutes=5),
    )
    response = middleware(post(member, "k1"))
    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().state == "done"
    assert len(calls) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_slow_first_attempt_loses_once_a_retry_took_over(member):
    import threading

    from django.db import connections

    def renew_from_another_connection():
        IdempotencyRecord.objects.update(created_at=timezone.now() + dt.timedelta(seconds=1))
        connections.close_all()

    def slow_view(request):
        Address.objects.create(member=request.user, **ADDRESS)
        # Meanwhile a retry found the claim stale and renewed it (its own transaction).
        renewal = threading.Thread(target=renew_from_another_connection)
        renewal.start()
        renewal.join()
        return JsonResponse({"ok": True}, status=201)

    response = IdempotencyMiddleware(slow_view)(post(member, "k1"))
    assert response.status_code == 409
    assert Address.objects.count() == 0  # its effect rolled back
    assert IdempotencyRecord.objects.get().state == "in_flight"  # the retry's claim stays


def test_a_server_error_releases_the_claim(member):
    middleware = IdempotencyMiddleware(lambda request: JsonResponse({}, status=500))
    assert middleware(post(member, "k1")).status_code == 500
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["", "   ", "a\x00b", "k" * 256])
def test_unusable_keys_are_refused(member, key):
    response = IdempotencyMiddleware(address_view([]))(post(member, key))
    assert response.status_code == 400
    assert not Address.objects.exists() and not IdempotencyRecord.objects.exists()


def test_auth_endpoints_are_not_remembered(member):
    def token_view(request):
        return JsonResponse({"token": "secret"}, status=200)

    response = IdempotencyMiddleware(token_view)(post(member, "k1", path="/api/v1/auth/token"))
    assert response.status_code == 200
    assert not IdempotencyRecord.objects.exists()
