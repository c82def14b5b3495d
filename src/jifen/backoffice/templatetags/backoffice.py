"""Number formats for the back-office: grouped by thousands whatever the locale.

Django's zh-hans format groups nothing, which makes seven-digit liabilities hard to read.
"""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def points(value) -> str:
    """12345 → "12,345"."""
    return f"{int(value or 0):,}"


@register.filter
def money(value) -> str:
    """Decimal("12345.6") → "12,345.60"."""
    return f"{Decimal(value or 0):,.2f}"
