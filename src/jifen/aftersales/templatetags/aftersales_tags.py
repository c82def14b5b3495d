"""The after-sales block of the order detail page."""

from django import template

from jifen.aftersales import selectors

register = template.Library()


@register.inclusion_tag("aftersales/includes/order_block.html", takes_context=True)
def order_aftersales(context, order):
    """The order's after-sales and whether the "申请售后" button shows."""
    user = context.get("user")
    mine = user is not None and getattr(user, "pk", None) == order.member_id
    return {
        "order": order,
        "aftersales": selectors.order_aftersales(order_id=order.pk) if mine else [],
        "can_request": mine and selectors.order_can_request(order=order),
    }
