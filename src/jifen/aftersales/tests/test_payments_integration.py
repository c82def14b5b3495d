"""The cash step against the real payments app and its sandbox provider (no seam)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.aftersales import services
from jifen.aftersales.tests.conftest import earn
from jifen.payments.models import Payment, Refund, SandboxTrade

pytestmark = pytest.mark.django_db


def test_refund_goes_through_payments_once(
    member, operator, shop, make_order, django_capture_on_commit_callbacks
):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 2)])
    payment = Payment.objects.create(
        number="P-TEST-1",
        purpose="order",
        reference=order.number,
        member=member,
        amount=order.cash_total,
        currency="CNY",
        provider="sandbox",
        provider_trade_no="SBX-" + order.number,
        status=Payment.Status.PAID,
        description="订单",
        return_url="/",
        paid_at=timezone.now(),
    )
    SandboxTrade.objects.create(
        payment=payment, trade_no="SBX-" + order.number, amount=payment.amount, currency="CNY"
    )
    a = services.aftersale_request(
        member_id=member.pk,
        order_number=order.number,
        kind="refund_only",
        lines=[{"order_line": order.lines.get().pk, "quantity": 1}],
        reason="quality",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_refund(aftersale_id=a.pk, by=operator)
    a.refresh_from_db()
    refund = Refund.objects.get()
    assert (refund.reference, refund.amount, refund.payment_id) == (
        f"aftersale:{a.number}",
        Decimal("9.90"),
        payment.pk,
    )
    assert a.cash_refund_id == refund.pk
    assert refund.status == "succeeded"
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("9.90")


def test_missing_payment_is_recorded_for_a_retry(member, operator, shop, make_order):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 1)])
    a = services.aftersale_request(
        member_id=member.pk,
        order_number=order.number,
        kind="refund_only",
        lines=[{"order_line": order.lines.get().pk, "quantity": 1}],
        reason="quality",
    )
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    assert (a.status, a.cash_refund_id, a.cash_refund_error) == (
        "refunded",
        None,
        "找不到订单的支付记录。",
    )


@pytest.mark.django_db(transaction=True)  # outside a transaction the provider answers at once
def test_a_refund_the_provider_refuses_is_shown(member, operator, shop, make_order):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 1)])
    Payment.objects.create(
        number="P-TEST-2",
        purpose="order",
        reference=order.number,
        member=member,
        amount=order.cash_total,
        currency="CNY",
        provider="sandbox",
        provider_trade_no="SBX-" + order.number,
        status=Payment.Status.PAID,
        description="订单",
        return_url="/",
        paid_at=timezone.now(),
    )  # no sandbox trade: the gateway refuses the refund
    a = services.aftersale_request(
        member_id=member.pk,
        order_number=order.number,
        kind="refund_only",
        lines=[{"order_line": order.lines.get().pk, "quantity": 1}],
        reason="quality",
    )
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    assert a.cash_refund_id == Refund.objects.get().pk
    assert a.cash_refund_error == "no sandbox trade or amount exceeded"
