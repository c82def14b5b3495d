import json
import time
from decimal import Decimal

import pytest

from jifen.payments import services
from jifen.payments.models import Payment, PaymentCallback, Refund, SandboxTrade
from jifen.payments.tests.conftest import callback_body, signed

pytestmark = pytest.mark.django_db


def _unchanged(payment):
    fresh = Payment.objects.get(pk=payment.pk)
    return (
        fresh.status == Payment.Status.CREATED
        and fresh.paid_at is None
        and fresh.provider_trade_no == ""
        and fresh.callback_body == ""
    )


def test_signed_callback_marks_paid_and_calls_on_paid_once(start_payment, send_callback, purpose):
    payment = start_payment(amount=Decimal("9.90"))

    reply = send_callback(payment, trade_no="SBX001")

    payment.refresh_from_db()
    assert reply.status == 200 and json.loads(reply.body) == {"code": "SUCCESS"}
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no == "SBX001"
    assert payment.paid_at.isoformat() == "2026-11-01T02:00:00+00:00"
    assert json.loads(payment.callback_body)["trade_no"] == "SBX001"
    assert purpose.calls == [payment.pk]
    log = PaymentCallback.objects.get()
    assert (log.result, log.signature_ok, log.payment_id) == ("paid", True, payment.pk)
    assert log.headers["X-Sandbox-Timestamp"]


def test_callback_twice_has_one_effect(start_payment, send_callback, purpose):
    payment = start_payment()

    first = send_callback(payment)
    paid_at = Payment.objects.get().paid_at
    second = send_callback(payment)

    assert first.status == second.status == 200
    assert json.loads(second.body) == {"code": "SUCCESS"}
    assert purpose.calls == [payment.pk]
    assert Payment.objects.get().paid_at == paid_at
    assert list(PaymentCallback.objects.order_by("pk").values_list("result", flat=True)) == [
        "paid",
        "replay",
    ]


def _tampered(payment):
    body = callback_body(payment)
    headers = signed(body)
    return body.replace(b'"9.90"', b'"0.01"'), headers


def _wrong_key(payment):
    body = callback_body(payment)
    return body, signed(body, key=b"not-the-key")


def _missing_header(payment):
    body = callback_body(payment)
    headers = signed(body)
    del headers["X-Sandbox-Signature"]
    return body, headers


def _stale(payment):
    body = callback_body(payment)
    return body, signed(body, timestamp=int(time.time()) - 301)


def _future(payment):
    body = callback_body(payment)
    return body, signed(body, timestamp=int(time.time()) + 301)


def _bad_timestamp(payment):
    body = callback_body(payment)
    headers = signed(body)
    headers["X-Sandbox-Timestamp"] = "12a"
    return body, headers


@pytest.mark.parametrize(
    "forge", [_tampered, _wrong_key, _missing_header, _stale, _future, _bad_timestamp]
)
def test_bad_signature_is_refused_and_changes_nothing(start_payment, purpose, forge):
    payment = start_payment(amount=Decimal("9.90"))
    body, headers = forge(payment)

    reply = services.payment_callback_handle(provider="sandbox", body=body, headers=headers)

    assert reply.status == 400
    assert json.loads(reply.body)["code"] == "FAIL"
    assert _unchanged(payment)
    assert purpose.calls == []
    log = PaymentCallback.objects.get()
    assert (log.result, log.signature_ok, log.payment_id) == ("bad_signature", False, None)


@pytest.mark.parametrize(
    ("kwargs", "result"),
    [
        ({"amount": "9.80"}, "amount_mismatch"),
        ({"amount": "99.00"}, "amount_mismatch"),
        ({"currency": "USD"}, "amount_mismatch"),
        ({"amount": "abc"}, "malformed"),
    ],
)
def test_amount_or_currency_mismatch_changes_nothing(
    start_payment, send_callback, purpose, kwargs, result
):
    payment = start_payment(amount=Decimal("9.90"))

    reply = send_callback(payment, **kwargs)

    assert reply.status == 400
    assert _unchanged(payment)
    assert purpose.calls == []
    assert PaymentCallback.objects.get().result == result


def test_unknown_payment_and_provider(start_payment, purpose):
    body = json.dumps(
        {
            "event": "payment.succeeded",
            "out_trade_no": "P000000NOPE",
            "trade_no": "T",
            "amount": "1.00",
            "currency": "CNY",
        }
    ).encode()

    reply = services.payment_callback_handle(provider="sandbox", body=body, headers=signed(body))

    assert reply.status == 400
    assert PaymentCallback.objects.get().result == "unknown_payment"
    from jifen.core.errors import NotFound

    with pytest.raises(NotFound):
        services.payment_callback_handle(provider="paypal", body=body, headers=signed(body))


def test_not_paid_event_is_acknowledged_and_ignored(start_payment, send_callback, purpose):
    payment = start_payment()

    reply = send_callback(payment, event="payment.closed")

    assert reply.status == 200
    assert _unchanged(payment)
    assert PaymentCallback.objects.get().result == "ignored"


def test_on_paid_raising_rolls_everything_back(start_payment, send_callback, purpose):
    payment = start_payment()
    purpose.error = RuntimeError("order table locked")

    reply = send_callback(payment)

    assert reply.status == 500
    assert _unchanged(payment)
    log = PaymentCallback.objects.get()
    assert log.result == "error" and "order table locked" in log.message

    purpose.error = None  # the gateway retries later
    assert send_callback(payment).status == 200
    assert Payment.objects.get().status == Payment.Status.PAID
    assert purpose.calls == [payment.pk]


def _confirm_on_gateway(payment, capture):
    with capture(execute=True):
        return services.sandbox_trade_confirm(payment_number=payment.number)


def test_on_paid_false_refunds_in_full(start_payment, purpose, django_capture_on_commit_callbacks):
    payment = start_payment(amount=Decimal("25.00"))
    purpose.accept = False

    trade = _confirm_on_gateway(payment, django_capture_on_commit_callbacks)

    payment.refresh_from_db()
    refund = Refund.objects.get()
    assert purpose.calls == [payment.pk]
    assert payment.status == Payment.Status.REFUNDED
    assert payment.refunded_amount == Decimal("25.00")
    assert (refund.amount, refund.status, refund.reason) == (
        Decimal("25.00"),
        Refund.Status.SUCCEEDED,
        "订单已关闭",
    )
    assert refund.reference == f"{payment.number}:full"
    assert refund.provider_refund_no.startswith("SBXR")
    trade.refresh_from_db()
    assert trade.refunded_amount == Decimal("25.00")
    assert PaymentCallback.objects.get().result == "paid_rejected"


def test_paid_callback_for_a_closed_payment_is_refunded_in_full(
    start_payment, purpose, django_capture_on_commit_callbacks
):
    payment = start_payment(amount=Decimal("9.90"))
    # The member paid at the gateway; the order timed out before the callback arrived.
    SandboxTrade.objects.create(
        payment=payment, trade_no="SBXLATE", amount=payment.amount, currency="CNY"
    )
    services.payment_close(purpose=payment.purpose, reference=payment.reference)

    with django_capture_on_commit_callbacks(execute=True):
        body = callback_body(payment, trade_no="SBXLATE")
        reply = services.payment_callback_handle(
            provider="sandbox", body=body, headers=signed(body)
        )

    payment.refresh_from_db()
    assert reply.status == 200
    assert purpose.calls == []  # the purpose never hears of it
    assert payment.status == Payment.Status.REFUNDED
    assert payment.provider_trade_no == "SBXLATE"
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.reason) == (
        Decimal("9.90"),
        Refund.Status.SUCCEEDED,
        "支付单已关闭",
    )
    assert PaymentCallback.objects.get().result == "paid_after_close"


def test_gateway_confirm_delivers_signed_callback(
    start_payment, purpose, django_capture_on_commit_callbacks
):
    payment = start_payment()

    trade = _confirm_on_gateway(payment, django_capture_on_commit_callbacks)
    again = _confirm_on_gateway(payment, django_capture_on_commit_callbacks)

    payment.refresh_from_db()
    assert again.pk == trade.pk
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no == trade.trade_no
    assert purpose.calls == [payment.pk]
    log = PaymentCallback.objects.get()
    assert log.signature_ok and log.result == "paid"


def test_resend_callback_is_a_replay(start_payment, purpose, django_capture_on_commit_callbacks):
    payment = start_payment()
    _confirm_on_gateway(payment, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_callback_resend(payment_id=payment.pk)

    assert purpose.calls == [payment.pk]
    assert list(PaymentCallback.objects.order_by("pk").values_list("result", flat=True)) == [
        "paid",
        "replay",
    ]


def test_resend_without_trade_is_a_conflict(start_payment):
    from jifen.core.errors import Conflict

    payment = start_payment()
    with pytest.raises(Conflict) as error:
        services.payment_callback_resend(payment_id=payment.pk)
    assert error.value.code == "no_sandbox_trade"


def test_gateway_refuses_closed_and_expired_payments(start_payment, purpose):
    import datetime as dt

    from django.utils import timezone

    from jifen.core.errors import Conflict

    closed = start_payment(reference="A")
    services.payment_close(purpose=closed.purpose, reference="A")
    expired = start_payment(reference="B", expires_at=timezone.now() - dt.timedelta(seconds=1))

    for payment, code in ((closed, "payment_closed"), (expired, "payment_expired")):
        with pytest.raises(Conflict) as error:
            services.sandbox_trade_confirm(payment_number=payment.number)
        assert error.value.code == code
    assert SandboxTrade.objects.count() == 0


def test_replay_with_another_trade_number_is_refused_and_logged(
    start_payment, send_callback, purpose
):
    payment = start_payment()
    send_callback(payment, trade_no="SBXFIRST")
    before = Payment.objects.values().get()

    reply = send_callback(payment, trade_no="SBXOTHER")

    assert reply.status == 400
    assert json.loads(reply.body) == {"code": "FAIL", "message": "trade_no mismatch"}
    assert Payment.objects.values().get() == before
    assert before["provider_trade_no"] == "SBXFIRST"
    assert purpose.calls == [payment.pk]
    logged = list(
        PaymentCallback.objects.order_by("pk").values_list("result", "payment_id", "message")
    )
    assert logged == [
        ("paid", payment.pk, ""),
        ("conflicting_replay", payment.pk, "trade_no SBXOTHER != SBXFIRST"),
    ]
    # The true replay is still acknowledged.
    assert send_callback(payment, trade_no="SBXFIRST").status == 200
    assert PaymentCallback.objects.order_by("-pk").first().result == "replay"
    assert Payment.objects.values().get() == before
