"""API authentication: app tokens, brute-force limits, sessions with CSRF, staff-only calls."""

import datetime as dt
import hashlib
import time
import uuid

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from jifen.members.models import ApiToken, User
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db

PASSWORD = "Secret-pass-123"


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Counters from other tests (or earlier runs against Redis) must not leak in."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


def post(client, url, data, **extra):
    return client.post(url, data, content_type="application/json", **extra)


def login(login_value, password=PASSWORD, ip="127.0.0.1"):
    return post(
        Client(REMOTE_ADDR=ip),
        "/api/v1/auth/token",
        {"login": login_value, "password": password},
    )


def bearer(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["phone", "email", "member_number"])
def test_token_login_by_phone_email_or_member_number(make_member, field, settings):
    settings.JIFEN_API_TOKEN_DAYS = 7
    member = make_member(email="ann@example.com")

    response = login(getattr(member, field))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    row = ApiToken.objects.get()
    assert row.user_id == member.pk
    # Only the SHA-256 is stored.
    assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    assert body["token"] not in row.token_hash
    # JSON carries milliseconds and the business time zone's offset.
    assert body["expires_at"].endswith("+08:00")
    assert dt.datetime.fromisoformat(body["expires_at"]) == row.expires_at.replace(
        microsecond=row.expires_at.microsecond // 1000 * 1000
    )
    assert abs((row.expires_at - row.created_at) - dt.timedelta(days=7)) < dt.timedelta(seconds=1)
    me = bearer(body["token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["member_number"] == member.member_number


def test_token_login_email_is_case_insensitive(make_member):
    make_member(email="ann@example.com", phone=None)

    assert login("ANN@Example.com").status_code == 200


@pytest.mark.parametrize("login_value", ["13800009999", "nobody@example.com", ""])
def test_token_login_with_unknown_login_is_refused_like_a_wrong_password(member, login_value):
    response = login(login_value)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert ApiToken.objects.count() == 0


def test_token_login_with_wrong_password_is_refused(member):
    response = login(member.phone, "wrong-password")

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "invalid_credentials", "message": "账号或密码错误。", "fields": {}}
    }
    assert ApiToken.objects.count() == 0


def test_token_login_of_deactivated_or_closed_member_is_refused(make_member):
    inactive = make_member()
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    closed = make_member()
    User.objects.filter(pk=closed.pk).update(closed_at=timezone.now())

    assert login(inactive.phone).status_code == 401
    assert login(closed.phone).status_code == 401
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"login": 13800000001, "password": PASSWORD},
        {"login": "x", "password": None},
        {"login": "x"},
        {"login": "x", "password": "y", "extra": 1},
    ],
)
def test_token_login_rejects_wrong_types_and_missing_fields(member, body):
    response = post(Client(), "/api/v1/auth/token", body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert ApiToken.objects.count() == 0


def test_token_login_with_malformed_json_is_400(member):
    response = Client().post("/api/v1/auth/token", "{login:", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_account_is_locked_after_max_failures_even_for_the_right_password(make_member, settings):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    member, other = make_member(), make_member()

    statuses = [login(member.phone, "wrong").status_code for _ in range(3)]
    locked = login(member.phone)

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    # The same account under another identifier is the same counter.
    assert login(member.member_number).status_code == 429
    assert login(other.phone).status_code == 200
    assert ApiToken.objects.filter(user=member).count() == 0


def test_success_resets_the_account_counter(member, settings):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3

    first = [login(member.phone, "wrong").status_code for _ in range(2)]
    ok = login(member.phone).status_code
    after = [login(member.phone, "wrong").status_code for _ in range(3)]

    assert first == [401, 401]
    assert ok == 200
    assert after == [401, 401, 401]
    assert login(member.phone).status_code == 429


def test_lock_ends_after_the_lock_period(member, settings):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    settings.JIFEN_LOGIN_LOCK_SECONDS = 1
    login(member.phone, "wrong")
    login(member.phone, "wrong")
    assert login(member.phone).status_code == 429

    time.sleep(2.1)

    assert login(member.phone).status_code == 200


def test_ip_is_locked_after_max_failures_across_accounts(make_member, settings):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_IP = 4
    members = [make_member() for _ in range(5)]

    statuses = [login(m.phone, "wrong", ip="10.0.0.1").status_code for m in members[:4]]
    locked = login(members[4].phone, ip="10.0.0.1")
    elsewhere = login(members[4].phone, ip="10.0.0.2")

    assert statuses == [401, 401, 401, 401]
    assert locked.status_code == 429
    assert elsewhere.status_code == 200


def test_unknown_logins_are_counted_too(settings, db):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 2

    statuses = [login("13900000000", "x").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_revoking_the_token_ends_it(member):
    issued = token_issue(user=member)
    client = bearer(issued.token)

    response = client.delete("/api/v1/auth/token")

    assert response.status_code == 204
    issued.api_token.refresh_from_db()
    assert issued.api_token.revoked_at is not None
    again = client.get("/api/v1/me")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_token"


def test_revoking_needs_a_bearer_token_not_a_session(member):
    client = Client()
    client.force_login(member)

    response = client.delete("/api/v1/auth/token")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_other_tokens_of_the_member_survive_a_revocation(member):
    first, second = token_issue(user=member), token_issue(user=member)

    bearer(first.token).delete("/api/v1/auth/token")

    assert bearer(second.token).get("/api/v1/me").status_code == 200


def test_expired_token_is_401(member):
    issued = token_issue(user=member)
    ApiToken.objects.filter(pk=issued.api_token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    response = bearer(issued.token).get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_token_of_a_deactivated_member_is_401(member):
    issued = token_issue(user=member)
    User.objects.filter(pk=member.pk).update(is_active=False)

    assert bearer(issued.token).get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("header", ["Bearer ", "Bearer nope", "bearer jf_" + "x" * 43])
def test_wrong_bearer_token_is_401_even_with_a_session(member, header):
    client = Client(headers={"Authorization": header})
    client.force_login(member)

    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_other_authorization_schemes_are_ignored(member):
    response = Client(headers={"Authorization": "Basic dXNlcjpwYXNz"}).get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_no_credentials_is_401():
    response = Client().get("/api/v1/me")

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "unauthenticated", "message": "请先登录。", "fields": {}}
    }


# --- sessions and CSRF ------------------------------------------------------------------------


def csrf_client(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return client, token


def test_session_reads_need_no_csrf_token(member):
    client, _token = csrf_client(member)

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["member_number"] == member.member_number


def test_session_write_without_csrf_token_is_refused_and_changes_nothing(member):
    client, _token = csrf_client(member)

    response = client.patch("/api/v1/me", {"name": "新名字"}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    member.refresh_from_db()
    assert member.name != "新名字"


def test_session_write_with_csrf_token_succeeds(member):
    client, token = csrf_client(member)

    response = client.patch(
        "/api/v1/me",
        {"name": "新名字"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.name == "新名字"


def test_bearer_write_needs_no_csrf_token(member):
    client = Client(
        enforce_csrf_checks=True,
        headers={"Authorization": f"Bearer {token_issue(user=member).token}"},
    )

    response = client.patch("/api/v1/me", {"name": "新名字"}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["name"] == "新名字"


# --- staff ------------------------------------------------------------------------------------


def test_member_token_on_an_operator_endpoint_is_403(member):
    response = bearer(token_issue(user=member).token).get("/api/v1/admin/adjustments")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "staff_required"


def test_member_session_on_an_operator_endpoint_is_403(member):
    client = Client()
    client.force_login(member)

    response = client.get("/api/v1/admin/adjustments")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "staff_required"


def test_operator_token_and_session_are_accepted(operator):
    session = Client()
    session.force_login(operator)

    assert bearer(token_issue(user=operator).token).get("/api/v1/admin/adjustments").json() == {
        "items": [],
        "count": 0,
    }
    assert session.get("/api/v1/admin/adjustments").status_code == 200


def test_operator_endpoint_without_credentials_is_401(db):
    response = Client().get("/api/v1/admin/adjustments")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_blocked_ip_does_not_count_against_accounts(make_member, settings):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_IP = 2
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    victim = make_member()
    login("13900000001", "x", ip="10.9.9.9")
    login("13900000002", "x", ip="10.9.9.9")

    blocked = [login(victim.phone, "x", ip="10.9.9.9").status_code for _ in range(5)]

    assert blocked == [429] * 5
    assert login(victim.phone, ip="10.0.0.7").status_code == 200
