import pytest

from jifen.orders.demo import load_orders_demo
from jifen.orders.models import Order

pytestmark = pytest.mark.django_db


def test_demo_orders_are_made_once(mall, rich):
    assert load_orders_demo(phone=rich.phone, log=lambda _line: None) == 5
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert "pending_payment" in statuses and "cancelled" in statuses
    assert "completed" in statuses
    load_orders_demo(phone=rich.phone, log=lambda _line: None)
    assert sorted(Order.objects.values_list("status", flat=True)) == statuses
