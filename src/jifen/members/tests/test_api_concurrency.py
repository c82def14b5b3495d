"""Bursts against the account endpoints on PostgreSQL (and Redis when REDIS_URL is set)."""

import json
import re
import uuid

import pytest
from django.test import Client

from jifen.members.models import Address, ApiToken, User, VerificationCode
from jifen.members.senders import ConsoleSender
from jifen.members.tokens import token_issue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "Secret-pass-123"


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


def post(url, data):
    return Client().post(url, json.dumps(data), content_type="application/json")


def test_fifty_simultaneous_guesses_get_exactly_the_allowed_password_checks(
    member, settings, run_concurrently
):
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    settings.JIFEN_LOGIN_MAX_FAILURES_PER_IP = 1000

    results = run_concurrently(
        lambda i: (
            post(
                "/api/v1/auth/token", {"login": member.phone, "password": f"guess-{i}"}
            ).status_code
        ),
        50,
    )

    statuses = sorted(value for _kind, value in results)
    assert statuses == [401] * 5 + [429] * 45
    assert ApiToken.objects.count() == 0


def test_fifty_simultaneous_code_guesses_count_at_most_the_allowed_attempts(
    settings, run_concurrently, db
):
    settings.JIFEN_REGISTRATION_CODE_REQUIRED = True
    settings.JIFEN_CODE_SENDER = "jifen.members.senders.ConsoleSender"
    settings.JIFEN_CODE_MAX_ATTEMPTS = 5
    settings.JIFEN_REGISTER_MAX_PER_IP_HOUR = 1000
    ConsoleSender.outbox.clear()
    assert post("/api/v1/auth/codes", {"phone": "13812345678"}).status_code == 202
    code = re.search(r"\d{6}", ConsoleSender.outbox[-1][1]).group()
    wrong = "000000" if code != "000000" else "111111"

    results = run_concurrently(
        lambda i: (
            post(
                "/api/v1/auth/register",
                {"phone": "13812345678", "password": PASSWORD, "code": wrong},
            ).status_code
        ),
        50,
    )
    late = post(
        "/api/v1/auth/register", {"phone": "13812345678", "password": PASSWORD, "code": code}
    )

    assert [value for _kind, value in results] == [422] * 50
    assert VerificationCode.objects.get().attempts == 5
    assert late.status_code == 422  # the right code, after the attempts ran out
    assert User.objects.count() == 0


def test_one_code_used_by_fifty_registrations_at_once_registers_one_member(
    settings, run_concurrently, db
):
    settings.JIFEN_REGISTRATION_CODE_REQUIRED = True
    settings.JIFEN_CODE_SENDER = "jifen.members.senders.ConsoleSender"
    settings.JIFEN_CODE_MAX_ATTEMPTS = 100
    settings.JIFEN_REGISTER_MAX_PER_IP_HOUR = 1000
    ConsoleSender.outbox.clear()
    post("/api/v1/auth/codes", {"phone": "13812345678"})
    code = re.search(r"\d{6}", ConsoleSender.outbox[-1][1]).group()

    results = run_concurrently(
        lambda i: (
            post(
                "/api/v1/auth/register",
                {"phone": "13812345678", "password": PASSWORD, "code": code},
            ).status_code
        ),
        50,
    )

    statuses = sorted(value for _kind, value in results)
    assert statuses[0] == 201 and statuses.count(201) == 1
    assert set(statuses[1:]) <= {409, 422}
    assert User.objects.count() == 1
    assert ApiToken.objects.count() == 1


def test_thirty_simultaneous_addresses_keep_one_default_and_the_limit(member, run_concurrently):
    token = token_issue(user=member).token
    address = {"recipient": "王", "phone": "13812345678", "province": "p", "city": "c"}

    def create(i):
        client = Client(headers={"Authorization": f"Bearer {token}"})
        response = client.post(
            "/api/v1/me/addresses",
            json.dumps({**address, "detail": f"{i} 号", "is_default": i % 3 == 0}),
            content_type="application/json",
        )
        return response.status_code, response.json().get("error", {}).get("code")

    results = run_concurrently(create, 30)

    assert (
        sorted(value for _kind, value in results)
        == [(201, None)] * 20 + [(422, "too_many_addresses")] * 10
    )
    assert Address.objects.filter(member=member).count() == 20
    assert Address.objects.filter(member=member, is_default=True).count() == 1
