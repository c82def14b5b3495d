import datetime as dt
import json
import time

import pytest
from django.test import Client
from django.utils import timezone

from jifen.core.errors import Conflict
from jifen.orders.models import OrderEvent
from jifen.shipping import services
from jifen.shipping.models import Shipment, TrackingEvent

pytestmark = pytest.mark.django_db

URL = "/shipping/callback/{code}/"


@pytest.fixture
def shipped(carriers, order, operator):
    return services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )


def body_for(number, *events):
    return json.dumps({"tracking_number": number, "events": list(events)}).encode()


def event(status, minutes=1, **extra):
    moment = (timezone.now() + dt.timedelta(minutes=minutes)).replace(microsecond=0)
    return {
        "status": status,
        "description": extra.get("description", f"{status} 描述"),
        "location": extra.get("location", "上海"),
        "occurred_at": moment.isoformat(),
    }


def post(carrier_code, body, headers):
    return Client().post(
        URL.format(code=carrier_code),
        data=body,
        content_type="application/json",
        headers=headers,
    )


def state(shipment):
    shipment.refresh_from_db()
    shipment.order.refresh_from_db()
    return (
        shipment.status,
        shipment.order.status,
        list(TrackingEvent.objects.order_by("pk").values_list("status", "description")),
        OrderEvent.objects.count(),
    )


def test_signed_callback_records_events(carriers, shipped, signed):
    body = body_for("SF1234567890", event("in_transit", 1, description="到达上海转运中心"))
    response = post("sf", body, signed(carriers.sf, body))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "events": 1}
    assert state(shipped) == (
        "in_transit",
        "shipped",
        [("shipped", "商家已发货，顺丰速运 已揽收"), ("in_transit", "到达上海转运中心")],
        1,
    )


def test_repeated_callback_adds_nothing(carriers, shipped, signed):
    body = body_for("SF1234567890", event("in_transit", 1))
    assert post("sf", body, signed(carriers.sf, body)).status_code == 200
    before = state(shipped)
    assert post("sf", body, signed(carriers.sf, body)).status_code == 200
    assert state(shipped) == before
    assert TrackingEvent.objects.filter(status="in_transit").count() == 1


def test_delivered_moves_the_order_to_delivered(carriers, shipped, signed):
    body = body_for(
        "SF1234567890",
        event("in_transit", 1),
        event("out_for_delivery", 2),
        event("delivered", 3, description="已签收，本人签收"),
    )
    assert post("sf", body, signed(carriers.sf, body)).status_code == 200
    shipped.refresh_from_db()
    order = shipped.order
    order.refresh_from_db()
    assert (shipped.status, order.status) == ("delivered", "delivered")
    assert shipped.delivered_at is not None and order.delivered_at is not None
    last = OrderEvent.objects.filter(order=order).order_by("pk").last()
    assert (last.from_status, last.to_status, last.actor_id, last.actor_label, last.reason) == (
        "shipped",
        "delivered",
        None,
        "carrier",
        "顺丰速运：已签收，本人签收",
    )
    # Delivered is final: a late in-transit event is kept but moves nothing.
    late = body_for("SF1234567890", event("in_transit", 4))
    assert post("sf", late, signed(carriers.sf, late)).status_code == 200
    shipped.refresh_from_db()
    assert shipped.status == "delivered"
    assert OrderEvent.objects.filter(order=order).count() == 2


def test_late_event_does_not_move_status_back(carriers, shipped, signed):
    body = body_for("SF1234567890", event("out_for_delivery", 5))
    post("sf", body, signed(carriers.sf, body))
    late = body_for("SF1234567890", event("in_transit", 2))
    assert post("sf", late, signed(carriers.sf, late)).status_code == 200
    shipped.refresh_from_db()
    assert shipped.status == "out_for_delivery"
    assert TrackingEvent.objects.count() == 3


def test_delivered_after_the_member_confirmed_keeps_the_order(carriers, shipped, signed):
    from jifen.orders.services import order_transition

    order_transition(order_id=shipped.order_id, to="completed", actor_label="member")
    body = body_for("SF1234567890", event("delivered", 3))
    assert post("sf", body, signed(carriers.sf, body)).status_code == 200
    shipped.refresh_from_db()
    shipped.order.refresh_from_db()
    assert (shipped.status, shipped.order.status) == ("delivered", "completed")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Carrier-Timestamp": "now", "X-Carrier-Signature": "00"},
        "wrong-secret",
        "stale",
        "future",
        "other-carrier",
        "tampered",
    ],
)
def test_bad_signatures_are_refused_and_change_nothing(carriers, shipped, signed, headers):
    body = body_for("SF1234567890", event("delivered", 3))
    if headers == "wrong-secret":
        headers = signed(carriers.sf, body, secret="not-the-secret")
    elif headers == "stale":
        headers = signed(carriers.sf, body, timestamp=int(time.time()) - 301)
    elif headers == "future":
        headers = signed(carriers.sf, body, timestamp=int(time.time()) + 301)
    elif headers == "other-carrier":
        headers = signed(carriers.zto, body)
    elif headers == "tampered":
        headers = signed(carriers.sf, body)
        body = body.replace(b"delivered", b"exception")
    before = state(shipped)
    response = post("sf", body, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {
        "signature_required",
        "invalid_timestamp",
        "stale_timestamp",
        "invalid_signature",
    }
    assert state(shipped) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 422, "invalid_callback"),
        (b"[]", 422, "invalid_callback"),
        (b'{"tracking_number": "SF1234567890", "events": []}', 422, "invalid_callback"),
        (
            b'{"tracking_number": "SF1234567890", "events": [{"status": "lost"}]}',
            422,
            "invalid_status",
        ),
        (
            b'{"tracking_number": "SF1234567890", "events": '
            b'[{"status": "in_transit", "occurred_at": "yesterday"}]}',
            422,
            "invalid_occurred_at",
        ),
        (
            b'{"tracking_number": "SF0000000000", "events": '
            b'[{"status": "in_transit", "occurred_at": "2026-01-01T00:00:00+08:00"}]}',
            404,
            "shipment_not_found",
        ),
    ],
)
def test_bad_bodies_change_nothing(carriers, shipped, signed, body, status, code):
    before = state(shipped)
    response = post("sf", body, signed(carriers.sf, body))
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert state(shipped) == before


def test_one_bad_event_rolls_back_the_whole_callback(carriers, shipped, signed):
    body = body_for(
        "SF1234567890", event("in_transit", 1), {"status": "delivered", "occurred_at": "x"}
    )
    before = state(shipped)
    assert post("sf", body, signed(carriers.sf, body)).status_code == 422
    assert state(shipped) == before


def test_unknown_carrier_and_get(carriers):
    assert post("ems", b"{}", {}).status_code == 404
    assert Client().get(URL.format(code="sf")).status_code == 405


# --- the sandbox carrier ----------------------------------------------------------------------


@pytest.fixture
def sandbox_shipment(carriers, order, operator):
    return services.shipment_create(
        order_id=order.pk, carrier_code="sandbox", tracking_number="SBX000001", by=operator
    )


def test_simulated_progress_goes_through_signed_callbacks(sandbox_shipment, monkeypatch):
    calls = []
    real = services.callback_handle

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "callback_handle", spy)
    steps = [
        services.shipment_simulate_progress(shipment_id=sandbox_shipment.pk, inline=True)
        for _ in range(3)
    ]
    assert steps == ["in_transit", "out_for_delivery", "delivered"]
    assert all(call["headers"]["X-Carrier-Signature"] for call in calls) and len(calls) == 3
    sandbox_shipment.refresh_from_db()
    order = sandbox_shipment.order
    order.refresh_from_db()
    assert (sandbox_shipment.status, order.status) == ("delivered", "delivered")
    assert list(
        sandbox_shipment.events.order_by("occurred_at", "pk").values_list("status", flat=True)
    ) == [
        "shipped",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    with pytest.raises(Conflict) as error:
        services.shipment_simulate_progress(shipment_id=sandbox_shipment.pk, inline=True)
    assert error.value.code == "already_delivered"


def test_only_sandbox_shipments_simulate(shipped):
    with pytest.raises(Conflict) as error:
        services.shipment_simulate_progress(shipment_id=shipped.pk, inline=True)
    assert error.value.code == "not_sandbox"
    assert Shipment.objects.get().status == "shipped"
