"""shipment_create refuses an order with an open after-sale (review C2)."""

from decimal import Decimal

import pytest

from jifen.aftersales.models import AfterSale
from jifen.core.errors import Conflict
from jifen.orders.models import Order, OrderEvent
from jifen.shipping import services
from jifen.shipping.models import Shipment

pytestmark = pytest.mark.django_db


def _aftersale(order, status):
    return AfterSale.objects.create(
        number=f"S2612010000{AfterSale.objects.count():03d}",
        order=order,
        member_id=order.member_id,
        kind="refund_only",
        status=status,
        reason="other",
        cash_to_refund=Decimal("0"),
    )


@pytest.mark.parametrize("status", ["requested", "approved"])
def test_an_order_with_an_open_aftersale_is_not_shipped(order, carriers, operator, status):
    _aftersale(order, status)
    with pytest.raises(Conflict) as error:
        services.shipment_create(
            order_id=order.pk, carrier_code="sf", tracking_number="SF1234567", by=operator
        )
    assert error.value.code == "aftersale_open"
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.shipped_at) == ("paid", None)
    assert not Shipment.objects.exists() and not OrderEvent.objects.filter(order=order).exists()


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_a_closed_aftersale_does_not_block_shipping(order, carriers, operator, status):
    _aftersale(order, status)
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567", by=operator
    )
    assert shipment.tracking_number == "SF1234567"
    assert Order.objects.get(pk=order.pk).status == "shipped"
