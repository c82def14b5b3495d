import re

from jifen.members.models import User

PHONE_RE = re.compile(r"^\+?\d{6,15}$")


def normalize_phone(value: str) -> str:
    return re.sub(r"[\s\-()]", "", value or "")


def member_find_by_login(identifier: str) -> User | None:
    """The user whose phone, e-mail (any case) or member number is `identifier`."""
    identifier = (identifier or "").strip()
    if not identifier or "\x00" in identifier or len(identifier) > 254:
        return None
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier).first()
    # A phone number wins over a member number with the same digits, so the answer never
    # depends on row order.
    phone = normalize_phone(identifier)
    return (
        User.objects.filter(phone=phone).first() or User.objects.filter(member_number=phone).first()
    )
