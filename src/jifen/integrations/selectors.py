"""Reads of the integration app: members for the CRM, purchases and custom actions.

Other apps read custom actions here (the tasks app rewards them):
    custom_actions(member_id=..., name="survey_completed", since=..., after_id=...)
"""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from jifen.core.errors import DomainError, NotFound
from jifen.integrations.models import CustomAction, Event, Purchase
from jifen.ledger.models import Account
from jifen.members.models import User


def member_tier(*, member_id: int) -> dict | None:
    """THE tier hook of the integration API: the member's tier, or None.

    Reads jifen.tiers.selectors.member_tier(member_id) (a TierInfo) when the tiers app
    provides it; None until then, or when no tier level is configured.
    """
    try:
        from jifen.tiers import selectors as tiers
    except ImportError:  # pragma: no cover
        return None
    get_tier = getattr(tiers, "member_tier", None)
    if get_tier is None:
        return None
    try:
        info = get_tier(member_id)
    except DomainError:
        return None
    return {
        "code": info.code,
        "name": info.name,
        "rank": info.rank,
        "since": info.since.isoformat() if info.since else None,
        "earn_multiplier": str(info.benefits.earn_multiplier),
    }


def member_by_external_id(*, external_id: str) -> dict:
    """The CRM's view of a member: profile, tier and points; NotFound if unknown."""
    member = User.objects.filter(external_id=external_id).first() if external_id else None
    if member is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    wallet = (
        Account.objects.filter(member_id=member.pk)
        .values("available", "pending", "held", "debt")
        .first()
    ) or {"available": 0, "pending": 0, "held": 0, "debt": 0}
    return {
        "external_id": member.external_id,
        "member_number": member.member_number,
        "phone": member.phone,
        "email": member.email,
        "name": member.name,
        "birthday": member.birthday,
        "gender": member.gender,
        "is_active": not member.is_closed,
        "tier": member_tier(member_id=member.pk),
        "points": wallet,
    }


def custom_actions(
    *,
    member_id: int | None = None,
    name: str | None = None,
    since: dt.datetime | None = None,
    after_id: int | None = None,
) -> QuerySet[CustomAction]:
    """Custom actions, oldest first, filtered by member, name, occurred_at >= since, and
    id > after_id (a consumer remembers the last id it handled and asks for newer ones)."""
    query = CustomAction.objects.all()
    if member_id is not None:
        query = query.filter(member_id=member_id)
    if name:
        query = query.filter(name=name)
    if since is not None:
        query = query.filter(occurred_at__gte=since)
    if after_id is not None:
        query = query.filter(pk__gt=after_id)
    return query.order_by("pk")


def member_purchases(*, member_id: int, since: dt.datetime | None = None) -> QuerySet[Purchase]:
    """A member's purchases (net spend = amount − refunded_amount), newest first."""
    query = Purchase.objects.filter(member_id=member_id)
    if since is not None:
        query = query.filter(occurred_at__gte=since)
    return query.order_by("-occurred_at", "-pk")


def event_get(*, client_id: int, event_id: str) -> Event:
    event = Event.objects.filter(client_id=client_id, event_id=event_id).first()
    if event is None:
        raise NotFound(_("事件不存在。"), code="event_not_found")
    return event
