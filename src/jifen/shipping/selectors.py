"""Reads of the shipping app."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from jifen.orders.models import Order, OrderLine
from jifen.shipping.models import Carrier, Shipment, TrackingEvent


def shipment_for_order(*, order_id: int) -> Shipment | None:
    """The order's shipment with its carrier and its events (newest first), or None."""
    return (
        Shipment.objects.select_related("carrier")
        .prefetch_related(
            Prefetch("events", queryset=TrackingEvent.objects.order_by("-occurred_at", "-pk"))
        )
        .filter(order_id=order_id)
        .first()
    )


def carriers_active() -> QuerySet[Carrier]:
    """Carriers an operator may ship with, in their display order."""
    return Carrier.objects.filter(is_active=True).order_by("sort_order", "pk")


def orders_to_ship() -> QuerySet[Order]:
    """Paid orders with physical goods and no shipment yet, oldest payment first (the
    back-office's "待发货" queue)."""
    return Order.objects.filter(
        status=Order.Status.PAID, needs_shipping=True, shipment__isnull=True
    ).order_by("paid_at", "pk")


def order_units_to_ship(*, order: Order) -> list[tuple[OrderLine, int]]:
    """[(physical line, quantity still to ship)] of an order: each physical line's quantity
    minus the units refunded by after-sales before shipment (those units went back on the
    shelf); lines with nothing left are left out. Reads `order.lines.all()` (prefetch it
    for a list)."""
    from jifen.aftersales.selectors import order_units_to_ship as units

    return units(order=order)
