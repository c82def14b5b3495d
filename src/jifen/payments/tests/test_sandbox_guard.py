"""C3: the sandbox gateway is refused on a production site (system check payments.E001) and
its page and callback answer 404 unless the sandbox is enabled (DEBUG, tests, or
JIFEN_ALLOW_SANDBOX_PAY)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from jifen.payments.checks import check_sandbox_in_production
from jifen.payments.models import Payment, PaymentCallback, SandboxTrade
from jifen.payments.providers.sandbox import sandbox_enabled
from jifen.payments.selectors import payment_pay_url
from jifen.payments.tests.conftest import callback_body, signed

REPO = Path(__file__).resolve().parents[4]
PRODUCTION = {"DEBUG": False, "TESTING": False, "JIFEN_ALLOW_SANDBOX_PAY": False}


@pytest.mark.parametrize(
    ("overrides", "enabled"),
    [
        (PRODUCTION, False),
        ({**PRODUCTION, "DEBUG": True}, True),
        ({**PRODUCTION, "TESTING": True}, True),
        ({**PRODUCTION, "JIFEN_ALLOW_SANDBOX_PAY": True}, True),
        ({**PRODUCTION, "JIFEN_ALLOW_SANDBOX_PAY": "1"}, True),
        ({**PRODUCTION, "JIFEN_ALLOW_SANDBOX_PAY": "0"}, False),
    ],
)
def test_sandbox_enabled(overrides, enabled):
    with override_settings(**overrides):
        assert sandbox_enabled() is enabled


def test_sandbox_enabled_falls_back_to_the_environment(monkeypatch, settings):
    settings.DEBUG = False
    settings.TESTING = False
    if hasattr(settings, "JIFEN_ALLOW_SANDBOX_PAY"):
        del settings.JIFEN_ALLOW_SANDBOX_PAY
    monkeypatch.delenv("JIFEN_ALLOW_SANDBOX_PAY", raising=False)
    assert sandbox_enabled() is False
    monkeypatch.setenv("JIFEN_ALLOW_SANDBOX_PAY", "1")
    assert sandbox_enabled() is True


def test_check_errors_for_the_sandbox_in_production():
    with override_settings(**PRODUCTION, JIFEN_PAYMENT_PROVIDER="sandbox"):
        errors = check_sandbox_in_production()

    assert [error.id for error in errors] == ["payments.E001"]
    assert "JIFEN_ALLOW_SANDBOX_PAY=1" in errors[0].hint


@pytest.mark.parametrize(
    "overrides",
    [
        {**PRODUCTION, "JIFEN_ALLOW_SANDBOX_PAY": True},
        {**PRODUCTION, "DEBUG": True},
        {**PRODUCTION, "JIFEN_PAYMENT_PROVIDER": "wechatpay"},
    ],
)
def test_check_is_quiet_when_allowed_or_not_the_sandbox(overrides):
    with override_settings(**overrides):
        assert check_sandbox_in_production() == []


def _manage_check_deploy(**extra_env) -> subprocess.CompletedProcess:
    # A clean environment: nothing the test run set (DJANGO_ALLOW_ASYNC_UNSAFE, JIFEN_*).
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(
        DEBUG="0",
        JIFEN_TESTING="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="shop.example.com",
        **extra_env,
    )
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "check", "--deploy"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_fails_on_the_sandbox_without_the_flag():
    done = _manage_check_deploy()

    assert done.returncode == 1
    assert "payments.E001" in done.stderr


def test_check_deploy_is_clean_with_the_flag():
    done = _manage_check_deploy(JIFEN_ALLOW_SANDBOX_PAY="1")

    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
    assert done.stderr == ""


@pytest.mark.django_db
def test_gateway_page_is_404_when_the_sandbox_is_off(start_payment, purpose):
    payment = start_payment()
    url = payment_pay_url(payment)

    with override_settings(**PRODUCTION):
        assert Client().get(url).status_code == 404
        assert Client().post(url, {"action": "confirm"}).status_code == 404

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert SandboxTrade.objects.count() == 0
    assert purpose.calls == []
    with override_settings(**{**PRODUCTION, "JIFEN_ALLOW_SANDBOX_PAY": True}):
        assert Client().get(url).status_code == 200


@pytest.mark.django_db
def test_sandbox_callback_is_404_when_the_sandbox_is_off(start_payment, purpose):
    payment = start_payment()
    body = callback_body(payment)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed(body).items()}

    with override_settings(**PRODUCTION):
        response = Client().post(
            "/pay/callback/sandbox/", body, content_type="application/json", **headers
        )

    assert response.status_code == 404
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert PaymentCallback.objects.count() == 0
    assert purpose.calls == []

    with override_settings(**{**PRODUCTION, "JIFEN_ALLOW_SANDBOX_PAY": True}):
        response = Client().post(
            "/pay/callback/sandbox/", body, content_type="application/json", **headers
        )
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert purpose.calls == [payment.pk]
