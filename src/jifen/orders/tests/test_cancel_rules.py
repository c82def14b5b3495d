"""Regressions of the mall review: cancelling beside after-sales (M5), the recorded cash
refund of a cancelled paid order with its retries (M4), checkout token replays (m1)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from jifen.core.errors import Conflict
from jifen.orders import services
from jifen.orders.models import Order, OrderEvent
from jifen.orders.tests.helpers import fresh, snapshot
from jifen.payments.models import Payment, Refund
from jifen.payments.providers.base import RefundResult
from jifen.payments.providers.sandbox import SandboxProvider

pytestmark = pytest.mark.django_db


def _paid(member, lines, capture, checkout="t1"):
    from jifen.payments.selectors import payment_for
    from jifen.payments.services import sandbox_trade_confirm

    order = services.order_place(
        member_id=member.pk, lines=lines, address_id=member.address.pk, checkout_token=checkout
    )
    payment = payment_for(purpose="order", reference=order.number)
    with capture(execute=True):
        sandbox_trade_confirm(payment_number=payment.number)
    order = fresh(order)
    assert order.status == "paid"
    return order, payment


def _ask(order, qty=1):
    from jifen.aftersales.services import aftersale_request

    return aftersale_request(
        member_id=order.member_id,
        order_number=order.number,
        kind="refund_only",
        lines=[{"order_line": order.lines.get().pk, "quantity": qty}],
        reason="other",
    )


# --- M5: after-sales and cancel ---------------------------------------------------------------


def test_cancel_refused_while_an_aftersale_is_open(mall, rich, django_capture_on_commit_callbacks):
    from jifen.aftersales.services import aftersale_cancel

    order, payment = _paid(rich, [(mall.white.pk, 2)], django_capture_on_commit_callbacks)
    a = _ask(order)
    before = snapshot(rich, mall.white)
    with pytest.raises(Conflict) as error:
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert error.value.code == "aftersale_open"
    assert snapshot(rich, mall.white) == before
    order = fresh(order)
    assert (order.status, order.cash_refund_status, order.cancel_reason) == ("paid", "", "")
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0")
    # once the member withdraws the request, cancelling works again
    aftersale_cancel(aftersale_id=a.pk, member_id=rich.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    payment.refresh_from_db()
    assert fresh(order).status == "cancelled"
    assert order.cash_total == Decimal("19.80")  # 2 × ¥9.90, free shipping over 10,000 points
    assert payment.refunded_amount == Decimal("19.80")


def test_cancel_refused_once_an_aftersale_refunded_something(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    from jifen.aftersales.services import aftersale_decide

    order, payment = _paid(rich, [(mall.white.pk, 2)], django_capture_on_commit_callbacks)
    a = _ask(order)
    with django_capture_on_commit_callbacks(execute=True):
        aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("9.90")
    before = snapshot(rich, mall.white)
    with pytest.raises(Conflict) as error:
        services.order_cancel(order_id=order.pk, by=operator, actor_label="运营")
    assert error.value.code == "aftersale_open"
    assert snapshot(rich, mall.white) == before
    payment.refresh_from_db()
    assert (fresh(order).status, payment.refunded_amount) == ("paid", Decimal("9.90"))


# --- M4: the cash refund of a cancelled paid order ------------------------------------------


def test_cancel_records_the_succeeded_cash_refund(mall, rich, django_capture_on_commit_callbacks):
    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    order = fresh(order)
    refund = Refund.objects.get(payment=payment)
    assert (refund.reference, refund.amount, refund.status) == (
        f"order:{order.number}:cancel",
        Decimal("19.90"),
        "succeeded",
    )
    assert (
        order.cash_refund_status,
        order.cash_refund_reference,
        order.cash_refund_id,
        order.cash_refund_error,
        order.cash_refund_attempts,
        order.shipping_refunded,
    ) == ("succeeded", f"order:{order.number}:cancel", refund.pk, "", 1, True)


def _refuse_refunds(monkeypatch):
    monkeypatch.setattr(
        SandboxProvider,
        "refund",
        lambda self, payment, refund: RefundResult(status="failed", message="渠道维护中"),
    )


def test_a_refused_cash_refund_is_recorded_and_retried_with_a_new_reference(
    mall, rich, operator, monkeypatch, django_capture_on_commit_callbacks
):
    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    _refuse_refunds(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    order = fresh(order)
    first = Refund.objects.get(reference=f"order:{order.number}:cancel")
    assert (order.status, order.cash_refund_status, order.cash_refund_error) == (
        "cancelled",
        "failed",
        "渠道维护中",
    )
    assert (order.cash_refund_id, first.status) == (first.pk, "failed")
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0")  # a failed refund gives its amount back

    monkeypatch.undo()
    events = OrderEvent.objects.filter(order=order).count()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cash_refund_retry(order_id=order.pk, by=operator, actor_label="运营")
    order = fresh(order)
    second = Refund.objects.get(reference=f"order:{order.number}:cancel:2")
    assert (
        order.cash_refund_status,
        order.cash_refund_reference,
        order.cash_refund_id,
        order.cash_refund_error,
        order.cash_refund_attempts,
    ) == ("succeeded", f"order:{order.number}:cancel:2", second.pk, "", 2)
    assert (second.amount, second.status) == (Decimal("19.90"), "succeeded")
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (Decimal("19.90"), Payment.Status.REFUNDED)
    event = OrderEvent.objects.filter(order=order).last()
    assert OrderEvent.objects.filter(order=order).count() == events + 1
    assert (event.from_status, event.to_status, event.actor_id, event.actor_label) == (
        "cancelled",
        "cancelled",
        operator.pk,
        "运营",
    )
    with pytest.raises(Conflict) as error:  # nothing failed any more
        services.order_cash_refund_retry(order_id=order.pk)
    assert error.value.code == "refund_not_failed"
    assert fresh(order).cash_refund_attempts == 2 and Refund.objects.count() == 2


def test_a_refund_refused_before_it_exists_is_recorded(
    mall, rich, django_capture_on_commit_callbacks
):
    """A DomainError from payment_refund (no Refund row) used to leave no trace at all.
    refund_exceeds_paid while what succeeded does not cover the order: failed."""
    from jifen.payments.services import payment_refund

    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment_id=payment.pk, amount=Decimal("15.00"), reference="x", reason="手工")
    assert Refund.objects.get(reference="x").status == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    order = fresh(order)
    assert (order.cash_refund_status, order.cash_refund_id) == ("failed", None)
    assert "超过可退金额" in order.cash_refund_error
    assert not Refund.objects.filter(reference=f"order:{order.number}:cancel").exists()


def test_refund_exceeds_paid_waits_on_the_payments_pending_refund(
    mall, rich, django_capture_on_commit_callbacks
):
    """Review N4: refund_exceeds_paid because another refund of the payment is still
    pending: the order follows that refund (pending), and settles from its final status."""
    from jifen.payments.services import payment_refund

    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    # made in the test's transaction: its after-commit submit has not run (pending)
    earlier = payment_refund(
        payment_id=payment.pk, amount=Decimal("19.90"), reference="x", reason="手工"
    )
    with django_capture_on_commit_callbacks(execute=False):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    order = services.order_cash_refund_send(order_id=order.pk)
    assert (order.cash_refund_status, order.cash_refund_id) == ("pending", earlier.pk)
    assert "x" in order.cash_refund_error
    from jifen.payments.services import refund_submit

    assert refund_submit(refund_id=earlier.pk).status == "succeeded"
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    assert services.orders_cash_refunds_retry() == 1
    order = fresh(order)
    assert (order.cash_refund_status, order.cash_refund_id, order.cash_refund_error) == (
        "succeeded",
        earlier.pk,
        "",
    )
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("19.90") and Refund.objects.count() == 1


def test_an_unexpected_error_after_the_refund_exists_follows_the_refund(
    mall, rich, operator, monkeypatch, django_capture_on_commit_callbacks
):
    """Review N4: the gateway call raises something that is not a ProviderError after the
    Refund was made and reserved: the order records that Refund, pending (not failed); an
    operator's retry is refused; payments' job finishes it; the orders job reads it."""
    from jifen.payments.services import refunds_retry

    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)

    def boom(self, payment, refund):
        raise TimeoutError("read timed out")

    with monkeypatch.context() as patch:
        patch.setattr(SandboxProvider, "refund", boom)
        with django_capture_on_commit_callbacks(execute=True):
            services.order_cancel(order_id=order.pk, member_id=rich.pk)
    order = fresh(order)
    first = Refund.objects.get(reference=f"order:{order.number}:cancel")
    assert (order.cash_refund_status, order.cash_refund_id, order.cash_refund_error) == (
        "pending",
        first.pk,
        "",
    )
    assert first.status == "pending"
    with pytest.raises(Conflict) as error:
        services.order_cash_refund_retry(order_id=order.pk, by=operator)
    assert error.value.code == "refund_not_failed"
    later = timezone.now() + dt.timedelta(minutes=30)
    Refund.objects.filter(pk=first.pk).update(submitting_at=None)  # the broken claim, stale
    refunds_retry(before=later)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    assert services.orders_cash_refunds_retry(now=later) == 1
    order = fresh(order)
    payment.refresh_from_db()
    assert (order.cash_refund_status, order.cash_refund_id) == ("succeeded", first.pk)
    assert payment.refunded_amount == Decimal("19.90")
    assert list(Refund.objects.values_list("status", flat=True)) == ["succeeded"]


def test_the_orders_job_reads_a_pending_refund_and_never_sends_it(
    mall, rich, monkeypatch, django_capture_on_commit_callbacks
):
    """Review N3: only payments' job re-sends a pending refund to the gateway."""
    from jifen.payments.providers.base import ProviderError

    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    calls = []

    def timeout(self, payment, refund):
        calls.append(refund.reference)
        raise ProviderError("gateway timeout")

    monkeypatch.setattr(SandboxProvider, "refund", timeout)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert fresh(order).cash_refund_status == "pending"
    sent = len(calls)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    assert services.orders_cash_refunds_retry() == 1
    assert len(calls) == sent  # read only
    order = fresh(order)
    assert (order.cash_refund_status, Refund.objects.get().status) == ("pending", "pending")


def test_the_periodic_job_retries_failed_refunds_and_stops_after_the_cap(
    mall, rich, monkeypatch, django_capture_on_commit_callbacks
):
    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    _refuse_refunds(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    later = timezone.now() + dt.timedelta(minutes=11)
    assert services.orders_cash_refunds_retry(now=timezone.now()) == 0  # too recent
    with django_capture_on_commit_callbacks(execute=True):
        assert services.orders_cash_refunds_retry(now=later) == 1  # attempt 2, refused again
    order = fresh(order)
    assert (order.cash_refund_status, order.cash_refund_attempts) == ("failed", 2)
    Order.objects.filter(pk=order.pk).update(cash_refund_attempts=services.MAX_AUTO_REFUND_ATTEMPTS)
    assert services.orders_cash_refunds_retry(now=later) == 0  # left to an operator
    monkeypatch.undo()
    Order.objects.filter(pk=order.pk).update(cash_refund_attempts=2)
    from jifen.orders.tasks import orders_cash_refunds_retry_task

    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_cash_refunds_retry_task() == 1
    order = fresh(order)
    assert (order.cash_refund_status, order.cash_refund_reference) == (
        "succeeded",
        f"order:{order.number}:cancel:3",
    )
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("19.90")


def test_the_periodic_job_sends_a_pending_refund_whose_after_commit_step_never_ran(
    mall, rich, django_capture_on_commit_callbacks
):
    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):  # the process died after commit
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert fresh(order).cash_refund_status == "pending" and not Refund.objects.exists()
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    assert services.orders_cash_refunds_retry() == 1
    order = fresh(order)
    assert order.cash_refund_status == "succeeded"
    assert Refund.objects.get().reference == f"order:{order.number}:cancel"


def test_admin_retry_action(
    mall, rich, make_member, monkeypatch, django_capture_on_commit_callbacks
):
    boss = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(boss).objects.filter(pk=boss.pk).update(is_superuser=True)
    client = Client()
    client.force_login(boss)
    order, payment = _paid(rich, [(mall.white.pk, 1)], django_capture_on_commit_callbacks)
    _refuse_refunds(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    monkeypatch.undo()
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "渠道维护中" in page
    assert client.get("/admin/orders/order/?cash_refund_status__exact=failed").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/orders/order/{order.pk}/retry_cash_refund/", {"_form_submitted": "on"}
        )
    assert response.status_code == 302
    order = fresh(order)
    assert (order.cash_refund_status, order.cash_refund_attempts) == ("succeeded", 2)
    assert OrderEvent.objects.filter(order=order).last().actor_id == boss.pk


# --- m1: checkout token replays ---------------------------------------------------------------


def test_a_checkout_token_replayed_with_other_content_is_refused(mall, rich):
    from jifen.members.services import address_create

    first = services.order_place(
        member_id=rich.pk,
        lines=[(mall.white.pk, 1)],
        address_id=rich.address.pk,
        checkout_token="tok",
    )
    same = services.order_place(
        member_id=rich.pk,
        lines=[[mall.white.pk, 1]],
        address_id=rich.address.pk,
        checkout_token="tok",
    )
    assert same.pk == first.pk
    other = address_create(
        member=rich,
        data={
            "recipient": "李四",
            "phone": "13900139000",
            "province": "北京市",
            "city": "北京市",
            "district": "朝阳区",
            "detail": "建国路 1 号",
        },
    )
    before = snapshot(rich, mall.white, mall.black)
    for lines, address in (
        ([(mall.white.pk, 2)], rich.address.pk),
        ([(mall.black.pk, 1)], rich.address.pk),
        ([(mall.white.pk, 1)], other.pk),
    ):
        with pytest.raises(Conflict) as error:
            services.order_place(
                member_id=rich.pk, lines=lines, address_id=address, checkout_token="tok"
            )
        assert error.value.code == "checkout_token_reused"
    assert snapshot(rich, mall.white, mall.black) == before
