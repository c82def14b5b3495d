"""Payments test fixtures: a dummy purpose (not orders), payments, signed callbacks.

Tasks run inline here even when REDIS_URL is set for the PostgreSQL run (no worker there).
"""

import json
import time
from decimal import Decimal

import pytest

from jifen.payments import registry, services
from jifen.payments.models import Payment
from jifen.payments.providers.sandbox import sandbox_sign

PURPOSE = "test_dummy"


@pytest.fixture(autouse=True)
def _eager_tasks(eager_tasks):
    """Tasks (callbacks, refunds, alerts) run inline here."""


class DummyPurpose:
    """Records on_paid calls; `accept` decides what on_paid answers."""

    def __init__(self):
        self.calls: list[int] = []
        self.accept = True
        self.error: Exception | None = None

    def __call__(self, payment) -> bool:
        if self.error is not None:
            raise self.error
        self.calls.append(payment.pk)
        return self.accept


@pytest.fixture
def purpose():
    dummy = DummyPurpose()
    registry.register_purpose(PURPOSE, dummy)
    yield dummy
    registry.unregister_purpose(PURPOSE)


@pytest.fixture
def start_payment(purpose, member):
    def start(reference="R1", amount=Decimal("9.90"), **kwargs) -> Payment:
        kwargs.setdefault("member_id", member.pk)
        kwargs.setdefault("currency", "CNY")
        kwargs.setdefault("description", "测试商品")
        kwargs.setdefault("return_url", "/mall/orders/R1/")
        return services.payment_start(purpose=PURPOSE, reference=reference, amount=amount, **kwargs)

    return start


def callback_body(payment, *, amount=None, currency="CNY", trade_no="SBXTEST1", event=None):
    return json.dumps(
        {
            "event": event or "payment.succeeded",
            "out_trade_no": payment.number,
            "trade_no": trade_no,
            "amount": amount if amount is not None else f"{payment.amount:.2f}",
            "currency": currency,
            "paid_at": "2026-11-01T10:00:00+08:00",
        }
    ).encode()


def signed(body: bytes, *, timestamp=None, key=None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Sandbox-Timestamp": str(timestamp),
        "X-Sandbox-Signature": sandbox_sign(body=body, timestamp=timestamp, key=key),
    }


@pytest.fixture
def send_callback():
    def send(payment, **kwargs):
        body = callback_body(payment, **kwargs)
        return services.payment_callback_handle(provider="sandbox", body=body, headers=signed(body))

    return send
