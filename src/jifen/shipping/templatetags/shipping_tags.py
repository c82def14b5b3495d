"""Template tags of the shipping app (used by the order detail page's tracking block)."""

from django import template

from jifen.shipping.selectors import shipment_for_order

register = template.Library()


@register.simple_tag
def order_shipment(order):
    """`{% order_shipment order as shipment %}`: the order's shipment with its carrier and
    its tracking events (newest first), or None."""
    if order is None or not getattr(order, "pk", None):
        return None
    return shipment_for_order(order_id=order.pk)
