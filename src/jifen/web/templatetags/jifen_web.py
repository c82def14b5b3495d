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


def mask_name(name: str) -> str:
    """ "王小明" → "*小明", "Alice" → "*lice": enough to recognise a friend, not to look one up."""
    name = (name or "").strip()
    if not name:
        return ""
    return "*" + name[1:] if len(name) > 1 else "*"


@register.filter
def masked_identity(user) -> str:
    """A recipient as shown before a transfer: masked name, else masked phone / e-mail."""
    if getattr(user, "name", ""):
        return mask_name(user.name)
    return user.masked_login or user.member_number
