import datetime as dt

import pytest
from django.utils import timezone

from jifen.orders.models import Order, OrderEvent
from jifen.shipping import services
from jifen.shipping.models import Shipment, TrackingEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_shipping_one_order_at_once_makes_one_shipment(carriers, order, operator, run_concurrently):
    results = run_concurrently(
        lambda i: (
            services.shipment_create(
                order_id=order.pk,
                carrier_code="sf",
                tracking_number="SF1234567890" if i % 2 else f"SF99999999{i:02d}",
                by=operator,
            ).pk
        ),
        8,
    )
    oks = [value for kind, value in results if kind == "ok"]
    errors = [value.code for kind, value in results if kind == "error"]
    assert Shipment.objects.count() == 1
    assert set(oks) == {Shipment.objects.get().pk}
    assert set(errors) <= {"already_shipped"}
    assert len(oks) + len(errors) == 8
    order.refresh_from_db()
    assert order.status == "shipped"
    assert OrderEvent.objects.filter(order=order).count() == 1


def test_a_callback_delivered_many_times_at_once_records_once(
    carriers, order, operator, run_concurrently
):
    services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    moment = (timezone.now() + dt.timedelta(minutes=1)).replace(microsecond=0)

    def deliver(i):
        return services.tracking_event_record(
            carrier_code="sf",
            tracking_number="SF1234567890",
            status="delivered",
            description="已签收",
            location="上海",
            occurred_at=moment.isoformat(),
        ).pk

    results = run_concurrently(deliver, 8)
    assert {kind for kind, _value in results} == {"ok"}, results
    assert len({value for _kind, value in results}) == 1
    assert TrackingEvent.objects.filter(status="delivered").count() == 1
    assert Order.objects.get(pk=order.pk).status == "delivered"
    assert OrderEvent.objects.filter(order=order, to_status="delivered").count() == 1
