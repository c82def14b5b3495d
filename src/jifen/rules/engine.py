"""The earning-rules engine: a pure function from facts and rules to an award.

Nothing here touches the database, the clock or settings, so it can be property-tested:
`evaluate(facts, rules, usage)` returns the points and the explanation lines that add up
to them. Services (jifen.rules.services) gather the facts, the rules in force at the
purchase's time and the caps' usage under lock, call this, and post the result.

Arithmetic (the rounding rule is stated where a multiplier is applied):
- Lines whose SKU or category is excluded earn nothing; the rest form the eligible amount.
  A category/SKU multiplier weights its lines' amounts (exact decimals).
- Base points = floor(weighted amount × points per unit / unit amount × member and campaign
  multipliers): one rounding, down, at the end, so 1.2 × 1.5 is not rounded twice.
- Bonuses (threshold, first purchase) add whole points after the base.
- Caps take the minimum of the total and each cap's room left; never below zero.
So the award equals base + bonuses − capped, each an integer shown on its own line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

# Rule kinds (jifen.rules.models.Rule.Kind has the same values and their labels).
BASE_RATE = "base_rate"
LINE_MULTIPLIER = "line_multiplier"
EXCLUSION = "exclusion"
MULTIPLIER = "multiplier"
TIER_MULTIPLIER = "tier_multiplier"
BIRTHDAY_MULTIPLIER = "birthday_multiplier"
THRESHOLD_BONUS = "threshold_bonus"
FIRST_PURCHASE_BONUS = "first_purchase_bonus"
CAP = "cap"
PENDING_PERIOD = "pending_period"


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class Facts:
    """What is known about one purchase and its member when it is evaluated."""

    amount: Decimal
    occurred_on: dt.date  # business day of occurred_at
    lines: tuple[Line, ...] = ()
    store: str = ""
    channel: str = ""
    birthday: dt.date | None = None
    tier_name: str = ""
    tier_multiplier: Decimal = Decimal(1)
    first_purchase: bool = False

    def effective_lines(self) -> tuple[Line, ...]:
        """The lines, or one line for the whole amount when the order sent none."""
        return self.lines or (Line(sku="", category="", quantity=1, amount=self.amount),)


@dataclass(frozen=True)
class RuleSpec:
    """One rule version, as plain data (built from jifen.rules.models.Rule.spec())."""

    id: int
    code: str
    version: int
    name: str
    kind: str
    priority: int = 0
    stop_further: bool = False
    # filters and schedule
    stores: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    weekdays: tuple[int, ...] = ()  # ISO 1 (Monday) … 7
    month_days: tuple[int, ...] = ()
    # parameters (which ones matter depends on kind)
    points: int = 0
    unit_amount: Decimal = Decimal(1)
    multiplier: Decimal = Decimal(1)
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    min_amount: Decimal = Decimal(0)
    repeat: bool = False
    birthday_scope: str = "day"  # or "month"
    cap_scope: str = "member"  # or "global"
    cap_period: str = "day"  # or "month"
    days: int = 0

    @property
    def label(self) -> str:
        return f"{self.name}（{self.code} v{self.version}）"

    def applies_on(self, facts: Facts) -> bool:
        """The store/channel filters and the schedule allow this purchase."""
        if self.stores and facts.store not in self.stores:
            return False
        if self.channels and facts.channel not in self.channels:
            return False
        day = facts.occurred_on
        if self.starts_on and day < self.starts_on:
            return False
        if self.ends_on and day > self.ends_on:
            return False
        if self.weekdays and day.isoweekday() not in self.weekdays:
            return False
        if self.month_days and day.day not in self.month_days:
            return False
        return True

    def matches_line(self, line: Line) -> bool:
        return bool(
            (self.skus and line.sku in self.skus)
            or (self.categories and line.category in self.categories)
        )


@dataclass(frozen=True)
class CapUsage:
    """Points a cap has already counted in its current period."""

    rule_id: int
    used: int


@dataclass
class Step:
    """One explanation line. `points` is what the line adds to the award (signed)."""

    rule_id: int | None
    kind: str
    text: str
    points: int = 0


@dataclass
class Award:
    points: int
    base: int
    steps: list[Step] = field(default_factory=list)
    # inputs of the base line, for checking its arithmetic
    weighted_amount: Decimal = Decimal(0)
    rate_points: int = 0
    rate_unit: Decimal = Decimal(1)
    factors: list[Decimal] = field(default_factory=list)
    pending_days: int = 0
    applied_rule_ids: list[int] = field(default_factory=list)
    cap_counts: dict[int, int] = field(default_factory=dict)  # cap rule id → points to count

    @property
    def explanation(self) -> str:
        return "; ".join(step.text for step in self.steps)


def money(value: Decimal) -> str:
    return f"¥{value.quantize(Decimal('0.01'))}"


def factor_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def floor_points(value: Decimal) -> int:
    """Points round down (DESIGN.md): the member never gets a fraction rounded up."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def ordered(rules: list[RuleSpec]) -> list[RuleSpec]:
    """Highest priority first; ties by code so the order never depends on row order."""
    return sorted(rules, key=lambda rule: (-rule.priority, rule.code, rule.version))


def evaluate(facts: Facts, rules: list[RuleSpec], usage: list[CapUsage] | None = None) -> Award:
    """The award for one purchase under `rules` (those in force at its time).

    Rules are taken highest priority first; those whose filters or schedule do not match
    are skipped. A matching rule with `stop_further` stops every lower-priority rule.
    Only the first matching base rate and pending period count (a store's own rate
    overrides the general one by priority); multipliers of every kind stack (multiply);
    of the threshold bonuses only the highest threshold reached counts.
    """
    used = {cap.rule_id: cap.used for cap in usage or ()}
    active: list[RuleSpec] = []
    for rule in ordered(list(rules)):
        if not rule.applies_on(facts):
            continue
        active.append(rule)
        if rule.stop_further:
            break

    steps: list[Step] = []
    lines = facts.effective_lines()
    # Exclusions first: excluded lines earn nothing, whatever else applies to them.
    exclusions = [rule for rule in active if rule.kind == EXCLUSION]
    line_rules = [rule for rule in active if rule.kind == LINE_MULTIPLIER]
    eligible = Decimal(0)
    excluded = Decimal(0)
    weighted_parts: list[tuple[Decimal, Decimal, list[str]]] = []  # amount, factor, names
    applied: list[int] = []
    for line in lines:
        amount = max(line.amount, Decimal(0))
        blocking = next((rule for rule in exclusions if rule.matches_line(line)), None)
        if blocking is not None:
            excluded += amount
            if blocking.id not in applied:
                applied.append(blocking.id)
            continue
        eligible += amount
        factor = Decimal(1)
        names: list[str] = []
        for rule in line_rules:
            if rule.matches_line(line):
                factor *= rule.multiplier
                names.append(rule.name)
                if rule.id not in applied:
                    applied.append(rule.id)
        weighted_parts.append((amount, factor, names))
    if excluded:
        steps.append(Step(None, EXCLUSION, f"不计积分 {money(excluded)}", 0))
    weighted = sum((amount * factor for amount, factor, _n in weighted_parts), Decimal(0))

    base_rule = next((rule for rule in active if rule.kind == BASE_RATE), None)
    award = Award(points=0, base=0, weighted_amount=weighted)
    pending_rule = next((rule for rule in active if rule.kind == PENDING_PERIOD), None)
    if pending_rule is not None:
        award.pending_days = max(pending_rule.days, 0)
        applied.append(pending_rule.id)

    base = 0
    if base_rule is not None and base_rule.points > 0 and base_rule.unit_amount > 0:
        applied.append(base_rule.id)
        award.rate_points = base_rule.points
        award.rate_unit = base_rule.unit_amount
        factors: list[tuple[Decimal, str, int]] = []
        for rule in active:
            if rule.kind == MULTIPLIER:
                factors.append((rule.multiplier, rule.name, rule.id))
            elif rule.kind == TIER_MULTIPLIER and facts.tier_multiplier != 1:
                factors.append((facts.tier_multiplier, facts.tier_name or rule.name, rule.id))
            elif rule.kind == BIRTHDAY_MULTIPLIER and _is_birthday(facts, rule.birthday_scope):
                factors.append((rule.multiplier, rule.name, rule.id))
        factors = [(value, name, rule_id) for value, name, rule_id in factors if value >= 0]
        product = weighted * base_rule.points / base_rule.unit_amount
        for value, _name, rule_id in factors:
            product *= value
            applied.append(rule_id)
        base = max(floor_points(product), 0)
        award.factors = [value for value, _n, _r in factors]
        if base_rule.unit_amount == 1:
            rate = f"{base_rule.points} 积分/元"
        else:
            rate = f"{base_rule.points} 积分/{money(base_rule.unit_amount)}"
        amount_text = _amount_text(weighted_parts, eligible)
        text = f"消费 {amount_text} × {rate}"
        for value, name, _rule_id in factors:
            text += f" × {factor_text(value)} {name}"
        steps.append(Step(base_rule.id, BASE_RATE, f"{text} = {base}", base))
    award.base = base
    total = base

    thresholds = [
        rule
        for rule in active
        if rule.kind == THRESHOLD_BONUS and rule.points > 0 and eligible >= rule.min_amount > 0
    ]
    if thresholds:
        best = max(thresholds, key=lambda rule: (rule.min_amount, -rule.priority))
        times = int(eligible // best.min_amount) if best.repeat else 1
        bonus = best.points * times
        total += bonus
        applied.append(best.id)
        steps.append(Step(best.id, THRESHOLD_BONUS, f"{best.name} +{bonus} → {total}", bonus))
    if facts.first_purchase:
        for rule in active:
            if rule.kind == FIRST_PURCHASE_BONUS and rule.points > 0:
                total += rule.points
                applied.append(rule.id)
                steps.append(
                    Step(
                        rule.id,
                        FIRST_PURCHASE_BONUS,
                        f"{rule.name} +{rule.points} → {total}",
                        rule.points,
                    )
                )
                break

    # Caps: each counts what this award adds to its period; the tightest one wins.
    caps = [rule for rule in active if rule.kind == CAP and rule.points >= 0]
    for rule in caps:
        room = max(rule.points - used.get(rule.id, 0), 0)
        if total > room:
            cut = total - room
            total = room
            applied.append(rule.id)
            steps.append(Step(rule.id, CAP, f"{rule.name}（上限 {rule.points}）→ {total}", -cut))
    for rule in caps:
        award.cap_counts[rule.id] = total
    award.points = total
    award.steps = steps
    award.applied_rule_ids = list(dict.fromkeys(applied))
    return award


def _is_birthday(facts: Facts, scope: str) -> bool:
    if facts.birthday is None:
        return False
    if scope == "month":
        return facts.birthday.month == facts.occurred_on.month
    day = facts.occurred_on
    birthday = facts.birthday
    if birthday.month == 2 and birthday.day == 29 and not _leap(day.year):
        return (day.month, day.day) == (2, 28)  # celebrated on the 28th in common years
    return (birthday.month, birthday.day) == (day.month, day.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _amount_text(parts: list[tuple[Decimal, Decimal, list[str]]], eligible: Decimal) -> str:
    """¥128.00, or (¥100.00 + ¥28.00 × 2 家电) when lines are weighted."""
    if all(factor == 1 for _a, factor, _n in parts):
        return money(eligible)
    plain = sum((amount for amount, factor, _n in parts if factor == 1), Decimal(0))
    terms = [money(plain)] if plain else []
    grouped: dict[tuple[Decimal, str], Decimal] = {}
    for amount, factor, names in parts:
        if factor != 1:
            key = (factor, "·".join(names))
            grouped[key] = grouped.get(key, Decimal(0)) + amount
    for (factor, names), amount in grouped.items():
        terms.append(f"{money(amount)} × {factor_text(factor)} {names}")
    return "(" + " + ".join(terms) + ")"


def check_arithmetic(award: Award) -> bool:
    """The explanation adds up: base as stated, steps sum to the award, never negative."""
    product = (
        award.weighted_amount * award.rate_points / award.rate_unit if award.rate_points else 0
    )
    for value in award.factors:
        product *= value
    base_ok = award.base == (max(floor_points(Decimal(product)), 0) if award.rate_points else 0)
    return base_ok and sum(step.points for step in award.steps) == award.points >= 0


__all__ = [
    "Award",
    "CapUsage",
    "Facts",
    "Line",
    "RuleSpec",
    "Step",
    "evaluate",
    "check_arithmetic",
]
