"""Payments under real concurrency (PostgreSQL): one payment per callback, refunds within
what was paid."""

import json
from decimal import Decimal

import pytest

from jifen.core.errors import ValidationFailed
from jifen.payments import services
from jifen.payments.models import Payment, PaymentCallback, Refund, SandboxTrade
from jifen.payments.tests.conftest import callback_body, signed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_50_concurrent_callbacks_pay_once(start_payment, purpose, run_concurrently):
    payment = start_payment(amount=Decimal("19.90"))
    body = callback_body(payment, trade_no="SBXRACE")
    headers = signed(body)

    results = run_concurrently(
        lambda i: services.payment_callback_handle(provider="sandbox", body=body, headers=headers),
        50,
    )

    assert all(status == "ok" for status, _ in results), results
    assert {reply.status for _, reply in results} == {200}
    assert {json.loads(reply.body)["code"] for _, reply in results} == {"SUCCESS"}
    assert purpose.calls == [payment.pk]
    payment.refresh_from_db()
    assert (payment.status, payment.provider_trade_no) == (Payment.Status.PAID, "SBXRACE")
    outcomes = list(PaymentCallback.objects.values_list("result", flat=True))
    assert (outcomes.count("paid"), outcomes.count("replay")) == (1, 49)


def test_close_racing_the_callback_ends_consistent(start_payment, purpose, run_concurrently):
    """An order timing out (close) while its callback arrives: exactly one of them wins."""
    for round_ in range(5):
        purpose.calls.clear()
        payment = start_payment(reference=f"race{round_}", amount=Decimal("5.00"))
        SandboxTrade.objects.create(
            payment=payment, trade_no=f"SBX{round_}", amount=payment.amount, currency="CNY"
        )
        body = callback_body(payment, trade_no=f"SBX{round_}")

        def act(i, payment=payment, body=body):
            if i == 0:
                return services.payment_close(purpose=payment.purpose, reference=payment.reference)
            return services.payment_callback_handle(
                provider="sandbox", body=body, headers=signed(body)
            )

        results = run_concurrently(act, 2)

        assert all(status == "ok" for status, _ in results), results
        payment.refresh_from_db()
        if purpose.calls:  # the callback won: paid, the purpose told once, close did nothing
            assert purpose.calls == [payment.pk]
            assert payment.status == Payment.Status.PAID and payment.closed_at is None
            assert not Refund.objects.filter(payment=payment).exists()
        else:  # the close won: the money that came in anyway went back, whole
            assert payment.status == Payment.Status.REFUNDED
            refund = Refund.objects.get(payment=payment)
            assert (refund.amount, refund.status) == (Decimal("5.00"), Refund.Status.SUCCEEDED)


def test_concurrent_partial_refunds_never_exceed_paid(start_payment, purpose, run_concurrently):
    payment = start_payment(amount=Decimal("10.00"))
    services.sandbox_trade_confirm(payment_number=payment.number)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID

    def refund_one(i):
        try:
            return services.payment_refund(
                payment_id=payment.pk, amount="1.00", reference=f"RF{i}", reason="退货"
            ).status
        except ValidationFailed as error:
            return error.code

    results = run_concurrently(refund_one, 50)

    assert all(status == "ok" for status, _ in results), results
    outcomes = [value for _, value in results]
    assert (outcomes.count("succeeded"), outcomes.count("refund_exceeds_paid")) == (10, 40)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (
        Payment.Status.REFUNDED,
        Decimal("10.00"),
    )
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == 10
    assert SandboxTrade.objects.get().refunded_amount == Decimal("10.00")


def test_one_refund_reference_from_50_threads_refunds_once(
    start_payment, purpose, run_concurrently
):
    payment = start_payment(amount=Decimal("10.00"))
    services.sandbox_trade_confirm(payment_number=payment.number)

    results = run_concurrently(
        lambda i: (
            services.payment_refund(
                payment_id=payment.pk, amount="3.00", reference="RF-same", reason="退货"
            ).pk
        ),
        50,
    )

    assert all(status == "ok" for status, _ in results), results
    assert len({value for _, value in results}) == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("3.00")
    assert SandboxTrade.objects.get().refunded_amount == Decimal("3.00")


def test_two_submitters_of_one_pending_refund_call_the_gateway_once(
    start_payment, purpose, run_concurrently, monkeypatch
):
    """Review N3: payments' job run twice at once (or any two submitters) on a refund left
    pending by a gateway timeout: the claim lets one of them call the gateway."""
    import datetime as dt
    import time

    from django.utils import timezone

    from jifen.payments.providers.base import ProviderError
    from jifen.payments.providers.sandbox import SandboxProvider

    payment = start_payment(amount=Decimal("30.00"))
    services.sandbox_trade_confirm(payment_number=payment.number)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    real = SandboxProvider.refund

    def timeout(self, p, r):
        raise ProviderError("gateway timeout")

    monkeypatch.setattr(SandboxProvider, "refund", timeout)
    pending = services.payment_refund(
        payment_id=payment.pk, amount="30.00", reference="RF-N3", reason="取消"
    )
    assert Refund.objects.get(pk=pending.pk).status == "pending"
    calls = []

    def slow(self, p, r):
        calls.append(r.reference)
        time.sleep(0.3)  # a gateway round trip
        return real(self, p, r)

    monkeypatch.setattr(SandboxProvider, "refund", slow)
    later = timezone.now() + dt.timedelta(minutes=20)
    results = run_concurrently(lambda i: services.refunds_retry(before=later), 3)
    assert sorted(value for _kind, value in results) == [0, 0, 1]
    assert calls == ["RF-N3"]
    payment.refresh_from_db()
    assert Refund.objects.get(pk=pending.pk).status == "succeeded"
    assert (payment.status, payment.refunded_amount) == (Payment.Status.REFUNDED, Decimal("30.00"))
    assert SandboxTrade.objects.get(payment=payment).refunded_amount == Decimal("30.00")
