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


def earning_rules_for_members(*, today: dt.date | None = None) -> list[dict]:
    """The rules in force now, in a member's words, highest priority first.

    Caps and pending periods are included (members ask why points are capped or pending);
    campaigns already over are left out, ones still to come are kept with their dates.
    """
    from django.utils.translation import gettext as _

    today = today or clock.business_date()
    items = []
    for rule in rules_current():
        if rule.ends_on and rule.ends_on < today:
            continue
        items.append(
            {
                "name": rule.name,
                "kind": rule.kind,
                "text": _describe(rule, _),
                "when": _when(rule, _),
                "upcoming": bool(rule.starts_on and rule.starts_on > today),
            }
        )
    return items


def _describe(rule: Rule, _) -> str:
    spec = rule.spec()
    scope = "、".join(spec.categories + spec.skus)
    kind = rule.kind
    if kind == Rule.Kind.BASE_RATE:
        if rule.unit_amount == 1:
            return _("每消费 1 元得 %(points)s 积分") % {"points": rule.points}
        return _("每消费 %(unit)s 元得 %(points)s 积分") % {
            "unit": f"{rule.unit_amount.normalize():f}",
            "points": rule.points,
        }
    if kind == Rule.Kind.LINE_MULTIPLIER:
        return _("%(scope)s 积分 × %(m)s") % {
            "scope": scope,
            "m": f"{rule.multiplier.normalize():f}",
        }
    if kind == Rule.Kind.EXCLUSION:
        return _("%(scope)s 不计积分") % {"scope": scope}
    if kind == Rule.Kind.MULTIPLIER:
        return _("积分 × %(m)s") % {"m": f"{rule.multiplier.normalize():f}"}
    if kind == Rule.Kind.TIER_MULTIPLIER:
        return _("按会员等级加倍（见会员等级）")
    if kind == Rule.Kind.BIRTHDAY_MULTIPLIER:
        template = (
            _("生日当月积分 × %(m)s")
            if rule.birthday_scope == Rule.BirthdayScope.MONTH
            else _("生日当天积分 × %(m)s")
        )
        return template % {"m": f"{rule.multiplier.normalize():f}"}
    if kind == Rule.Kind.THRESHOLD_BONUS:
        template = (
            _("每满 %(amount)s 元加赠 %(points)s 积分")
            if rule.repeat
            else _("单笔满 %(amount)s 元加赠 %(points)s 积分")
        )
        return template % {"amount": f"{rule.min_amount.normalize():f}", "points": rule.points}
    if kind == Rule.Kind.FIRST_PURCHASE_BONUS:
        return _("首次消费加赠 %(points)s 积分") % {"points": rule.points}
    if kind == Rule.Kind.CAP:
        period = _("每天") if rule.cap_period == Rule.CapPeriod.DAY else _("每月")
        if rule.cap_scope == Rule.CapScope.MEMBER:
            return _("消费积分%(period)s最多 %(points)s") % {
                "period": period,
                "points": rule.points,
            }
        return _("活动积分%(period)s总量有限") % {"period": period}
    if kind == Rule.Kind.PENDING_PERIOD:
        return _("消费积分在 %(days)s 天退货期后可用") % {"days": rule.days}
    return rule.name


def _when(rule: Rule, _) -> str:
    weekday_names = {
        1: _("周一"),
        2: _("周二"),
        3: _("周三"),
        4: _("周四"),
        5: _("周五"),
        6: _("周六"),
        7: _("周日"),
    }
    spec = rule.spec()
    parts = []
    if rule.starts_on or rule.ends_on:
        parts.append(
            _("%(start)s 至 %(end)s")
            % {
                "start": rule.starts_on.isoformat() if rule.starts_on else "…",
                "end": rule.ends_on.isoformat() if rule.ends_on else "…",
            }
        )
    if spec.weekdays:
        parts.append("、".join(weekday_names[day] for day in spec.weekdays))
    if spec.month_days:
        parts.append(_("每月 %(days)s 日") % {"days": "、".join(map(str, spec.month_days))})
    if spec.stores:
        parts.append(_("限门店 %(stores)s") % {"stores": "、".join(spec.stores)})
    if spec.channels:
        parts.append(_("限渠道 %(channels)s") % {"channels": "、".join(spec.channels)})
    return " · ".join(parts)
