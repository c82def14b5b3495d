"""The header's cart link: how many units the signed-in member has in the cart."""

from django import template

from jifen.orders.selectors import cart_count

register = template.Library()


@register.simple_tag(takes_context=True)
def member_cart_count(context) -> int:
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return cart_count(member_id=user.pk)
