import datetime as dt

import pytest

from jifen.aftersales.demo import load_aftersales_demo
from jifen.aftersales.models import AfterSale, AfterSaleEvent
from jifen.aftersales.tests.conftest import earn

pytestmark = pytest.mark.django_db


def test_demo_makes_three_aftersales_once(
    member, operator, shop, make_order, provider, media, vouchers
):
    earn(member, 20_000, "e1", dt.date(2099, 12, 31))
    orders = [make_order(member, [(shop.mug_sku, 1)]) for _ in range(4)]
    made = load_aftersales_demo(log=lambda _m: None)
    assert [a.status for a in made] == ["refunded", "requested", "rejected"]
    assert made[1].photos.count() == 1 and made[1].kind == "return_refund"
    refunded_order = made[0].order
    refunded_order.refresh_from_db()
    assert refunded_order.status == "refunded"
    assert len({a.order_id for a in made}) == 3
    assert made[0].order_id == orders[-1].pk  # newest first
    counts = (AfterSale.objects.count(), AfterSaleEvent.objects.count(), len(provider.refunds))
    again = load_aftersales_demo(log=lambda _m: None)
    assert [a.pk for a in again] == [a.pk for a in made]
    assert (AfterSale.objects.count(), AfterSaleEvent.objects.count(), len(provider.refunds)) == (
        counts
    )


def test_demo_without_orders_logs_and_makes_nothing(db):
    lines = []
    assert load_aftersales_demo(log=lines.append) == []
    assert "no order left" in lines[0]
