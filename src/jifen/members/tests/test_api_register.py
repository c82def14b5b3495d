"""App registration and one-time codes."""

import datetime as dt
import hashlib
import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from jifen.ledger.models import Account
from jifen.members.models import ApiToken, User, VerificationCode
from jifen.members.senders import ConsoleSender

pytestmark = pytest.mark.django_db

PASSWORD = "Secret-pass-123"


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture(autouse=True)
def _empty_outbox():
    ConsoleSender.outbox.clear()
    yield
    ConsoleSender.outbox.clear()


@pytest.fixture
def code_required(settings):
    settings.JIFEN_REGISTRATION_CODE_REQUIRED = True
    settings.JIFEN_CODE_SENDER = "jifen.members.senders.ConsoleSender"


@pytest.fixture
def no_code(settings):
    settings.JIFEN_REGISTRATION_CODE_REQUIRED = False


def post(url, data, ip="127.0.0.1"):
    return Client(REMOTE_ADDR=ip).post(url, data, content_type="application/json")


def register(data, ip="127.0.0.1"):
    return post("/api/v1/auth/register", data, ip=ip)


def send_code(capture, data, ip="127.0.0.1"):
    with capture(execute=True):
        response = post("/api/v1/auth/codes", data, ip=ip)
    return response


def sent_code() -> str:
    recipient, message = ConsoleSender.outbox[-1]
    return re.search(r"\d{6}", message).group()


def counts():
    return User.objects.count(), Account.objects.count(), ApiToken.objects.count()


# --- without codes ----------------------------------------------------------------------------


def test_register_by_phone_returns_a_working_token(no_code):
    response = register({"phone": "13812345678", "password": PASSWORD, "name": "小王"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at", "member_number"}
    user = User.objects.get()
    assert (user.phone, user.email, user.name) == ("13812345678", None, "小王")
    assert body["member_number"] == user.member_number
    assert Account.objects.get(member=user).available == 0
    assert ApiToken.objects.get().token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    me = Client(headers={"Authorization": f"Bearer {body['token']}"}).get("/api/v1/me")
    assert me.json()["member_number"] == user.member_number


def test_register_by_email(no_code):
    response = register({"email": "New@Example.com", "password": PASSWORD})

    assert response.status_code == 201
    assert User.objects.get().email == "new@example.com"


def test_register_with_an_invite_code_links_the_referrer(no_code, member):
    from jifen.referrals.models import Referral
    from jifen.referrals.services import invite_code_ensure

    code = invite_code_ensure(member_id=member.pk).code
    response = register({"phone": "13812345678", "password": PASSWORD, "invite_code": code})

    assert response.status_code == 201
    invitee = User.objects.get(phone="13812345678")
    referral = Referral.objects.get()
    assert (referral.referrer_id, referral.invitee_id) == (member.pk, invitee.pk)


def test_register_with_an_unknown_invite_code_creates_nothing(no_code, member):
    before = counts()
    response = register({"phone": "13812345678", "password": PASSWORD, "invite_code": "ZZZZ2345"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_invite_code"
    assert counts() == before


def test_register_with_a_taken_phone_is_409_and_creates_nothing(member, no_code):
    before = counts()

    response = register({"phone": member.phone, "password": PASSWORD})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_registered"
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"password": PASSWORD}, 422, "login_required"),
        ({"phone": "12ab", "password": PASSWORD}, 422, "invalid_phone"),
        ({"email": "not-an-email", "password": PASSWORD}, 422, "invalid_email"),
        ({"phone": "13812345678", "password": "123"}, 422, "weak_password"),
        ({"phone": "13812345678"}, 422, "validation_error"),
        ({"phone": 13812345678, "password": PASSWORD}, 422, "validation_error"),
        ({"phone": "13812345678", "password": PASSWORD, "name": 1}, 422, "validation_error"),
        (
            {"phone": "13812345678", "password": PASSWORD, "name": "x" * 101},
            422,
            "validation_error",
        ),
        ({"phone": "13812345678", "password": PASSWORD, "admin": True}, 422, "validation_error"),
    ],
)
def test_register_bad_input_is_refused_and_creates_nothing(no_code, data, status, code):
    response = register(data)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert counts() == (0, 0, 0)


def test_register_is_rate_limited_per_ip(no_code, settings):
    settings.JIFEN_REGISTER_MAX_PER_IP_HOUR = 2

    statuses = [
        register({"phone": f"1381234567{i}", "password": PASSWORD}, ip="10.1.1.1").status_code
        for i in range(3)
    ]

    assert statuses == [201, 201, 429]
    assert User.objects.count() == 2
    assert (
        register({"phone": "13812345679", "password": PASSWORD}, ip="10.1.1.2").status_code == 201
    )


# --- with codes -------------------------------------------------------------------------------


def test_code_is_sent_and_stored_only_as_a_hash(code_required, django_capture_on_commit_callbacks):
    response = send_code(django_capture_on_commit_callbacks, {"phone": "138 1234 5678"})

    assert response.status_code == 202
    row = VerificationCode.objects.get()
    assert (row.recipient, row.purpose, row.attempts, row.used_at) == (
        "13812345678",
        "register",
        0,
        None,
    )
    assert dt.datetime.fromisoformat(response.json()["expires_at"]) == row.expires_at.replace(
        microsecond=row.expires_at.microsecond // 1000 * 1000
    )
    assert abs((row.expires_at - row.created_at) - dt.timedelta(minutes=10)) < dt.timedelta(
        seconds=1
    )
    recipient, message = ConsoleSender.outbox[-1]
    code = sent_code()
    assert recipient == "13812345678"
    assert message == f"您的验证码是 {code}，10 分钟内有效。"
    assert code not in row.code_hash
    assert len(row.code_hash) == 64


def test_register_with_the_code_succeeds_once(code_required, django_capture_on_commit_callbacks):
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    code = sent_code()

    response = register({"phone": "13812345678", "password": PASSWORD, "code": code})
    again = register({"phone": "13812345678", "password": PASSWORD, "code": code})

    assert response.status_code == 201
    assert VerificationCode.objects.get().used_at is not None
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "invalid_code"
    assert User.objects.count() == 1


def test_register_by_email_with_the_code(code_required, django_capture_on_commit_callbacks):
    send_code(django_capture_on_commit_callbacks, {"email": "ann@example.com"})

    response = register({"email": "ann@example.com", "password": PASSWORD, "code": sent_code()})

    assert response.status_code == 201
    assert ConsoleSender.outbox[-1][0] == "ann@example.com"


def test_register_without_the_code_is_refused(code_required):
    response = register({"phone": "13812345678", "password": PASSWORD})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "code_required"
    assert counts() == (0, 0, 0)


def test_wrong_code_counts_an_attempt_and_creates_nothing(
    code_required, django_capture_on_commit_callbacks
):
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    wrong = "000000" if sent_code() != "000000" else "111111"

    response = register({"phone": "13812345678", "password": PASSWORD, "code": wrong})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_code"
    assert VerificationCode.objects.get().attempts == 1
    assert counts() == (0, 0, 0)


def test_code_is_dead_after_max_attempts(
    code_required, settings, django_capture_on_commit_callbacks
):
    settings.JIFEN_CODE_MAX_ATTEMPTS = 3
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    code = sent_code()
    wrong = "000000" if code != "000000" else "111111"

    for _ in range(3):
        register({"phone": "13812345678", "password": PASSWORD, "code": wrong})
    response = register({"phone": "13812345678", "password": PASSWORD, "code": code})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_code"
    assert VerificationCode.objects.get().attempts == 3
    assert User.objects.count() == 0


def test_expired_code_is_refused(code_required, django_capture_on_commit_callbacks):
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    VerificationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = register({"phone": "13812345678", "password": PASSWORD, "code": sent_code()})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_code"
    assert User.objects.count() == 0


def test_code_sent_to_another_phone_does_not_register_this_one(
    code_required, django_capture_on_commit_callbacks
):
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})

    response = register({"phone": "13900000000", "password": PASSWORD, "code": sent_code()})

    assert response.status_code == 422
    assert User.objects.count() == 0


def test_refused_registration_keeps_the_code_usable(
    code_required, django_capture_on_commit_callbacks
):
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    code = sent_code()

    weak = register({"phone": "13812345678", "password": "123", "code": code})
    ok = register({"phone": "13812345678", "password": PASSWORD, "code": code})

    assert weak.status_code == 422
    assert weak.json()["error"]["code"] == "weak_password"
    assert ok.status_code == 201


def test_only_the_newest_code_counts(code_required, settings, django_capture_on_commit_callbacks):
    settings.JIFEN_CODE_RESEND_SECONDS = 0
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    first = sent_code()
    VerificationCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }
    send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    second = sent_code()
    if first == second:
        pytest.skip("the two random codes happen to be equal")

    stale = register({"phone": "13812345678", "password": PASSWORD, "code": first})
    fresh = register({"phone": "13812345678", "password": PASSWORD, "code": second})

    assert stale.status_code == 422
    assert fresh.status_code == 201


def test_resending_within_a_minute_is_429(code_required, django_capture_on_commit_callbacks):
    first = send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})
    second = send_code(django_capture_on_commit_callbacks, {"phone": "13812345678"})

    assert first.status_code == 202
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"
    assert VerificationCode.objects.count() == 1
    assert len(ConsoleSender.outbox) == 1


def test_codes_are_rate_limited_per_ip(code_required, settings, django_capture_on_commit_callbacks):
    settings.JIFEN_CODE_MAX_PER_IP_HOUR = 2

    statuses = [
        send_code(
            django_capture_on_commit_callbacks, {"phone": f"1381234567{i}"}, ip="10.2.2.2"
        ).status_code
        for i in range(3)
    ]

    assert statuses == [202, 202, 429]
    assert VerificationCode.objects.count() == 2


def test_code_for_a_registered_phone_is_409(
    member, code_required, django_capture_on_commit_callbacks
):
    response = send_code(django_capture_on_commit_callbacks, {"phone": member.phone})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_registered"
    assert VerificationCode.objects.count() == 0
    assert ConsoleSender.outbox == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({}, "login_required"),
        ({"phone": "abc"}, "invalid_phone"),
        ({"email": "x@"}, "invalid_email"),
        ({"phone": 13812345678}, "validation_error"),
        ({"phone": "13812345678", "purpose": "other"}, "validation_error"),
    ],
)
def test_code_bad_input_is_422_and_sends_nothing(
    code_required, django_capture_on_commit_callbacks, data, code
):
    response = send_code(django_capture_on_commit_callbacks, data)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert VerificationCode.objects.count() == 0
    assert ConsoleSender.outbox == []
