"""Presentation helpers for the mall pages."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()

SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$"}


@register.filter
def cash(value, currency: str = "CNY") -> str:
    """Decimal("9.9") → "¥9.90" (the currency's symbol, or its code)."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    symbol = SYMBOLS.get(currency or "CNY")
    return f"{symbol}{amount:,}" if symbol else f"{amount:,} {currency}"


@register.simple_tag
def price_text(points, cash_amount=None, currency: str = "CNY") -> str:
    """ "5,000 积分 + ¥9.90", or "800 积分", or "¥9.90" (cash only)."""
    parts = []
    if points:
        parts.append(_("%(points)s 积分") % {"points": f"{int(points):,}"})
    if cash_amount and Decimal(str(cash_amount)) > 0:
        parts.append(cash(cash_amount, currency))
    return " + ".join(parts)


@register.filter
def first_image(item):
    images = list(item.images.all())
    return images[0] if images else None
