"""orders.services: placing, paying, cancelling, timing out, receipt, transitions."""

import datetime as dt
import importlib.util
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.catalog import services as catalog_services
from jifen.catalog.models import StockReservation
from jifen.catalog.services import OutOfStock
from jifen.core.errors import Conflict, InsufficientPoints, NotFound, ValidationFailed
from jifen.ledger.models import Hold
from jifen.ledger.services import points_earn
from jifen.members.services import address_create
from jifen.orders import services
from jifen.orders.models import Order, OrderEvent
from jifen.orders.tests.helpers import (
    balance,
    events,
    fake_payment,
    fresh,
    lots,
    quota,
    snapshot,
    stock,
)

pytestmark = pytest.mark.django_db
S = Order.Status
PENDING, PAID = S.PENDING_PAYMENT, S.PAID


def _vouchers_available() -> bool:
    try:
        return importlib.util.find_spec("jifen.vouchers.services") is not None
    except ModuleNotFoundError:
        return False


def place(member, lines, **kwargs):
    kwargs.setdefault("address_id", getattr(getattr(member, "address", None), "pk", None))
    return services.order_place(member_id=member.pk, lines=lines, **kwargs)


def free_shipping(settings):
    settings.JIFEN_FREE_SHIPPING_OVER = "0"


# --- placing -----------------------------------------------------------------------------------


def test_an_order_with_cash_holds_points_reserves_stock_and_waits_for_payment(mall, rich):
    order = place(rich, [(mall.white.pk, 1)], checkout_token="t1")

    order = fresh(order)
    assert order.status == PENDING
    assert order.number.startswith("J") and len(order.number) == 14
    # 5000 points + ¥9.90; the goods are worth 9.90 + 5000 × 0.01 = ¥59.90 < ¥99: ¥10 shipping.
    assert (order.points_subtotal, order.points_total) == (5000, 5000)
    assert (order.cash_subtotal, order.shipping_fee, order.cash_total) == (
        Decimal("9.90"),
        Decimal("10.00"),
        Decimal("19.90"),
    )
    assert order.needs_shipping is True
    assert (order.ship_name, order.ship_phone) == ("张三", "13800138000")
    assert order.ship_region == "上海市 上海市 浦东新区"
    assert order.ship_detail == "世纪大道 100 号"
    assert order.hold.status == Hold.Status.HELD and order.hold.points == 5000
    assert balance(rich) == {"available": 15000, "pending": 0, "held": 5000}
    assert stock(mall.white) == {"reserved": 1, "sold": 0, "remaining": 9, "returned": 0}
    assert quota(rich, mall.earbuds) == 1
    expected_expiry = order.created_at + dt.timedelta(minutes=30)
    assert abs((order.expires_at - expected_expiry).total_seconds()) < 5
    reservation = StockReservation.objects.get(reference=f"order:{order.number}:1")
    assert reservation.expires_at == order.expires_at + dt.timedelta(minutes=15)
    line = order.lines.get()
    assert (line.quantity, line.unit_points, line.unit_cash, line.points_paid, line.cash_paid) == (
        1,
        5000,
        Decimal("9.90"),
        5000,
        Decimal("9.90"),
    )
    assert (line.item_name, line.sku_label, line.kind, line.fulfilment) == (
        "无线蓝牙耳机",
        "白色",
        "physical",
        "shipping",
    )
    assert events(order) == [("", PENDING, "member")]


def test_shipping_is_free_above_the_threshold(mall, rich):
    # 2 × (5000 points + ¥9.90): 19.80 + 100.00 = ¥119.80 ≥ ¥99.
    order = fresh(place(rich, [(mall.white.pk, 2)]))
    assert (order.shipping_fee, order.cash_total, order.points_total) == (
        Decimal("0.00"),
        Decimal("19.80"),
        10000,
    )


def test_tier_discount_floors_points_and_free_shipping_tier(mall, rich, monkeypatch):
    monkeypatch.setattr("jifen.tiers.selectors.member_mall_discount", lambda _id: Decimal("0.95"))
    monkeypatch.setattr("jifen.tiers.selectors.member_free_shipping", lambda _id: True)
    # mug 300 × 0.95 = 285; earbuds 5000 × 0.95 = 4750.
    order = fresh(place(rich, [(mall.mug_sku.pk, 1), (mall.white.pk, 1)]))
    assert (order.points_subtotal, order.points_total) == (5300, 5035)
    assert order.discount_factor == Decimal("0.95")
    assert (order.shipping_fee, order.cash_total) == (Decimal("0.00"), Decimal("9.90"))
    assert [line.points_paid for line in order.lines.all()] == [285, 4750]
    assert balance(rich)["held"] == 5035


def test_points_only_physical_order_is_paid_at_once(mall, rich, settings):
    free_shipping(settings)
    order = fresh(place(rich, [(mall.mug_sku.pk, 2)]))

    assert order.status == PAID and order.paid_at is not None
    assert order.cash_total == Decimal("0.00") and order.expires_at is None
    assert order.hold.status == Hold.Status.CAPTURED
    assert balance(rich) == {"available": 19400, "pending": 0, "held": 0}
    assert stock(mall.mug_sku) == {"reserved": 0, "sold": 2, "remaining": 1, "returned": 0}
    assert events(order) == [("", PENDING, "member"), (PENDING, PAID, "system")]


def test_points_only_virtual_order_is_fulfilled_and_completed(mall, rich):
    order = fresh(place(rich, [(mall.ebook_sku.pk, 1)], address_id=None))

    assert order.needs_shipping is False and order.ship_name == ""
    assert order.shipping_fee == Decimal("0.00")
    assert balance(rich)["available"] == 19700
    assert stock(mall.ebook_sku)["sold"] == 1
    if _vouchers_available():
        assert order.status == S.COMPLETED
        assert events(order)[-1] == (PAID, S.COMPLETED, "system")
    else:  # fulfilled later, when the vouchers app is there
        assert order.status == PAID


def test_a_repeated_checkout_token_returns_the_first_order(mall, rich):
    first = place(rich, [(mall.white.pk, 1)], checkout_token="same")
    again = place(rich, [(mall.white.pk, 1)], checkout_token="same")

    assert again.pk == first.pk
    assert Order.objects.count() == 1
    assert balance(rich)["held"] == 5000
    assert stock(mall.white)["reserved"] == 1


def test_another_members_token_is_their_own(mall, rich, make_member):
    other = make_member()
    points_earn(member_id=other.pk, points=1000, source="test", reference="o")
    mine = place(rich, [(mall.ebook_sku.pk, 1)], checkout_token="tok")
    theirs = place(other, [(mall.ebook_sku.pk, 1)], checkout_token="tok")
    assert mine.pk != theirs.pk and theirs.member_id == other.pk


def test_same_sku_twice_is_one_line(mall, rich):
    order = place(rich, [(mall.white.pk, 1), (mall.white.pk, 1)])
    assert [(line.sku_id, line.quantity) for line in order.lines.all()] == [(mall.white.pk, 2)]


def test_the_cart_loses_the_ordered_skus(mall, rich):
    services.cart_add(member_id=rich.pk, sku_id=mall.white.pk, quantity=1)
    services.cart_add(member_id=rich.pk, sku_id=mall.mug_sku.pk, quantity=1)
    place(rich, [(mall.white.pk, 1)], from_cart=True)
    from jifen.orders.models import CartLine

    assert list(CartLine.objects.values_list("sku_id", flat=True)) == [mall.mug_sku.pk]


@pytest.mark.parametrize(
    "lines",
    [[], None, [(0, 1)], [(1, 0)], [(1, -1)], [("1", 1)], [(1, 1.5)], [(True, 1)], [(1, 1000)]],
)
def test_bad_lines_change_nothing(mall, rich, lines):
    before = snapshot(rich, mall.white)
    with pytest.raises(ValidationFailed) as error:
        place(rich, lines)
    assert error.value.code == "invalid_lines"
    assert snapshot(rich, mall.white) == before


def test_unknown_sku_changes_nothing(mall, rich):
    before = snapshot(rich, mall.white)
    with pytest.raises(NotFound) as error:
        place(rich, [(mall.white.pk, 1), (999999, 1)])
    assert error.value.code == "sku_not_found"
    assert snapshot(rich, mall.white) == before


def test_not_enough_points_changes_nothing(mall, member):
    member.address = address_create(
        member=member,
        data={
            "recipient": "李四",
            "phone": "13900139000",
            "province": "北京市",
            "city": "北京市",
            "detail": "长安街 1 号",
        },
    )
    points_earn(member_id=member.pk, points=4999, source="test", reference="poor")
    before = snapshot(member, mall.white)
    with pytest.raises(InsufficientPoints):
        place(member, [(mall.white.pk, 1)])
    assert snapshot(member, mall.white) == before
    assert StockReservation.objects.count() == 0


def test_out_of_stock_changes_nothing(mall, rich):
    before = snapshot(rich, mall.white, mall.mug_sku)
    with pytest.raises(OutOfStock):
        place(rich, [(mall.white.pk, 1), (mall.mug_sku.pk, 4)])
    assert snapshot(rich, mall.white, mall.mug_sku) == before


def test_per_order_and_per_member_limits(mall, rich):
    with pytest.raises(ValidationFailed) as error:
        place(rich, [(mall.white.pk, 3)])
    assert error.value.code == "per_order_limit"
    place(rich, [(mall.white.pk, 2)])
    place(rich, [(mall.black.pk, 2)])
    before = snapshot(rich, mall.white)
    with pytest.raises(Conflict) as error:
        place(rich, [(mall.white.pk, 2)])
    assert error.value.code == "per_member_limit"
    assert snapshot(rich, mall.white) == before
    assert quota(rich, mall.earbuds) == 4


def test_physical_goods_need_the_members_own_address(mall, rich, make_member):
    with pytest.raises(ValidationFailed) as error:
        place(rich, [(mall.white.pk, 1)], address_id=None)
    assert error.value.code == "address_required"
    stranger = make_member()
    theirs = address_create(
        member=stranger,
        data={
            "recipient": "王五",
            "phone": "13700137000",
            "province": "广东省",
            "city": "深圳市",
            "detail": "深南大道 1 号",
        },
    )
    before = snapshot(rich, mall.white)
    with pytest.raises(NotFound) as error:
        place(rich, [(mall.white.pk, 1)], address_id=theirs.pk)
    assert error.value.code == "address_not_found"
    assert snapshot(rich, mall.white) == before


# --- paying ------------------------------------------------------------------------------------


def test_payment_succeeded_settles_a_pending_order_once(mall, rich):
    order = place(rich, [(mall.white.pk, 1)])
    payment = fake_payment(order, pk=77)

    assert services.order_payment_succeeded(payment) is True
    order = fresh(order)
    assert order.status == PAID and order.paid_payment_id == 77
    assert order.hold.status == Hold.Status.CAPTURED
    assert balance(rich) == {"available": 15000, "pending": 0, "held": 0}
    assert stock(mall.white) == {"reserved": 0, "sold": 1, "remaining": 9, "returned": 0}
    assert events(order) == [("", PENDING, "member"), (PENDING, PAID, "payment")]
    # A replay of the same payment is fine; another payment for the same order is not.
    assert services.order_payment_succeeded(payment) is True
    assert services.order_payment_succeeded(fake_payment(order, pk=78)) is False
    assert len(events(order)) == 2


def test_payment_for_a_cancelled_order_is_refused(mall, rich):
    order = place(rich, [(mall.white.pk, 1)])
    services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert services.order_payment_succeeded(fake_payment(order)) is False
    assert fresh(order).status == S.CANCELLED
    assert balance(rich) == {"available": 20000, "pending": 0, "held": 0}


def test_payment_of_the_wrong_amount_is_refused(mall, rich):
    order = place(rich, [(mall.white.pk, 1)])
    assert services.order_payment_succeeded(fake_payment(order, amount="0.01")) is False
    assert fresh(order).status == PENDING


# --- cancelling and timing out -----------------------------------------------------------------


def test_cancel_a_pending_order_gives_everything_back(mall, rich):
    order = place(rich, [(mall.white.pk, 2)])
    cancelled = services.order_cancel(order_id=order.pk, member_id=rich.pk, reason="不想要了")

    assert cancelled.status == S.CANCELLED and cancelled.cancelled_at is not None
    assert fresh(order).cancel_reason == "不想要了"
    assert balance(rich) == {"available": 20000, "pending": 0, "held": 0}
    assert stock(mall.white) == {"reserved": 0, "sold": 0, "remaining": 10, "returned": 0}
    assert quota(rich, mall.earbuds) == 0
    assert fresh(order).hold.status == Hold.Status.RELEASED
    assert events(order)[-1] == (PENDING, S.CANCELLED, "member")
    # A repeat returns the cancelled order and writes nothing.
    services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert len(events(order)) == 2


def test_cancel_a_paid_order_returns_points_with_their_original_expiry(mall, member, settings):
    free_shipping(settings)
    points_earn(
        member_id=member.pk,
        points=200,
        source="test",
        reference="a",
        expires_on=dt.date(2027, 1, 31),
    )
    points_earn(
        member_id=member.pk,
        points=500,
        source="test",
        reference="b",
        expires_on=dt.date(2029, 12, 31),
    )
    member.address = address_create(
        member=member,
        data={
            "recipient": "李四",
            "phone": "13900139000",
            "province": "北京市",
            "city": "北京市",
            "detail": "长安街 1 号",
        },
    )
    order = place(member, [(mall.mug_sku.pk, 2)])  # 600 points: lot a empty, b has 100 left
    assert fresh(order).status == PAID
    assert lots(member) == [(200, 0, dt.date(2027, 1, 31)), (500, 100, dt.date(2029, 12, 31))]

    services.order_cancel(order_id=order.pk, member_id=member.pk, reason="买错了")

    assert lots(member) == [(200, 200, dt.date(2027, 1, 31)), (500, 500, dt.date(2029, 12, 31))]
    assert balance(member) == {"available": 700, "pending": 0, "held": 0}
    assert stock(mall.mug_sku) == {"reserved": 0, "sold": 2, "remaining": 3, "returned": 2}
    assert fresh(order).status == S.CANCELLED
    assert events(order)[-1] == (PAID, S.CANCELLED, "member")


def test_cancel_after_shipment_is_refused_and_changes_nothing(mall, rich, settings):
    free_shipping(settings)
    order = place(rich, [(mall.mug_sku.pk, 1)])
    services.order_transition(order_id=order.pk, to=S.SHIPPED, actor_label="operator")
    before = (snapshot(rich, mall.mug_sku), len(events(order)))
    with pytest.raises(Conflict) as error:
        services.order_cancel(order_id=order.pk, member_id=rich.pk)
    assert error.value.code == "invalid_transition"
    assert (snapshot(rich, mall.mug_sku), len(events(order))) == before


def test_member_cannot_cancel_another_members_order(mall, rich, make_member):
    order = place(rich, [(mall.white.pk, 1)])
    with pytest.raises(NotFound):
        services.order_cancel(order_id=order.pk, member_id=make_member().pk)
    assert fresh(order).status == PENDING


def test_operator_cancel_records_the_operator_and_reason(mall, rich, operator):
    order = place(rich, [(mall.white.pk, 1)])
    services.order_cancel(order_id=order.pk, by=operator, actor_label="运营", reason="缺货")
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.actor_id, event.actor_label, event.reason) == (operator.pk, "运营", "缺货")


def test_unpaid_orders_time_out(mall, rich):
    late = place(rich, [(mall.white.pk, 1)])
    fresh_one = place(rich, [(mall.black.pk, 1)])
    Order.objects.filter(pk=late.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert services.orders_expire_unpaid() == 1
    assert services.orders_expire_unpaid() == 0
    late = fresh(late)
    assert late.status == S.CANCELLED and late.cancel_reason == "超时未支付"
    assert events(late)[-1] == (PENDING, S.CANCELLED, "system")
    assert fresh(fresh_one).status == PENDING
    assert balance(rich) == {"available": 15000, "pending": 0, "held": 5000}
    assert stock(mall.white) == {"reserved": 0, "sold": 0, "remaining": 10, "returned": 0}
    assert quota(rich, mall.earbuds) == 1


# --- after payment -----------------------------------------------------------------------------


def test_change_address_before_shipment(mall, rich):
    order = place(rich, [(mall.white.pk, 1)])
    new = address_create(
        member=rich,
        data={
            "recipient": "张三丰",
            "phone": "13800138001",
            "province": "湖北省",
            "city": "十堰市",
            "detail": "武当山 1 号",
        },
    )
    changed = services.order_change_address(order_id=order.pk, member_id=rich.pk, address_id=new.pk)
    assert (changed.ship_name, changed.ship_region, changed.ship_detail) == (
        "张三丰",
        "湖北省 十堰市",
        "武当山 1 号",
    )
    assert events(order)[-1] == (PENDING, PENDING, "member")
    services.order_payment_succeeded(fake_payment(order))
    services.order_transition(order_id=order.pk, to=S.SHIPPED)
    with pytest.raises(Conflict):
        services.order_change_address(
            order_id=order.pk, member_id=rich.pk, address_id=rich.address.pk
        )
    assert fresh(order).ship_name == "张三丰"


def test_confirm_receipt_and_auto_complete(mall, rich, settings):
    free_shipping(settings)
    first = place(rich, [(mall.mug_sku.pk, 1)])
    with pytest.raises(Conflict):
        services.order_confirm_receipt(order_id=first.pk, member_id=rich.pk)
    services.order_transition(order_id=first.pk, to=S.SHIPPED)
    done = services.order_confirm_receipt(order_id=first.pk, member_id=rich.pk)
    assert done.status == S.COMPLETED and done.completed_at is not None
    assert events(first)[-1] == (S.SHIPPED, S.COMPLETED, "member")

    old = place(rich, [(mall.mug_sku.pk, 1)])
    recent = place(rich, [(mall.mug_sku.pk, 1)])
    for order in (old, recent):
        services.order_transition(order_id=order.pk, to=S.SHIPPED)
    Order.objects.filter(pk=old.pk).update(shipped_at=timezone.now() - dt.timedelta(days=10))
    Order.objects.filter(pk=recent.pk).update(shipped_at=timezone.now() - dt.timedelta(days=9))
    assert services.orders_auto_complete() == 1
    assert (fresh(old).status, fresh(recent).status) == (S.COMPLETED, S.SHIPPED)
    assert events(old)[-1] == (S.SHIPPED, S.COMPLETED, "system")


# --- the transition table ----------------------------------------------------------------------

ALLOWED = [
    (PENDING, PAID),
    (PENDING, S.CANCELLED),
    (PAID, S.SHIPPED),
    (PAID, S.COMPLETED),
    (PAID, S.CANCELLED),
    (PAID, S.REFUNDED),
    (S.SHIPPED, S.DELIVERED),
    (S.SHIPPED, S.COMPLETED),
    (S.SHIPPED, S.REFUNDED),
    (S.DELIVERED, S.COMPLETED),
    (S.DELIVERED, S.REFUNDED),
    (S.COMPLETED, S.REFUNDED),
]


@pytest.fixture
def bare_order(member):
    return Order.objects.create(number="J2612010000001", member=member)


@pytest.mark.parametrize("from_status,to", ALLOWED)
def test_every_allowed_transition(bare_order, operator, from_status, to):
    Order.objects.filter(pk=bare_order.pk).update(status=from_status)
    order = services.order_transition(
        order_id=bare_order.pk, to=to, by=operator, actor_label="运营", reason="测试"
    )
    assert fresh(order).status == to
    stamp = {
        PAID: "paid_at",
        S.SHIPPED: "shipped_at",
        S.DELIVERED: "delivered_at",
        S.COMPLETED: "completed_at",
        S.CANCELLED: "cancelled_at",
        S.REFUNDED: "refunded_at",
    }[to]
    assert getattr(fresh(order), stamp) is not None
    event = OrderEvent.objects.get(order=bare_order)
    assert (event.from_status, event.to_status, event.actor_id, event.reason) == (
        from_status,
        to,
        operator.pk,
        "测试",
    )


@pytest.mark.parametrize(
    "from_status,to",
    [(a, b) for a in S.values for b in S.values if a != b and (a, b) not in ALLOWED],
)
def test_every_other_transition_is_refused(bare_order, from_status, to):
    Order.objects.filter(pk=bare_order.pk).update(status=from_status)
    with pytest.raises(Conflict) as error:
        services.order_transition(order_id=bare_order.pk, to=to)
    assert error.value.code == "invalid_transition"
    assert fresh(bare_order).status == from_status
    assert not OrderEvent.objects.filter(order=bare_order).exists()


def test_moving_to_the_current_status_is_a_harmless_retry(bare_order):
    services.order_transition(order_id=bare_order.pk, to=PAID)
    services.order_transition(order_id=bare_order.pk, to=PAID)
    assert OrderEvent.objects.filter(order=bare_order).count() == 1


def test_unknown_order_is_not_found(db):
    with pytest.raises(NotFound):
        services.order_transition(order_id=424242, to=PAID)


# --- cart --------------------------------------------------------------------------------------


def test_cart_add_update_remove(mall, rich, make_member):
    line = services.cart_add(member_id=rich.pk, sku_id=mall.white.pk, quantity=1)
    again = services.cart_add(member_id=rich.pk, sku_id=mall.white.pk, quantity=1)
    assert again.pk == line.pk and again.quantity == 2
    with pytest.raises(ValidationFailed) as error:  # per order limit 2
        services.cart_add(member_id=rich.pk, sku_id=mall.white.pk, quantity=1)
    assert error.value.code == "per_order_limit"
    assert services.cart_line_update(member_id=rich.pk, line_id=line.pk, quantity=1).quantity == 1
    for bad in (0, -1, "2", 1000):
        with pytest.raises(ValidationFailed):
            services.cart_line_update(member_id=rich.pk, line_id=line.pk, quantity=bad)
    other = make_member()
    with pytest.raises(NotFound):
        services.cart_line_update(member_id=other.pk, line_id=line.pk, quantity=1)
    with pytest.raises(NotFound):
        services.cart_line_remove(member_id=other.pk, line_id=line.pk)
    with pytest.raises(NotFound):
        services.cart_add(member_id=rich.pk, sku_id=999999, quantity=1)
    services.cart_line_remove(member_id=rich.pk, line_id=line.pk)
    from jifen.orders.selectors import cart_count

    assert cart_count(member_id=rich.pk) == 0


def test_cancel_a_paid_order_keeps_card_code_units_sold(mall, rich, settings):
    """A card code the member has seen is spent even when voided, so its unit is not put
    back on sale (it would be a unit without a code); the goods' unit is."""
    from jifen.vouchers.models import MemberVoucher
    from jifen.vouchers.services import code_pool_import

    free_shipping(settings)
    card = catalog_services.item_save(
        kind="virtual", fulfilment="code", name="视频会员月卡", category_id=mall.category.pk
    )
    card_sku = catalog_services.sku_create(item_id=card.pk, points=100, stock_initial=0)
    code_pool_import(sku_id=card_sku.pk, text="CARD-0001\nCARD-0002")
    order = place(rich, [(mall.mug_sku.pk, 1), (card_sku.pk, 1)])
    assert fresh(order).status == PAID
    assert MemberVoucher.objects.filter(member=rich, status="unused").count() == 1

    services.order_cancel(order_id=order.pk, member_id=rich.pk, reason="买错了")

    assert fresh(order).status == S.CANCELLED
    assert balance(rich) == {"available": 20000, "pending": 0, "held": 0}
    assert MemberVoucher.objects.get(member=rich).status == "revoked"
    assert stock(card_sku) == {"reserved": 0, "sold": 1, "remaining": 1, "returned": 0}
    assert stock(mall.mug_sku) == {"reserved": 0, "sold": 1, "remaining": 3, "returned": 1}


def test_the_gateway_shows_what_is_bought(mall, rich):
    order = place(rich, [(mall.white.pk, 2), (mall.mug_sku.pk, 1)])
    payment = services.order_payment_start(order=fresh(order))
    assert payment.description == "无线蓝牙耳机 白色 ×2 等 3 件商品"
    assert payment.amount == fresh(order).cash_total
