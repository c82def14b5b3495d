"""Small presentation helpers for the member site."""

from django import template

register = template.Library()

KIND_ICONS = {
    "earn": "coin",
    "spend": "gift",
    "expire": "hourglass",
    "transfer": "send",
    "adjust": "sliders",
    "refund": "refresh",
}


@register.filter
def points(value) -> str:
    """1234 → "1,234" (points are integers; grouping reads the same in both languages)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""


@register.filter
def signed_points(value) -> str:
    """+1,234 or −1,234 (a true minus sign, U+2212)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return ""
    return f"+{number:,}" if number > 0 else f"\u2212{-number:,}"


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "coin")


@register.filter
def initial(user) -> str:
    name = getattr(user, "display_name", "") or "?"
    return name[:1].upper()
