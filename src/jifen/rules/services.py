"""Writes of the rules app: rule versions, and awarding a purchase under the rules.

Invariants:
- Versions are append-only; at most one open version per code (unique constraint), and
  the versions of one code never overlap in time (the old one is closed at the instant the
  new one starts, under the old row's lock).
- A cap never lets more through in its period than its points: its counter row is locked
  (ascending pk order when several), the award is cut to the room left, and the counter
  grows by a guarded F() update in the same transaction as the earn posting.
- The first-purchase bonus is given once per member: its fact is a unique row.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.rules import engine
from jifen.rules.models import CapCounter, FirstPurchase, Rule, RuleCode
from jifen.rules.selectors import period_start, purchase_facts, rules_in_force

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
MAX_MULTIPLIER = Decimal(100)
MAX_POINTS = 100_000_000
MAX_AMOUNT = Decimal("10000000000")

RULE_FIELDS = (
    "name",
    "kind",
    "priority",
    "stop_further",
    "stores",
    "channels",
    "starts_on",
    "ends_on",
    "weekdays",
    "month_days",
    "points",
    "unit_amount",
    "multiplier",
    "categories",
    "skus",
    "min_amount",
    "repeat",
    "birthday_scope",
    "cap_scope",
    "cap_period",
    "days",
)


def _decimal(value, name: str, errors: dict, *, low: Decimal, high: Decimal, strict_low=False):
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[name] = "number required"
        return None
    if not number.is_finite() or number > high or number < low or (strict_low and number == low):
        errors[name] = f"between {low} and {high}"
        return None
    return number.quantize(Decimal("0.01"))


def _int_list(value: str, name: str, errors: dict, low: int, high: int) -> str:
    parts = [
        part.strip() for part in str(value or "").replace("，", ",").split(",") if part.strip()
    ]
    try:
        numbers = sorted({int(part) for part in parts})
    except ValueError:
        errors[name] = f"numbers {low}–{high}"
        return ""
    if any(not low <= n <= high for n in numbers):
        errors[name] = f"numbers {low}–{high}"
        return ""
    return ",".join(map(str, numbers))


def _csv_text(value: str, name: str, errors: dict, limit: int) -> str:
    parts = [
        part.strip() for part in str(value or "").replace("，", ",").split(",") if part.strip()
    ]
    text = ",".join(dict.fromkeys(parts))
    if len(text) > limit or "\x00" in text:
        errors[name] = f"at most {limit} characters"
    return text


def rule_clean(data: dict) -> dict:
    """Validate an operator's rule; ValidationFailed lists every bad field."""
    errors: dict[str, str] = {}
    cleaned: dict = {}
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "1 to 100 characters"
    cleaned["name"] = name
    kind = data.get("kind")
    if kind not in Rule.Kind.values:
        errors["kind"] = "unknown"
    cleaned["kind"] = kind
    for field, low, high in (
        ("priority", -1000, 1000),
        ("points", 0, MAX_POINTS),
        ("days", 0, 365),
    ):
        value = data.get(field, 0) or 0
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[field] = f"integer {low}–{high}"
        cleaned[field] = value
    cleaned["stop_further"] = bool(data.get("stop_further"))
    cleaned["repeat"] = bool(data.get("repeat"))
    cleaned["stores"] = _csv_text(data.get("stores", ""), "stores", errors, 500)
    cleaned["channels"] = _csv_text(data.get("channels", ""), "channels", errors, 200)
    cleaned["categories"] = _csv_text(data.get("categories", ""), "categories", errors, 500)
    cleaned["skus"] = _csv_text(data.get("skus", ""), "skus", errors, 1000)
    cleaned["weekdays"] = _int_list(data.get("weekdays", ""), "weekdays", errors, 1, 7)
    cleaned["month_days"] = _int_list(data.get("month_days", ""), "month_days", errors, 1, 31)
    for field in ("starts_on", "ends_on"):
        value = data.get(field)
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value) if value else None
            except ValueError:
                errors[field] = "YYYY-MM-DD"
                value = None
        cleaned[field] = value
    if cleaned["starts_on"] and cleaned["ends_on"] and cleaned["ends_on"] < cleaned["starts_on"]:
        errors["ends_on"] = "before starts_on"
    cleaned["unit_amount"] = _decimal(
        data.get("unit_amount", "1"),
        "unit_amount",
        errors,
        low=Decimal(0),
        high=MAX_AMOUNT,
        strict_low=True,
    )
    cleaned["multiplier"] = _decimal(
        data.get("multiplier", "1"), "multiplier", errors, low=Decimal(0), high=MAX_MULTIPLIER
    )
    cleaned["min_amount"] = _decimal(
        data.get("min_amount", "0"), "min_amount", errors, low=Decimal(0), high=MAX_AMOUNT
    )
    for field, choices in (
        ("birthday_scope", Rule.BirthdayScope.values),
        ("cap_scope", Rule.CapScope.values),
        ("cap_period", Rule.CapPeriod.values),
    ):
        value = data.get(field) or choices[0]
        if value not in choices:
            errors[field] = "unknown"
        cleaned[field] = value
    # What each kind needs to mean something.
    if not errors:
        if kind == Rule.Kind.BASE_RATE and cleaned["points"] <= 0:
            errors["points"] = "required"
        if kind in (Rule.Kind.LINE_MULTIPLIER, Rule.Kind.EXCLUSION) and not (
            cleaned["categories"] or cleaned["skus"]
        ):
            errors["categories"] = "categories or skus required"
        if kind == Rule.Kind.THRESHOLD_BONUS and (
            cleaned["points"] <= 0 or cleaned["min_amount"] <= 0
        ):
            errors["min_amount"] = "threshold and points required"
        if kind == Rule.Kind.FIRST_PURCHASE_BONUS and cleaned["points"] <= 0:
            errors["points"] = "required"
    if errors:
        raise ValidationFailed(_("规则设置不正确。"), code="invalid_rule", fields=errors)
    return cleaned


def _lock_rule(code: str) -> None:
    """Serialise the saves of one rule on its RuleCode row (created on first use), so they
    queue instead of racing on the unique indexes; the reads that follow the lock see the
    previous save committed."""
    try:
        with transaction.atomic():
            RuleCode.objects.get_or_create(code=code)
    except IntegrityError:  # created concurrently: it exists now
        pass
    list(RuleCode.objects.select_for_update().filter(code=code).values_list("code"))


@transaction.atomic
def rule_save(*, code: str, data: dict, by=None) -> Rule:
    """Put a new version of rule `code` in force from now (creating the rule if new).

    The open version, if any, is closed at the same instant. Concurrent saves of one rule
    queue on the code's RuleCode row and each puts its own version in force, new codes
    included. Raises ValidationFailed for bad fields.
    """
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise ValidationFailed(
            _("规则编码只能包含小写字母、数字、下划线和连字符。"),
            code="invalid_rule",
            fields={"code": "[a-z0-9_-]{1,50}"},
        )
    cleaned = rule_clean(data)
    _lock_rule(code)
    now = clock.now()
    current = Rule.objects.filter(code=code, valid_until__isnull=True).first()
    last_version = (
        Rule.objects.filter(code=code)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    ) or 0
    if current is not None:
        Rule.objects.filter(pk=current.pk, valid_until__isnull=True).update(valid_until=now)
    try:
        with transaction.atomic():
            return Rule.objects.create(
                code=code,
                version=last_version + 1,
                valid_from=now,
                created_by=by if getattr(by, "pk", None) else None,
                **cleaned,
            )
    except IntegrityError:
        raise Conflict(_("该规则正在被其他人修改，请刷新后重试。"), code="rule_conflict") from None


@transaction.atomic
def rule_retire(*, code: str) -> Rule:
    """Take rule `code` out of force from now (its versions stay, for past purchases)."""
    _lock_rule(code)
    current = Rule.objects.filter(code=code, valid_until__isnull=True).first()
    if current is None:
        raise NotFound(_("规则不存在或已停用。"), code="rule_not_found")
    Rule.objects.filter(pk=current.pk).update(valid_until=clock.now())
    current.refresh_from_db()
    return current


# --- evaluating a purchase ----------------------------------------------------------------------


def _lock_counters(caps: list[Rule], *, member_id: int, day: dt.date) -> dict[int, CapCounter]:
    """The counter row of each cap for this period, locked in ascending pk order."""
    keys = {}
    for rule in caps:
        key = (
            rule.code,
            member_id if rule.cap_scope == Rule.CapScope.MEMBER else 0,
            period_start(day, rule.cap_period),
        )
        try:
            with transaction.atomic():
                counter, _created = CapCounter.objects.get_or_create(
                    rule_code=key[0], member_id=key[1], period_start=key[2]
                )
        except IntegrityError:  # created concurrently
            counter = CapCounter.objects.get(
                rule_code=key[0], member_id=key[1], period_start=key[2]
            )
        keys[rule.pk] = counter.pk
    locked = {
        counter.pk: counter
        for counter in CapCounter.objects.select_for_update()
        .filter(pk__in=keys.values())
        .order_by("pk")
    }
    return {rule_id: locked[counter_id] for rule_id, counter_id in keys.items()}


@transaction.atomic
def purchase_award(
    *,
    member,
    amount: Decimal,
    occurred_at: dt.datetime,
    reference: str,
    lines: list[dict] | tuple = (),
    store: str = "",
    channel: str = "",
) -> engine.Award:
    """Evaluate a purchase under the rules in force at `occurred_at`, and reserve its limits.

    Claims the member's first purchase (once ever) and counts the award against every cap
    that applies, in the caller's transaction: the caller posts the points with
    jifen.ledger.services.points_earn in the same transaction, so a failure undoes both.
    Cap counters are locked before the wallet (the lock order of this flow).
    """
    rules = rules_in_force(at=occurred_at)
    # The member's first purchase is claimed whether or not a bonus rule is in force, so
    # enabling the rule later does not reward a member's hundredth purchase as "first".
    # A purchase of ¥0 (a free sample, a fully discounted order) is not a first purchase.
    first = False
    if Decimal(amount) > 0:
        try:
            with transaction.atomic():
                FirstPurchase.objects.create(member=member, reference=reference)
            first = True
        except IntegrityError:
            first = False
    facts = purchase_facts(
        member=member,
        amount=amount,
        occurred_at=occurred_at,
        lines=lines,
        store=store,
        channel=channel,
        first_purchase=first,
    )
    specs = [rule.spec() for rule in rules]
    caps = [rule for rule in rules if rule.kind == Rule.Kind.CAP and rule.spec().applies_on(facts)]
    counters = _lock_counters(caps, member_id=member.pk, day=facts.occurred_on) if caps else {}
    usage = [engine.CapUsage(rule_id=rule_id, used=c.points) for rule_id, c in counters.items()]
    award = engine.evaluate(facts, specs, usage)
    by_id = {rule.pk: rule for rule in caps}
    for rule_id, counted in award.cap_counts.items():
        counter = counters.get(rule_id)
        if counter is None or counted <= 0:
            continue
        limit = by_id[rule_id].points
        # Guarded: even a wrong count could never push a counter past its cap.
        updated = CapCounter.objects.filter(pk=counter.pk, points__lte=limit - counted).update(
            points=F("points") + counted
        )
        if updated != 1:  # pragma: no cover - the lock makes this unreachable
            raise Conflict(_("积分上限计数冲突，请重试。"), code="cap_conflict")
    return award


@transaction.atomic
def cap_counters_prune(*, today: dt.date | None = None, keep_days: int = 62) -> int:
    """Delete cap counters of periods that started more than `keep_days` ago.

    A monthly counter's period starts on the 1st, so 62 days keeps last month's whole.
    Only past periods go; safe to run twice or concurrently. Returns how many were deleted.
    """
    today = today or clock.business_date()
    deleted, _by_model = CapCounter.objects.filter(
        period_start__lt=today - dt.timedelta(days=keep_days)
    ).delete()
    return deleted
