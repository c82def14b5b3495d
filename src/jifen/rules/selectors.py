"""Reads for the rules engine: the rules in force at a moment, and the tier hook."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, QuerySet

from jifen.core.errors import DomainError
from jifen.rules.models import Rule


def rules_in_force(*, at: dt.datetime) -> list[Rule]:
    """The rule versions in force at `at`: valid_from <= at < valid_until (or still open)."""
    return list(_in_force(at).order_by("-priority", "code"))


def _in_force(at: dt.datetime) -> QuerySet[Rule]:
    return Rule.objects.filter(valid_from__lte=at).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=at)
    )


def rules_current() -> QuerySet[Rule]:
    """The open version of every rule that has not been retired."""
    return Rule.objects.filter(valid_until__isnull=True).order_by("-priority", "code")


def rule_versions(*, code: str) -> list[Rule]:
    return list(Rule.objects.filter(code=code).order_by("-version"))


def member_earn_multiplier(*, member_id: int, on_date: dt.date) -> tuple[Decimal, str]:
    """THE tier hook: (earn multiplier, tier name) of the member on `on_date`.

    Asks jifen.tiers.selectors.member_earn_multiplier(member_id, on_date) -> Decimal when
    the tiers app provides it (and jifen.tiers.selectors.member_tier_name(member_id,
    on_date) -> str for the explanation, if it exists); until then every member earns
    at 1.0 (also when no tier level is configured).
    """
    try:
        from jifen.tiers import selectors as tiers
    except ImportError:  # pragma: no cover - the app shell exists
        return Decimal(1), ""
    get_multiplier = getattr(tiers, "member_earn_multiplier", None)
    if get_multiplier is None:
        return Decimal(1), ""
    try:
        multiplier = Decimal(str(get_multiplier(member_id, on_date)))
        get_name = getattr(tiers, "member_tier_name", None)
        name = str(get_name(member_id, on_date)) if get_name else ""
    except DomainError:  # no tier levels configured yet: everyone earns at 1.0
        return Decimal(1), ""
    return multiplier, name
