import pytest

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.orders.models import OrderEvent
from jifen.shipping import services
from jifen.shipping.models import Shipment, TrackingEvent

pytestmark = pytest.mark.django_db


def snapshot(order):
    order.refresh_from_db()
    return {
        "status": order.status,
        "shipped_at": order.shipped_at,
        "shipments": list(
            Shipment.objects.values_list("order_id", "carrier__code", "tracking_number")
        ),
        "tracking_events": TrackingEvent.objects.count(),
        "order_events": list(
            OrderEvent.objects.values_list("order_id", "from_status", "to_status")
        ),
    }


def test_ship_a_paid_order(carriers, order, operator):
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number=" sf1234567890 ", by=operator
    )
    order.refresh_from_db()
    assert order.status == "shipped"
    assert order.shipped_at is not None
    assert (shipment.carrier_id, shipment.tracking_number, shipment.status) == (
        carriers.sf.pk,
        "SF1234567890",
        "shipped",
    )
    assert (shipment.member_id, shipment.shipped_by_id) == (order.member_id, operator.pk)
    assert shipment.tracking_url == (
        "https://www.sf-express.com/chn/sc/waybill/list?no=SF1234567890"
    )
    event = OrderEvent.objects.get(order=order)
    assert (
        event.from_status,
        event.to_status,
        event.actor_id,
        event.actor_label,
        event.reason,
    ) == (
        "paid",
        "shipped",
        operator.pk,
        operator.display_name,
        "发货：顺丰速运 SF1234567890",
    )
    assert list(shipment.events.values_list("status", "description")) == [
        ("shipped", "商家已发货，顺丰速运 已揽收")
    ]


def test_carrier_by_name_too(carriers, order, operator):
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="中通快递", tracking_number="ZT7788990011", by=operator
    )
    assert shipment.carrier_id == carriers.zto.pk


def test_replay_returns_the_same_shipment(carriers, order, operator):
    first = services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    before = snapshot(order)
    again = services.shipment_create(
        order_id=order.pk, carrier_code="SF", tracking_number="sf1234567890", by=operator
    )
    assert again.pk == first.pk
    assert snapshot(order) == before
    assert len(before["order_events"]) == 1


def test_another_tracking_number_for_a_shipped_order_is_a_conflict(carriers, order, operator):
    services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    before = snapshot(order)
    with pytest.raises(Conflict) as error:
        services.shipment_create(
            order_id=order.pk, carrier_code="sf", tracking_number="SF9999999999", by=operator
        )
    assert error.value.code == "already_shipped"
    assert snapshot(order) == before


@pytest.mark.parametrize(
    "status", ["pending_payment", "shipped", "delivered", "completed", "cancelled", "refunded"]
)
def test_only_paid_orders_ship(carriers, make_order, operator, status):
    order = make_order(status=status)
    before = snapshot(order)
    with pytest.raises(Conflict) as error:
        services.shipment_create(
            order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
        )
    assert error.value.code == "order_not_shippable"
    assert snapshot(order) == before


def test_virtual_only_order_needs_no_shipping(carriers, make_order, operator):
    order = make_order(needs_shipping=False)
    before = snapshot(order)
    with pytest.raises(Conflict) as error:
        services.shipment_create(
            order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
        )
    assert error.value.code == "no_shipping_needed"
    assert snapshot(order) == before


def test_a_tracking_number_belongs_to_one_order(carriers, make_order, operator):
    first, second = make_order(), make_order()
    services.shipment_create(
        order_id=first.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    before = snapshot(second)
    with pytest.raises(Conflict) as error:
        services.shipment_create(
            order_id=second.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
        )
    assert error.value.code == "tracking_number_in_use"
    assert snapshot(second) == before
    assert second.status == "paid"
    # The same number at another carrier is another parcel.
    services.shipment_create(
        order_id=second.pk, carrier_code="zto", tracking_number="SF1234567890", by=operator
    )


@pytest.mark.parametrize(
    ("kwargs", "error_class", "code"),
    [
        ({"tracking_number": ""}, ValidationFailed, "invalid_tracking_number"),
        ({"tracking_number": "ab"}, ValidationFailed, "invalid_tracking_number"),
        ({"tracking_number": "SF 123 456"}, ValidationFailed, "invalid_tracking_number"),
        ({"tracking_number": "X" * 41}, ValidationFailed, "invalid_tracking_number"),
        ({"tracking_number": None}, ValidationFailed, "invalid_tracking_number"),
        ({"tracking_number": 12345678}, ValidationFailed, "invalid_tracking_number"),
        ({"carrier_code": "ems"}, NotFound, "carrier_not_found"),
        ({"carrier_code": ""}, NotFound, "carrier_not_found"),
        ({"carrier_code": None}, NotFound, "carrier_not_found"),
        ({"order_id": 999999}, NotFound, "order_not_found"),
    ],
)
def test_bad_input_changes_nothing(carriers, order, operator, kwargs, error_class, code):
    args = {"order_id": order.pk, "carrier_code": "sf", "tracking_number": "SF1234567890"}
    before = snapshot(order)
    with pytest.raises(error_class) as error:
        services.shipment_create(**{**args, **kwargs}, by=operator)
    assert error.value.code == code
    assert snapshot(order) == before


def test_inactive_carrier_cannot_ship(carriers, order, operator):
    services.carrier_save(code="zto", name="中通快递", is_active=False)
    with pytest.raises(NotFound):
        services.shipment_create(
            order_id=order.pk, carrier_code="zto", tracking_number="ZT7788990011", by=operator
        )
    order.refresh_from_db()
    assert order.status == "paid"


def test_failed_transition_rolls_back_the_shipment(carriers, order, operator, monkeypatch):
    from jifen.orders import services as order_services

    def refuse(**kwargs):
        raise Conflict("no", code="invalid_transition")

    monkeypatch.setattr(order_services, "order_transition", refuse)
    before = snapshot(order)
    with pytest.raises(Conflict):
        services.shipment_create(
            order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
        )
    assert snapshot(order) == before


# --- corrections ------------------------------------------------------------------------------


def test_correct_the_tracking_number(carriers, order, operator):
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    fixed = services.shipment_update_tracking(
        shipment_id=shipment.pk,
        carrier_code="zto",
        tracking_number="ZT7788990011",
        by=operator,
        reason="填错了",
    )
    assert (fixed.carrier_id, fixed.tracking_number) == (carriers.zto.pk, "ZT7788990011")
    note = OrderEvent.objects.filter(order=order).order_by("pk").last()
    assert (note.from_status, note.to_status, note.actor_id, note.reason) == (
        "shipped",
        "shipped",
        operator.pk,
        "更正运单：顺丰速运 SF1234567890 → 中通快递 ZT7788990011（填错了）",
    )
    # The same values again: nothing more.
    services.shipment_update_tracking(
        shipment_id=shipment.pk, carrier_code="zto", tracking_number="ZT7788990011", by=operator
    )
    assert OrderEvent.objects.filter(order=order).count() == 2


def test_no_correction_after_the_carrier_reported(carriers, order, operator):
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    services.tracking_event_record(
        carrier_code="sf",
        tracking_number="SF1234567890",
        status="in_transit",
        description="到达上海",
        location="上海",
        occurred_at=shipment.shipped_at.isoformat(),
    )
    before = snapshot(order)
    with pytest.raises(Conflict) as error:
        services.shipment_update_tracking(
            shipment_id=shipment.pk, carrier_code="sf", tracking_number="SF000111222", by=operator
        )
    assert error.value.code == "tracking_in_progress"
    assert snapshot(order) == before


def test_carrier_save_validates(db):
    with pytest.raises(ValidationFailed) as error:
        services.carrier_save(code="SF Express", name="顺丰")
    assert error.value.code == "invalid_carrier_code"
    with pytest.raises(ValidationFailed) as error:
        services.carrier_save(code="sf", name="顺丰", tracking_url_template="javascript:x")
    assert error.value.code == "invalid_url"
    carrier = services.carrier_save(code="sf", name="顺丰")
    salt = carrier.salt
    again = services.carrier_save(code="sf", name="顺丰速运")
    assert (again.pk, again.name, again.salt) == (carrier.pk, "顺丰速运", salt)
