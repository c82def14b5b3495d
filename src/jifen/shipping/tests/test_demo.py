import pytest

from jifen.orders.models import OrderEvent
from jifen.shipping.demo import load_shipping_demo
from jifen.shipping.models import Carrier, Shipment, TrackingEvent

pytestmark = pytest.mark.django_db


def test_demo_ships_and_delivers_once(make_order, operator):
    orders = [make_order() for _ in range(8)]
    virtual = make_order(needs_shipping=False)
    shipments = load_shipping_demo(log=lambda line: None)
    assert sorted(Carrier.objects.values_list("code", flat=True)) == ["jd", "sandbox", "sf", "zto"]
    assert [s.order_id for s in shipments] == [o.pk for o in orders[:6]]
    assert [(s.carrier.code, s.status) for s in shipments] == [
        ("sandbox", "delivered"),
        ("sandbox", "delivered"),
        ("sandbox", "delivered"),
        ("sandbox", "in_transit"),
        ("sf", "in_transit"),
        ("zto", "shipped"),
    ]
    statuses = [
        o.status
        for o in type(orders[0]).objects.filter(pk__in=[o.pk for o in orders]).order_by("pk")
    ]
    assert statuses == ["delivered"] * 3 + ["shipped"] * 3 + ["paid"] * 2
    counts = (Shipment.objects.count(), TrackingEvent.objects.count(), OrderEvent.objects.count())
    assert counts == (6, 4 * 3 + 3 + 1 + 1, 6 + 3)

    load_shipping_demo(log=lambda line: None)
    assert (
        Shipment.objects.count(),
        TrackingEvent.objects.count(),
        OrderEvent.objects.count(),
    ) == counts
    virtual.refresh_from_db()
    assert virtual.status == "paid"
