"""Regressions of the mall review (C1, C2, M3, M5, M6): real orders placed and paid through
orders and payments (sandbox), after-sales against them."""

import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale
from jifen.catalog import services as catalog
from jifen.catalog.models import Sku, StockMovement, StockReservation
from jifen.core.errors import Conflict, ValidationFailed
from jifen.ledger.services import balances_of, points_earn
from jifen.members.services import address_create
from jifen.orders import services as orders
from jifen.orders.models import Order
from jifen.payments.models import Payment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mall_settings(settings, tmp_path):
    settings.JIFEN_SHIPPING_FEE = "10.00"
    settings.JIFEN_FREE_SHIPPING_OVER = "99.00"
    settings.JIFEN_ORDER_PAYMENT_MINUTES = 30
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture(autouse=True)
def _eager_tasks(eager_tasks):
    """Tasks (callbacks, refunds, alerts) run inline here."""


@pytest.fixture
def mall(db):
    m = SimpleNamespace()
    category = catalog.category_save(name="生活")
    m.mug = catalog.item_save(kind="physical", name="马克杯", category_id=category.pk)
    m.mug_sku = catalog.sku_create(item_id=m.mug.pk, points=300, stock_initial=5)
    m.cup = catalog.item_save(kind="physical", name="杯子", category_id=category.pk)
    m.cup_sku = catalog.sku_create(
        item_id=m.cup.pk, points=300, cash=Decimal("20.00"), stock_initial=5
    )
    return m


@pytest.fixture
def rich(member):
    points_earn(
        member_id=member.pk,
        points=20000,
        source="test",
        reference=f"rich:{member.pk}",
        expires_on=dt.date(2030, 6, 30),
    )
    member.address = address_create(
        member=member,
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
    return member


def _place(member, lines, checkout="t1"):
    return orders.order_place(
        member_id=member.pk,
        lines=[(sku.pk, q) for sku, q in lines],
        address_id=member.address.pk,
        checkout_token=checkout,
    )


def _pay(order, capture):
    from jifen.payments.selectors import payment_for
    from jifen.payments.services import sandbox_trade_confirm

    payment = payment_for(purpose="order", reference=order.number)
    with capture(execute=True):
        sandbox_trade_confirm(payment_number=payment.number)
    order.refresh_from_db()
    assert order.status == "paid"
    return payment


def _ask(order, line, qty, kind="refund_only"):
    return services.aftersale_request(
        member_id=order.member_id,
        order_number=order.number,
        kind=kind,
        lines=[{"order_line": line.pk, "quantity": qty}],
        reason="other",
    )


def _ship(order, operator, tracking="SF1234567"):
    from jifen.shipping.services import carrier_save, shipment_create

    carrier_save(code="sf", name="顺丰")
    shipment_create(order_id=order.pk, carrier_code="sf", tracking_number=tracking, by=operator)


def _sku(sku):
    return Sku.objects.filter(pk=sku.pk).values("remaining", "sold", "returned").get()


# --- C1 -----------------------------------------------------------------------------------------


def test_shipping_fee_is_refunded_once_by_the_refund_that_completes_the_order(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    """Review C1: A (cup) open, B (mug) gets the fee estimate, A cancelled, B approved, C
    (cup) approved. The member paid ¥30 and gets ¥30 back: ¥0 with B, ¥20 + ¥10 with C."""
    order = _place(rich, [(mall.cup_sku, 1), (mall.mug_sku, 1)])
    assert order.cash_total == Decimal("30.00") and order.shipping_fee == Decimal("10.00")
    payment = _pay(order, django_capture_on_commit_callbacks)
    cup = order.lines.get(sku_id=mall.cup_sku.pk)
    mug = order.lines.get(sku_id=mall.mug_sku.pk)
    a = _ask(order, cup, 1)
    b = _ask(order, mug, 1)
    assert b.shipping_refund == Decimal("10.00")  # the estimate while A takes the cup
    services.aftersale_cancel(aftersale_id=a.pk, member_id=rich.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=b.pk, approve=True, by=operator)
    b.refresh_from_db()
    assert (b.status, b.shipping_refund, b.cash_to_refund) == ("refunded", Decimal("0"), 0)
    assert b.cash_refund_id is None  # nothing to send
    assert Order.objects.get(pk=order.pk).shipping_refunded is False

    c = _ask(order, cup, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=c.pk, approve=True, by=operator)
    c.refresh_from_db()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (c.status, c.shipping_refund, c.cash_to_refund) == (
        "refunded",
        Decimal("10.00"),
        Decimal("30.00"),
    )
    assert c.cash_refund_error == "" and c.cash_refund_id is not None
    assert payment.refunded_amount == Decimal("30.00")
    assert payment.status == Payment.Status.REFUNDED
    assert (order.status, order.shipping_refunded) == ("refunded", True)


def test_no_shipping_fee_when_the_last_refund_is_after_shipment(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    order = _place(rich, [(mall.cup_sku, 1), (mall.mug_sku, 1)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    mug = order.lines.get(sku_id=mall.mug_sku.pk)
    cup = order.lines.get(sku_id=mall.cup_sku.pk)
    b = _ask(order, mug, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=b.pk, approve=True, by=operator)
    _ship(order, operator)
    c = _ask(order, cup, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=c.pk, approve=True, by=operator)
    c.refresh_from_db()
    payment.refresh_from_db()
    assert (c.shipping_refund, c.cash_to_refund) == (Decimal("0"), Decimal("20.00"))
    assert payment.refunded_amount == Decimal("20.00")
    assert Order.objects.get(pk=order.pk).shipping_refunded is False


# --- C2 -----------------------------------------------------------------------------------------


def test_refund_only_asked_while_paid_and_approved_after_shipment_restocks_nothing(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    """Review C2: the request is made while paid; the order ships anyway (as before the
    shipping guard); the approval decides from the locked order: no restock, no fee."""
    order = _place(rich, [(mall.cup_sku, 2)])
    assert order.cash_total == Decimal("50.00")
    payment = _pay(order, django_capture_on_commit_callbacks)
    a = _ask(order, order.lines.get(), 2)
    assert (a.restock_on_refund, a.shipping_refund) == (True, Decimal("10.00"))  # estimate
    orders.order_transition(order_id=order.pk, to="shipped", actor_label="test")
    before = _sku(mall.cup_sku)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    payment.refresh_from_db()
    assert _sku(mall.cup_sku) == before  # the two cups are with the member
    assert a.lines.get().restocked == 0
    assert (a.status, a.restock_on_refund, a.shipping_refund, a.cash_to_refund) == (
        "refunded",
        False,
        Decimal("0"),
        Decimal("40.00"),
    )
    assert payment.refunded_amount == Decimal("40.00")
    assert Order.objects.get(pk=order.pk).shipping_refunded is False


def test_refund_only_before_shipment_restocks_and_refunds_the_fee(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    order = _place(rich, [(mall.cup_sku, 2)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    a = _ask(order, order.lines.get(), 2)
    before = _sku(mall.cup_sku)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    payment.refresh_from_db()
    assert _sku(mall.cup_sku)["remaining"] == before["remaining"] + 2
    assert (a.restock_on_refund, a.shipping_refund, a.cash_to_refund) == (
        True,
        Decimal("10.00"),
        Decimal("50.00"),
    )
    assert payment.refunded_amount == Decimal("50.00")
    assert Order.objects.get(pk=order.pk).status == "refunded"


def test_approval_refused_when_the_order_is_no_longer_eligible(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    order = _place(rich, [(mall.cup_sku, 2)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    a = _ask(order, order.lines.get(), 1)
    # e.g. cancelled by an operator through a path that predates the after-sale rule
    Order.objects.filter(pk=order.pk).update(status="cancelled")
    before = (_sku(mall.cup_sku), dict(balances_of(rich.pk)))
    with pytest.raises(Conflict) as error:
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    assert error.value.code == "order_not_eligible"
    a.refresh_from_db()
    payment.refresh_from_db()
    assert (a.status, a.decided_at, a.events.count()) == ("requested", None, 1)
    assert (_sku(mall.cup_sku), dict(balances_of(rich.pk))) == before
    assert payment.refunded_amount == Decimal("0")
    # rejecting stays possible
    services.aftersale_decide(aftersale_id=a.pk, approve=False, by=operator, note="订单已关闭")
    assert AfterSale.objects.get(pk=a.pk).status == "rejected"


def test_refund_step_refused_when_the_order_was_cancelled(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    """M5: _refund_locally checks the locked order's status (a return that was received)."""
    order = _place(rich, [(mall.cup_sku, 1)])
    _pay(order, django_capture_on_commit_callbacks)
    _ship(order, operator)
    r = _ask(order, order.lines.get(), 1, kind="return_refund")
    services.aftersale_decide(aftersale_id=r.pk, approve=True, by=operator)
    services.aftersale_receive(aftersale_id=r.pk, by=operator)
    Order.objects.filter(pk=order.pk).update(status="cancelled")
    with pytest.raises(Conflict) as error:
        services.aftersale_refund(aftersale_id=r.pk, by=operator)
    assert error.value.code == "order_not_eligible"
    r.refresh_from_db()
    assert (r.status, r.refund_transaction_id, r.cash_refund_id) == ("received", None, None)


# --- M3 -----------------------------------------------------------------------------------------


def test_the_replacement_of_an_exchange_can_be_returned(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    order = _place(rich, [(mall.cup_sku, 1)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    _ship(order, operator)
    line = order.lines.get()
    ex = _ask(order, line, 1, kind="exchange")
    services.aftersale_decide(aftersale_id=ex.pk, approve=True, by=operator)
    services.aftersale_return_shipped(
        aftersale_id=ex.pk, member_id=rich.pk, carrier="顺丰", tracking_number="R1234"
    )
    services.aftersale_receive(aftersale_id=ex.pk, by=operator)
    services.aftersale_exchange_ship(
        aftersale_id=ex.pk, by=operator, carrier="顺丰", tracking_number="X12345"
    )
    after_exchange = _sku(mall.cup_sku)
    back = _ask(order, line, 1, kind="return_refund")
    services.aftersale_decide(aftersale_id=back.pk, approve=True, by=operator)
    services.aftersale_return_shipped(
        aftersale_id=back.pk, member_id=rich.pk, carrier="顺丰", tracking_number="R5678"
    )
    services.aftersale_receive(aftersale_id=back.pk, by=operator)
    back.refresh_from_db()
    assert back.status == "received" and back.lines.get().restocked == 1
    assert _sku(mall.cup_sku)["remaining"] == after_exchange["remaining"] + 1
    movement = StockMovement.objects.get(
        kind="returned", reference=f"aftersale:{back.number}:{back.lines.get().pk}"
    )
    assert movement.quantity == 1
    ex_line = ex.lines.get()
    assert (
        StockReservation.objects.get(
            reference=f"aftersale:{ex.number}:exchange:{ex_line.pk}"
        ).returned
        == 1
    )  # returned against the replacement's sale, not the original's
    assert StockReservation.objects.get(reference=line.stock_reference).returned == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_refund(aftersale_id=back.pk, by=operator)
    back.refresh_from_db()
    payment.refresh_from_db()
    assert (back.status, back.cash_to_refund) == ("refunded", Decimal("20.00"))
    assert payment.refunded_amount == Decimal("20.00")


# --- M6 -----------------------------------------------------------------------------------------


def _png(size, mode="1") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def test_a_huge_image_is_refused_from_its_header_before_decoding(monkeypatch):
    from PIL import Image

    content = _png((13000, 13000))  # 169 Mpx in a few hundred KB
    assert len(content) < services.MAX_PHOTO_BYTES
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    with pytest.raises(ValidationFailed) as error:
        services._check_photo(content, "bomb.png")
    assert error.value.code == "invalid_photo"
    assert decoded == []


def test_pixel_cap_and_side_cap(monkeypatch):
    monkeypatch.setattr(services, "MAX_PHOTO_PIXELS", 100 * 100)
    with pytest.raises(ValidationFailed):
        services._check_photo(_png((101, 100), "RGB"), "a.png")
    assert services._check_photo(_png((100, 100), "RGB"), "b.png").extension == "png"
    with pytest.raises(ValidationFailed):
        services._check_photo(_png((6001, 1), "RGB"), "c.png")


class _Upload:
    """An UploadedFile stand-in that records reads."""

    def __init__(self, name, size, content=b"x"):
        self.name, self.size, self.content, self.reads = name, size, content, []

    def read(self, n=-1):
        self.reads.append(n)
        return self.content


def test_uploads_are_checked_for_count_and_size_before_reading():
    big = _Upload("big.jpg", services.MAX_PHOTO_BYTES + 1)
    ok = _Upload("ok.jpg", 10)
    with pytest.raises(ValidationFailed) as error:
        services.photos_from_uploads([ok, big])
    assert error.value.code == "invalid_photo" and error.value.fields == {"photos": "big.jpg"}
    assert ok.reads == [] and big.reads == []
    many = [_Upload(f"{n}.jpg", 10) for n in range(services.MAX_PHOTOS + 1)]
    with pytest.raises(ValidationFailed) as error:
        services.photos_from_uploads(many)
    assert error.value.code == "too_many_photos"
    assert all(f.reads == [] for f in many)
    assert services.photos_from_uploads([ok]) == [(b"x", "ok.jpg")]
    assert ok.reads == [services.MAX_PHOTO_BYTES + 1]  # never more than the limit + 1
