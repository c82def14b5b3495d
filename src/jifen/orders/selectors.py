"""Reads of orders and carts (docs/mall.md)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from jifen.core.errors import NotFound
from jifen.orders.models import Order


def order_get_for_member(*, number: str, member_id: int) -> Order:
    """The member's order by number; NotFound `order_not_found` for unknown numbers and for
    other members' orders alike (no hint that the number exists)."""
    order = (
        Order.objects.filter(number=str(number or "")[:20], member_id=member_id)
        .select_related("hold")
        .first()
    )
    if order is None:
        raise NotFound(_("订单不存在。"), code="order_not_found", fields={"number": number})
    return order
