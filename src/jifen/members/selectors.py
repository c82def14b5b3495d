import re

from django.db.models import Q

from jifen.members.models import User

PHONE_RE = re.compile(r"^\+?\d{6,15}$")


def normalize_phone(value: str) -> str:
    return re.sub(r"[\s\-()]", "", value or "")


def member_find_by_login(identifier: str) -> User | None:
    """The user whose phone, e-mail (any case) or member number is `identifier`."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        query = Q(email__iexact=identifier)
    else:
        phone = normalize_phone(identifier)
        query = Q(phone=phone) | Q(member_number=phone)
    return User.objects.filter(query).first()
