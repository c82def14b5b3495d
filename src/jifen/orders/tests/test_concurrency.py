"""Orders under real concurrency (PostgreSQL): the last unit, double submits, a timeout
racing the payment callback."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.catalog import services as catalog_services
from jifen.catalog.services import OutOfStock
from jifen.core.errors import InsufficientPoints
from jifen.ledger.services import points_earn
from jifen.orders import services
from jifen.orders.models import Order
from jifen.orders.tests.helpers import balance, fake_payment, stock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_200_members_buying_the_last_unit_make_one_order(mall, make_member, run_concurrently):
    """200 members, 50 threads released at once from a barrier, each placing 4 members'
    orders in a row (PostgreSQL's 100 connections are shared with the test run, so not 200
    connections at once)."""
    members = []
    for n in range(200):
        m = make_member()
        points_earn(member_id=m.pk, points=1000, source="test", reference=f"race:{n}")
        members.append(m)
    sku = mall.ebook_sku
    # Leave exactly one unit.
    catalog_services.stock_adjust(sku_id=sku.pk, delta=-49, reason="只剩最后一件")

    def buy(i):
        outcomes = []
        for member in members[i * 4 : i * 4 + 4]:
            try:
                services.order_place(member_id=member.pk, lines=[(sku.pk, 1)])
                outcomes.append(("ok", member.pk))
            except OutOfStock:
                outcomes.append(("out", member.pk))
        return outcomes

    results = run_concurrently(buy, 50)
    assert all(status == "ok" for status, _ in results), results
    outcomes = [o for _, value in results for o in value]
    winners = [pk for outcome, pk in outcomes if outcome == "ok"]
    assert len(winners) == 1 and len(outcomes) == 200
    assert Order.objects.count() == 1
    assert Order.objects.get().member_id == winners[0]
    assert stock(sku) == {"reserved": 0, "sold": 1, "remaining": 0, "returned": 0}
    for member in members:
        expected = 700 if member.pk == winners[0] else 1000
        assert balance(member) == {"available": expected, "pending": 0, "held": 0}


def test_a_double_submit_at_once_makes_one_order(mall, rich, run_concurrently):
    def submit(_i):
        try:
            return services.order_place(
                member_id=rich.pk,
                lines=[(mall.white.pk, 1)],
                address_id=rich.address.pk,
                checkout_token="double",
            ).pk
        except InsufficientPoints:
            return "short"

    results = run_concurrently(submit, 10)
    assert {status for status, _ in results} == {"ok"}, results
    assert len({value for _, value in results}) == 1
    assert Order.objects.count() == 1
    assert balance(rich) == {"available": 15000, "pending": 0, "held": 5000}
    assert stock(mall.white) == {"reserved": 1, "sold": 0, "remaining": 9, "returned": 0}


def _prepare_callback(order):
    """The member paid on the sandbox gateway: its trade exists, the callback is yet to come.
    Returns a function delivering that signed callback through payments (or, without the
    payments app, calling order_payment_succeeded as payments would)."""
    try:
        from jifen.payments import services as payments
        from jifen.payments.models import SandboxTrade
        from jifen.payments.selectors import payment_for
    except ImportError:
        return lambda: services.order_payment_succeeded(fake_payment(order))
    payment = payment_for(purpose="order", reference=order.number)
    SandboxTrade.objects.create(
        payment=payment,
        trade_no=f"SBXTEST{order.pk}",
        amount=payment.amount,
        currency=payment.currency,
    )
    return lambda: payments.payment_callback_resend(payment_id=payment.pk)


def test_a_timeout_racing_the_payment_callback_has_one_winner(mall, rich, run_concurrently):
    orders = [
        services.order_place(
            member_id=rich.pk, lines=[(mall.white.pk, 1)], address_id=rich.address.pk
        )
        for _ in range(2)
    ] + [
        services.order_place(
            member_id=rich.pk, lines=[(mall.black.pk, 1)], address_id=rich.address.pk
        )
        for _ in range(1)
    ]
    callbacks = [_prepare_callback(order) for order in orders]
    Order.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    def race(i):
        if i % 2 == 0:
            return services.orders_expire_unpaid()
        return callbacks[i // 2]()

    for _round in range(1):
        run_concurrently(race, 2 * len(orders))
    paid = Order.objects.filter(status="paid").count()
    cancelled = Order.objects.filter(status="cancelled").count()
    assert paid + cancelled == len(orders)
    # Points and stock agree with whichever side won each order.
    assert balance(rich) == {"available": 20000 - 5000 * paid, "pending": 0, "held": 0}
    white = stock(mall.white)
    black = stock(mall.black)
    assert white["reserved"] == black["reserved"] == 0
    assert white["sold"] + black["sold"] == paid
    for order in Order.objects.filter(status="cancelled"):
        assert order.cancel_reason == "超时未支付"
        try:
            from jifen.payments.selectors import payment_for
        except ImportError:
            continue
        payment = payment_for(purpose="order", reference=order.number)
        # Paid after the timeout: refunded in full; else closed before it was paid.
        assert payment.status in ("closed", "refunded"), payment.status
    for order in Order.objects.filter(status="paid"):
        assert order.hold.status == "captured" and order.paid_payment_id is not None
    assert Decimal(0) == sum(
        (o.cash_total for o in Order.objects.filter(status="pending_payment")), Decimal(0)
    )


def test_payments_of_orders_with_the_same_skus_in_opposite_line_order_never_deadlock(
    mall, make_member, run_concurrently
):
    """Review N2: orders A [Y, X] and B [X, Y] paid at once. _settle_paid commits stock in
    ascending SKU id, so no deadlock reaches either callback (10 rounds)."""
    from jifen.members.services import address_create

    x_item = catalog_services.item_save(kind="physical", name="盘", category_id=mall.category.pk)
    x = catalog_services.sku_create(
        item_id=x_item.pk, points=10, cash=Decimal("5.00"), stock_initial=100
    )
    y_item = catalog_services.item_save(kind="physical", name="碟", category_id=mall.category.pk)
    y = catalog_services.sku_create(
        item_id=y_item.pk, points=10, cash=Decimal("5.00"), stock_initial=100
    )
    assert x.pk < y.pk
    outcomes = []
    for round_ in range(10):
        members = []
        for _n in range(2):
            m = make_member()
            points_earn(member_id=m.pk, points=100, source="test", reference=f"p:{m.pk}")
            m.address = address_create(
                member=m,
                data={
                    "recipient": "张三",
                    "phone": "13800138000",
                    "province": "上海市",
                    "city": "上海市",
                    "district": "浦东新区",
                    "detail": "世纪大道 100 号",
                    "is_default": True,
                },
            )
            members.append(m)
        placed = [
            services.order_place(
                member_id=m.pk,
                lines=lines,
                address_id=m.address.pk,
                checkout_token=f"r{round_}:{i}",
            )
            for i, (m, lines) in enumerate(
                zip(members, ([(y.pk, 1), (x.pk, 1)], [(x.pk, 1), (y.pk, 1)]), strict=True)
            )
        ]
        pays = [fake_payment(o, pk=1000 + round_ * 2 + i) for i, o in enumerate(placed)]
        outcomes += run_concurrently(
            lambda i, pays=pays: services.order_payment_succeeded(pays[i]), 2
        )
    assert outcomes == [("ok", True)] * 20
    assert stock(x) == stock(y) == {"reserved": 0, "sold": 20, "remaining": 80, "returned": 0}


def test_the_two_refund_jobs_at_once_send_a_pending_cancel_refund_once(
    mall, rich, run_concurrently, monkeypatch
):
    """Review N3: a cancel's refund left pending by a gateway timeout; the orders job and
    payments' job (twice) run together. Only payments re-sends, under a claim: the gateway
    is called once and the books agree with it."""
    import time

    from jifen.payments.models import Payment, Refund, SandboxTrade
    from jifen.payments.providers.base import ProviderError
    from jifen.payments.providers.sandbox import SandboxProvider
    from jifen.payments.selectors import payment_for
    from jifen.payments.services import refunds_retry, sandbox_trade_confirm

    order = services.order_place(
        member_id=rich.pk,
        lines=[(mall.white.pk, 1)],
        address_id=rich.address.pk,
        checkout_token="n3",
    )
    payment = payment_for(purpose="order", reference=order.number)
    sandbox_trade_confirm(payment_number=payment.number)
    assert Order.objects.get(pk=order.pk).status == "paid"
    real = SandboxProvider.refund

    def down(self, p, r):
        raise ProviderError("gateway timeout")

    monkeypatch.setattr(SandboxProvider, "refund", down)
    services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert Order.objects.get(pk=order.pk).cash_refund_status == "pending"
    calls = []

    def slow(self, p, r):
        calls.append(r.reference)
        time.sleep(0.3)  # a gateway round trip
        return real(self, p, r)

    monkeypatch.setattr(SandboxProvider, "refund", slow)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    later = timezone.now() + dt.timedelta(minutes=20)

    def job(i):
        if i == 0:
            return services.orders_cash_refunds_retry(now=later)
        return refunds_retry(before=later)

    results = run_concurrently(job, 3)
    assert all(kind == "ok" for kind, _value in results), results
    assert calls == [f"order:{order.number}:cancel"]
    services.orders_cash_refunds_retry(now=later)
    refund = Refund.objects.get()
    payment.refresh_from_db()
    o = Order.objects.get(pk=order.pk)
    assert (refund.status, o.cash_refund_status, o.cash_refund_id) == (
        "succeeded",
        "succeeded",
        refund.pk,
    )
    assert (payment.status, payment.refunded_amount) == (Payment.Status.REFUNDED, Decimal("19.90"))
    assert SandboxTrade.objects.get(payment=payment).refunded_amount == Decimal("19.90")
