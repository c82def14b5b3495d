"""Reads for the rules engine: the rules in force at a moment, the tier hook, a purchase's
facts, and the preview (what a purchase would earn, changing nothing)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, QuerySet

from jifen.core import clock
from jifen.core.errors import DomainError
from jifen.rules import engine
from jifen.rules.models import CapCounter, Rule


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


def period_start(day: dt.date, period: str) -> dt.date:
    """The first day of the cap period `day` falls in (the day itself, or the 1st)."""
    return day.replace(day=1) if period == Rule.CapPeriod.MONTH else day


def purchase_facts(
    *,
    member,
    amount: Decimal,
    occurred_at: dt.datetime,
    lines: list[dict] | tuple = (),
    store: str = "",
    channel: str = "",
    first_purchase: bool = False,
) -> engine.Facts:
    """The engine's facts for a purchase: the business day, lines, tier and birthday."""
    day = clock.business_date(occurred_at)
    multiplier, tier_name = (Decimal(1), "")
    if member is not None:
        multiplier, tier_name = member_earn_multiplier(member_id=member.pk, on_date=day)
    return engine.Facts(
        amount=Decimal(amount),
        occurred_on=day,
        lines=tuple(
            engine.Line(
                sku=str(line.get("sku", "")),
                category=str(line.get("category", "")),
                quantity=int(line.get("quantity", 1)),
                amount=Decimal(str(line.get("amount", "0"))),
            )
            for line in lines
        ),
        store=store or "",
        channel=channel or "",
        birthday=getattr(member, "birthday", None),
        tier_name=tier_name,
        tier_multiplier=multiplier,
        first_purchase=first_purchase,
    )


def purchase_preview(
    *,
    member=None,
    amount: Decimal,
    occurred_at: dt.datetime,
    lines: list[dict] | tuple = (),
    store: str = "",
    channel: str = "",
    first_purchase: bool = False,
    draft: Rule | None = None,
    rules_at: dt.datetime | None = None,
) -> tuple[engine.Award, list[Rule]]:
    """What a purchase would earn, changing nothing (the back-office preview).

    The rules are those in force at `rules_at` (default: `occurred_at`); a real past
    purchase is previewed with today's rules by passing rules_at=now, while its date still
    decides the schedules (weekends, member days, campaign dates). `draft` is an unsaved
    rule version to try: it replaces the version of its code (or is added). Caps are shown
    against their current usage.
    """
    rules = [
        rule
        for rule in rules_in_force(at=rules_at or occurred_at)
        if not draft or rule.code != draft.code
    ]
    if draft is not None:
        rules.append(draft)
    facts = purchase_facts(
        member=member,
        amount=amount,
        occurred_at=occurred_at,
        lines=lines,
        store=store,
        channel=channel,
        first_purchase=first_purchase,
    )
    usage = []
    for rule in rules:
        if rule.kind == Rule.Kind.CAP and rule.pk:
            counter = CapCounter.objects.filter(
                rule_code=rule.code,
                member_id=(member.pk if member and rule.cap_scope == Rule.CapScope.MEMBER else 0),
                period_start=period_start(facts.occurred_on, rule.cap_period),
            ).first()
            usage.append(engine.CapUsage(rule_id=rule.pk, used=counter.points if counter else 0))
    return engine.evaluate(facts, [rule.spec() for rule in rules], usage), rules
