"""Display of tier values: discounts as 折, multipliers as ×1.5, money with two decimals."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()


def _plain(value: Decimal) -> str:
    text = f"{Decimal(value).normalize():f}"
    return text


@register.filter
def zhe(value) -> str:
    """0.95 → "9.5折", 0.90 → "9折", 1 → "无折扣"."""
    if value is None or Decimal(value) >= 1:
        return _("无折扣")
    return _("%(n)s折") % {"n": _plain(Decimal(value) * 10)}


@register.filter
def times(value) -> str:
    """1.25 → "×1.25", 2.00 → "×2"."""
    return "×" + _plain(Decimal(value))


@register.filter
def money(value) -> str:
    return "—" if value is None else f"{Decimal(value):,.2f}"
