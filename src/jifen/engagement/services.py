"""Engagement writes: daily check-in, make-up cards, tasks and sharing.

Every award goes through jifen.ledger.services.points_earn with a deterministic reference,
so a retry, a double click or a concurrent request never pays twice:
- check-in            `checkin:<member>:<day>`
- streak bonus        `checkin-bonus:<member>:<day>:<streak length>`
- task completion     `task:<task>:<member>:<evidence reference>`
- share               `share:<member>:<day>:<slot>`

Concurrency: each write first locks the member's `MemberEngagement` row (select_for_update;
the member's wallet is only touched afterwards by the ledger, so the lock order is always
engagement row → wallet). Unique constraints are the guard behind the lock: one check-in
per (member, day); a task's completions take numbered slots 1..cap per period; rewarded
shares take slots 1..N per day. Make-up cards change by guarded UPDATEs (`cards >= 1`).

Errors: ValidationFailed (bad input), NotFound (unknown member or task), Conflict (already
checked in, task done or locked, no make-up card, feature switched off).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.engagement.models import (
    Checkin,
    EngagementConfig,
    MakeupCardGrant,
    MemberEngagement,
    Share,
    Task,
    TaskCompletion,
)
from jifen.ledger.services import points_earn
from jifen.members.models import User
from jifen.tiers.services import tier_evaluate_after_commit

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# What may be shared: "<kind>:<id>", e.g. "item:42", "campaign:double-11".
TARGET_RE = re.compile(r"^[a-z][a-z_]{0,19}:[A-Za-z0-9_.\-]{1,80}$")
MAX_REWARD_DAYS = 366
MAX_DAILY_POINTS = 100_000
EVENT_CLOCK_SKEW = dt.timedelta(minutes=5)


# --- shared helpers ------------------------------------------------------------------------


def engagement_config() -> EngagementConfig:
    """The one configuration row, created with the defaults on first use."""
    config = EngagementConfig.objects.filter(pk=1).first()
    if config is not None:
        return config
    try:
        with transaction.atomic():
            return EngagementConfig.objects.create(pk=1)
    except IntegrityError:  # created concurrently
        return EngagementConfig.objects.get(pk=1)


def _lock_member(member_id: int) -> MemberEngagement:
    """Lock the member's engagement row (created on first use); NotFound for no such member.

    Serialises one member's check-ins, make-ups, task completions and shares; other members
    are not blocked.
    """
    if not isinstance(member_id, int) or isinstance(member_id, bool):
        raise NotFound(_("会员不存在。"), code="member_not_found")
    if not User.objects.filter(pk=member_id, is_active=True, closed_at__isnull=True).exists():
        raise NotFound(_("会员不存在。"), code="member_not_found")
    MemberEngagement.objects.get_or_create(member_id=member_id)
    return MemberEngagement.objects.select_for_update().get(member_id=member_id)


def _ledger_reference(prefix: str, reference: str) -> str:
    """`prefix:reference`, hashing a long reference so it fits the ledger's 200 characters."""
    if len(prefix) + len(reference) > 190:
        reference = "sha256-" + hashlib.sha256(reference.encode()).hexdigest()
    return f"{prefix}:{reference}"


# --- check-in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reward:
    points: int  # the day's reward, weekend factor applied (rounded down)
    bonus: int  # streak bonuses paid with it
    streak: int

    @property
    def total(self) -> int:
        return self.points + self.bonus


def is_weekend(day: dt.date) -> bool:
    return day.weekday() >= 5


def daily_reward(config: EngagementConfig, *, streak: int, day: dt.date) -> int:
    """The reward of the `streak`-th consecutive day, falling on `day`.

    Past the end of the table the last value repeats. On a weekend the reward is multiplied
    by `weekend_factor` and rounded DOWN to whole points (1.5 × 3 = 4).
    """
    table = config.checkin_rewards or [0]
    base = int(table[min(streak, len(table)) - 1])
    if is_weekend(day):
        return int(Decimal(base) * Decimal(config.weekend_factor))  # int() floors positives
    return base


def milestones_reached(
    config: EngagementConfig, *, before: int, after: int
) -> list[tuple[int, int]]:
    """(streak length, bonus) for each bonus length in (before, after]: what a change newly
    reaches, shortest first."""
    reached = []
    for key, bonus in (config.checkin_bonuses or {}).items():
        length = int(key)
        if before < length <= after and int(bonus) > 0:
            reached.append((length, int(bonus)))
    return sorted(reached)


def streak_ending(*, member_id: int, day: dt.date) -> int:
    """How many consecutive days up to and including `day` the member checked in (0 if not
    on `day`). Reads the days backwards in pages, stopping at the first gap."""
    expected = day
    count = 0
    page = 62
    offset = 0
    days = (
        Checkin.objects.filter(member_id=member_id, day__lte=day)
        .order_by("-day")
        .values_list("day", flat=True)
    )
    while True:
        batch = list(days[offset : offset + page])
        for value in batch:
            if value != expected:
                return count
            count += 1
            expected -= dt.timedelta(days=1)
        if len(batch) < page:
            return count
        offset += page


def _pay_bonuses(
    config: EngagementConfig, *, member_id: int, day: dt.date, before: int, after: int
) -> int:
    paid = 0
    for length, bonus in milestones_reached(config, before=before, after=after):
        points_earn(
            member_id=member_id,
            points=bonus,
            source="checkin",
            reference=f"checkin-bonus:{member_id}:{day.isoformat()}:{length}",
            explanation=_("连续签到 %(days)s 天奖励") % {"days": length},
            details={"streak": length, "day": day.isoformat(), "bonus": True},
        )
        paid += bonus
    return paid


def _record_day(
    config: EngagementConfig,
    *,
    member_id: int,
    day: dt.date,
    is_makeup: bool,
    right_streak: int = 0,
) -> Checkin:
    """Insert the check-in of `day`, and pay its reward and the milestones it reaches.

    `right_streak`: for a make-up, the length of the run that starts the day after `day`
    (it joins the run ending the day before). Milestones the two runs had each reached were
    paid then; only the lengths the joined run newly reaches are paid now.
    """
    left = streak_ending(member_id=member_id, day=day - dt.timedelta(days=1))
    streak = left + 1
    points = daily_reward(config, streak=streak, day=day)
    reference = f"checkin:{member_id}:{day.isoformat()}"
    try:
        with transaction.atomic():
            checkin = Checkin.objects.create(
                member_id=member_id,
                day=day,
                streak=streak,
                points=points,
                is_makeup=is_makeup,
                reference=reference,
            )
    except IntegrityError:
        raise Conflict(_("今天已经签到过了。"), code="already_checked_in") from None
    if points > 0:
        if is_makeup:
            explanation = _("补签 %(date)s") % {"date": day.isoformat()}
        else:
            explanation = _("连续签到第 %(days)s 天") % {"days": streak}
        if is_weekend(day) and config.weekend_factor > 1:
            explanation += _("（周末 ×%(factor)s）") % {"factor": _factor(config.weekend_factor)}
        points_earn(
            member_id=member_id,
            points=points,
            source="checkin",
            reference=reference,
            explanation=explanation,
            details={"streak": streak, "day": day.isoformat(), "makeup": is_makeup},
        )
        tier_evaluate_after_commit(member_id=member_id)
    bonus = _pay_bonuses(
        config,
        member_id=member_id,
        day=day,
        before=max(left, right_streak),
        after=streak + right_streak,
    )
    if bonus:
        Checkin.objects.filter(pk=checkin.pk).update(bonus=bonus)
        checkin.bonus = bonus
    return checkin


def _factor(value: Decimal) -> str:
    return format(value.normalize(), "f")


@transaction.atomic
def checkin_create(*, member_id: int) -> Checkin:
    """Check the member in for today's business day (settings.TIME_ZONE).

    Once per member per day, guarded by the unique (member, day) constraint: a second call,
    however concurrent, raises Conflict `already_checked_in` and pays nothing. The streak is
    the run of consecutive days ending today (a missed day resets it to 1).
    """
    config = engagement_config()
    if not config.checkin_enabled:
        raise Conflict(_("签到活动未开启。"), code="checkin_disabled")
    _lock_member(member_id)
    today = clock.business_date()
    if Checkin.objects.filter(member_id=member_id, day=today).exists():
        raise Conflict(_("今天已经签到过了。"), code="already_checked_in")
    return _record_day(config, member_id=member_id, day=today, is_makeup=False)


@transaction.atomic
def checkin_makeup(*, member_id: int, day: dt.date) -> Checkin:
    """Fill one missed day of the current month with a make-up card (补签卡).

    The day must be before today, in this business month and not before the member joined;
    one card is used (guarded UPDATE, `cards >= 1`). The day earns its streak reward, and
    the streak through it is kept: if it joins two runs, bonuses for lengths the joined run
    newly reaches are paid. Errors: ValidationFailed `invalid_makeup_day`, Conflict
    `already_checked_in`, `no_makeup_cards`, `makeup_disabled`.
    """
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ValidationFailed(
            _("日期格式不正确。"), code="invalid_makeup_day", fields={"day": "YYYY-MM-DD"}
        )
    config = engagement_config()
    if not (config.makeup_enabled and config.checkin_enabled):
        raise Conflict(_("补签未开启。"), code="makeup_disabled")
    today = clock.business_date()
    member_joined = (
        User.objects.filter(pk=member_id).values_list("date_joined", flat=True).first()
        if isinstance(member_id, int)
        else None
    )
    if member_joined is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    if not (
        day < today
        and (day.year, day.month) == (today.year, today.month)
        and day >= clock.business_date(member_joined)
    ):
        raise ValidationFailed(
            _("只能补签本月注册后错过的日子。"),
            code="invalid_makeup_day",
            fields={"day": "a missed day of this month, before today"},
        )
    _lock_member(member_id)
    if Checkin.objects.filter(member_id=member_id, day=day).exists():
        raise Conflict(_("这一天已经签到过了。"), code="already_checked_in")
    used = MemberEngagement.objects.filter(member_id=member_id, makeup_cards__gte=1).update(
        makeup_cards=F("makeup_cards") - 1
    )
    if used != 1:
        raise Conflict(_("没有可用的补签卡。"), code="no_makeup_cards")
    # The run that starts the day after: the latest day checked in is today or yesterday.
    latest = today if Checkin.objects.filter(member_id=member_id, day=today).exists() else None
    latest = latest or today - dt.timedelta(days=1)
    right = 0
    if latest > day:
        right = streak_ending(member_id=member_id, day=latest)
        if right != (latest - day).days:  # a gap between the two: the runs do not join
            right = 0
    return _record_day(config, member_id=member_id, day=day, is_makeup=True, right_streak=right)


@transaction.atomic
def makeup_cards_grant(
    *,
    member_id: int,
    cards: int,
    reference: str,
    reason: str = "",
    granted_by_id: int | None = None,
) -> tuple[MakeupCardGrant, bool]:
    """Give the member `cards` make-up cards, once per `reference`.

    Returns (grant, created): a repeated reference returns the first grant and gives nothing.
    """
    if isinstance(cards, bool) or not isinstance(cards, int) or not 1 <= cards <= 100:
        raise ValidationFailed(
            _("补签卡张数不正确。"), code="invalid_cards", fields={"cards": "1 to 100"}
        )
    if not isinstance(reference, str) or not 1 <= len(reference) <= 200:
        raise ValidationFailed(
            _("缺少唯一参考号。"), code="invalid_reference", fields={"reference": "1 to 200"}
        )
    _lock_member(member_id)
    try:
        with transaction.atomic():
            grant = MakeupCardGrant.objects.create(
                member_id=member_id,
                cards=cards,
                reference=reference,
                reason=reason[:200],
                granted_by_id=granted_by_id,
            )
    except IntegrityError:
        existing = MakeupCardGrant.objects.get(reference=reference)
        if existing.member_id != member_id or existing.cards != cards:
            raise Conflict(_("该参考号已用于另一次发放。"), code="reference_conflict") from None
        return existing, False
    MemberEngagement.objects.filter(member_id=member_id).update(
        makeup_cards=F("makeup_cards") + cards
    )
    return grant, True


# --- configuration -------------------------------------------------------------------------


def _config_errors(values: dict) -> dict[str, str]:
    errors: dict[str, str] = {}
    rewards = values.get("checkin_rewards")
    if (
        not isinstance(rewards, list)
        or not 1 <= len(rewards) <= MAX_REWARD_DAYS
        or any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_DAILY_POINTS
            for v in rewards
        )
    ):
        errors["checkin_rewards"] = _("须为 1 至 366 个 0 至 100000 的整数组成的列表。")
    bonuses = values.get("checkin_bonuses")
    if bonuses in (None, ""):
        bonuses = {}
    if not isinstance(bonuses, dict) or any(
        not (isinstance(k, str) and k.isdigit() and 1 <= int(k) <= 10_000)
        or isinstance(v, bool)
        or not isinstance(v, int)
        or not 0 <= v <= MAX_DAILY_POINTS
        for k, v in bonuses.items()
    ):
        errors["checkin_bonuses"] = _('须为 {"天数": 积分} 形式，天数与积分为正整数。')
    try:
        factor = Decimal(str(values.get("weekend_factor")))
        if not (Decimal(1) <= factor <= Decimal(10)) or factor != factor.quantize(Decimal("0.01")):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["weekend_factor"] = _("须为 1 至 10 之间、最多两位小数的数。")
    for name, upper in (("share_points", MAX_DAILY_POINTS), ("share_daily_cap", 100)):
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
            errors[name] = _("须为 0 至 %(max)s 的整数。") % {"max": upper}
    return errors


def engagement_config_validate(values: dict) -> None:
    """Raise ValidationFailed (with the fields at fault) unless `values` are a valid config."""
    errors = _config_errors(values)
    if errors:
        raise ValidationFailed(_("设置不正确。"), code="invalid_config", fields=errors)


CONFIG_FIELDS = (
    "checkin_enabled",
    "checkin_rewards",
    "checkin_bonuses",
    "weekend_factor",
    "makeup_enabled",
    "share_points",
    "share_daily_cap",
)


@transaction.atomic
def engagement_config_update(*, values: dict, updated_by_id: int | None = None) -> EngagementConfig:
    """Replace the operators' settings (fields missing from `values` keep their value)."""
    config = engagement_config()
    merged = {name: values.get(name, getattr(config, name)) for name in CONFIG_FIELDS}
    if merged["checkin_bonuses"] in (None, ""):
        merged["checkin_bonuses"] = {}
    engagement_config_validate(merged)
    merged["weekend_factor"] = Decimal(str(merged["weekend_factor"]))
    # "07" and "7" are the same streak length: store one spelling.
    merged["checkin_bonuses"] = {str(int(k)): v for k, v in merged["checkin_bonuses"].items()}
    EngagementConfig.objects.filter(pk=1).update(updated_by_id=updated_by_id, **merged)
    config.refresh_from_db()
    return config


# --- tasks ---------------------------------------------------------------------------------


def period_key(period: str, day: dt.date) -> str:
    """The period a completion on business day `day` counts in: the day, the ISO week
    (Monday to Sunday) or the member's lifetime."""
    if period == Task.Period.DAY:
        return day.isoformat()
    if period == Task.Period.WEEK:
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}"
    return "lifetime"


def task_validate(task: Task) -> None:
    """Raise ValidationFailed naming the fields at fault unless the task is consistent."""
    errors: dict[str, str] = {}
    if not task.code or not re.match(r"^[a-z0-9][a-z0-9_-]{0,49}$", task.code):
        errors["code"] = _("只能包含小写字母、数字、- 和 _。")
    if not (task.title or "").strip():
        errors["title"] = _("请填写名称。")
    if task.evidence not in Task.Evidence.values:
        errors["evidence"] = _("无效的完成依据。")
    if task.period not in Task.Period.values:
        errors["period"] = _("无效的频次周期。")
    if task.evidence == Task.Evidence.EVENT:
        if not ACTION_RE.match(task.action or ""):
            errors["action"] = _("外部事件任务须填写动作名（小写字母、数字、_）。")
    elif task.evidence in Task.Evidence.values:
        if task.action:
            errors["action"] = _("会员操作类任务不需要动作名。")
        if task.cap != 1:
            errors["cap"] = _("会员操作类任务每周期只能完成 1 次。")
    if not isinstance(task.required_details, dict) or any(
        isinstance(v, (dict, list)) for v in task.required_details.values()
    ):
        errors["required_details"] = _('须为 {"键": 值} 形式，值为文字、数字或布尔值。')
    if not isinstance(task.cap, int) or not 1 <= task.cap <= 1000:
        errors["cap"] = _("须为 1 至 1000 的整数。")
    for name in ("points", "makeup_cards"):
        value = getattr(task, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors[name] = _("须为非负整数。")
    if "points" not in errors and "makeup_cards" not in errors:
        if task.points > MAX_DAILY_POINTS:
            errors["points"] = _("积分数额过大。")
        elif task.makeup_cards > 10:
            errors["makeup_cards"] = _("每次最多奖励 10 张补签卡。")
        elif task.points == 0 and task.makeup_cards == 0:
            errors["points"] = _("请设置奖励积分或补签卡。")
    if task.starts_at and task.ends_at and task.ends_at <= task.starts_at:
        errors["ends_at"] = _("结束时间须晚于开始时间。")
    if errors:
        raise ValidationFailed(_("任务设置不正确。"), code="invalid_task", fields=errors)


@transaction.atomic
def task_save(*, task: Task) -> Task:
    """Create or change a task after validating it. Completions already recorded keep the
    points they earned; the new settings apply to later completions."""
    task_validate(task)
    if Task.objects.filter(code=task.code).exclude(pk=task.pk).exists():
        raise ValidationFailed(
            _("代码已被使用。"), code="invalid_task", fields={"code": _("代码已被使用。")}
        )
    task.save()
    return task


def task_is_open(task: Task, at: dt.datetime) -> bool:
    return (
        task.is_active
        and (task.starts_at is None or task.starts_at <= at)
        and (task.ends_at is None or at < task.ends_at)
    )


def member_action_done(task: Task, member: User) -> bool:
    """Whether the member's own data proves a member-action task."""
    if task.evidence == Task.Evidence.PROFILE_COMPLETE:
        return bool(member.name.strip() and member.birthday and member.gender)
    if task.evidence == Task.Evidence.PHONE_BOUND:
        return bool(member.phone)
    return False


def _complete(
    task: Task, *, member_id: int, evidence: str, occurred_at: dt.datetime
) -> TaskCompletion | None:
    """Record one completion within the task's cap and pay its reward; None when the cap of
    the period is reached or this evidence was already recorded. Caller holds the lock."""
    if TaskCompletion.objects.filter(task=task, member_id=member_id, reference=evidence).exists():
        return None
    key = period_key(task.period, clock.business_date(occurred_at))
    used = TaskCompletion.objects.filter(task=task, member_id=member_id, period_key=key).count()
    if used >= task.cap:
        return None
    try:
        with transaction.atomic():
            completion = TaskCompletion.objects.create(
                task=task,
                member_id=member_id,
                period_key=key,
                slot=used + 1,
                reference=evidence,
                points=task.points,
                makeup_cards=task.makeup_cards,
                occurred_at=occurred_at,
            )
    except IntegrityError:  # the slot or the evidence was taken meanwhile: the guard held
        return None
    reference = _ledger_reference(f"task:{task.pk}:{member_id}", evidence)
    if task.points:
        points_earn(
            member_id=member_id,
            points=task.points,
            source="task",
            reference=reference,
            explanation=_("完成任务：%(title)s") % {"title": task.title},
            details={"task": task.code, "period": key, "slot": completion.slot},
        )
        tier_evaluate_after_commit(member_id=member_id)
    if task.makeup_cards:
        makeup_cards_grant(
            member_id=member_id,
            cards=task.makeup_cards,
            reference=reference,
            reason=_("完成任务：%(title)s") % {"title": task.title},
        )
    return completion


@transaction.atomic
def task_claim(*, member_id: int, code: str) -> TaskCompletion:
    """The member claims a task proven by their own data (complete profile, bound phone).

    Once per period (member-action tasks have a cap of 1). Errors: NotFound `task_not_found`
    (unknown or switched-off task), Conflict `task_not_claimable` (completed by events, not
    by claiming), `task_locked` (evidence missing), `task_done` (already done this period).
    """
    # A task code is a slug: anything else (NUL included, which PostgreSQL text refuses)
    # cannot name a task.
    is_slug = isinstance(code, str) and re.fullmatch(r"[-a-zA-Z0-9_]{1,50}", code)
    task = Task.objects.filter(code=code, is_active=True).first() if is_slug else None
    now = clock.now()
    if task is None or not task_is_open(task, now):
        raise NotFound(_("任务不存在或已结束。"), code="task_not_found")
    if task.evidence == Task.Evidence.EVENT:
        raise Conflict(_("该任务完成后自动发放奖励，无需领取。"), code="task_not_claimable")
    _lock_member(member_id)
    member = User.objects.get(pk=member_id)
    if not member_action_done(task, member):
        raise Conflict(_("尚未满足任务条件。"), code="task_locked")
    key = period_key(task.period, clock.business_date(now))
    completion = _complete(task, member_id=member_id, evidence=f"claim:{key}", occurred_at=now)
    if completion is None:
        raise Conflict(_("任务已完成。"), code="task_done")
    return completion


def _details_match(required: dict, details: dict) -> bool:
    return all(key in details and details[key] == value for key, value in required.items())


@transaction.atomic
def task_action_record(
    *,
    member_id: int,
    action: str,
    reference: str,
    occurred_at: dt.datetime | None = None,
    details: dict | None = None,
) -> list[TaskCompletion]:
    """Record a member's action reported by an integration (purchase, survey_completed,
    review_posted, share, …) and complete every open event task for that action whose
    required details match, each within its cap for the period `occurred_at` falls in.

    Idempotent by `reference`: a task never counts the same reference twice, so a replayed
    event completes nothing. Returns the completions made by this call (empty when none).
    Errors: ValidationFailed (bad action, reference, time or details), NotFound (member).
    """
    if not isinstance(action, str) or not ACTION_RE.match(action):
        raise ValidationFailed(
            _("动作名无效。"), code="invalid_action", fields={"action": "[a-z][a-z0-9_]{0,49}"}
        )
    if not isinstance(reference, str) or not 1 <= len(reference) <= 200 or "\x00" in reference:
        raise ValidationFailed(
            _("缺少唯一参考号。"), code="invalid_reference", fields={"reference": "1 to 200"}
        )
    if details is not None and not isinstance(details, dict):
        raise ValidationFailed(
            _("详情须为对象。"), code="invalid_details", fields={"details": "object"}
        )
    now = clock.now()
    if occurred_at is None:
        occurred_at = now
    if not isinstance(occurred_at, dt.datetime) or occurred_at.tzinfo is None:
        raise ValidationFailed(
            _("时间须带时区。"), code="invalid_occurred_at", fields={"occurred_at": "aware"}
        )
    if occurred_at > now + EVENT_CLOCK_SKEW:
        raise ValidationFailed(
            _("时间不能晚于现在。"), code="invalid_occurred_at", fields={"occurred_at": "future"}
        )
    details = details or {}
    tasks = [
        task
        for task in Task.objects.filter(action=action, evidence=Task.Evidence.EVENT, is_active=True)
        if task_is_open(task, occurred_at) and _details_match(task.required_details, details)
    ]
    _lock_member(member_id)
    completions = []
    for task in tasks:
        completion = _complete(
            task,
            member_id=member_id,
            evidence=_ledger_reference("event", reference),  # hashed if too long to store
            occurred_at=occurred_at,
        )
        if completion is not None:
            completions.append(completion)
    return completions


# --- sharing -------------------------------------------------------------------------------


@transaction.atomic
def share_create(*, member_id: int, target: str, channel: str) -> Share:
    """Record that the member shared `target` ("item:42", "campaign:double-11") on a channel.

    A share earns `share_points` at most `share_daily_cap` times a business day, and one
    target earns once a day; further shares are recorded with 0 points. The cap is race-free:
    a rewarded share takes a slot 1..N of the day (unique), under the member's lock. A share
    also counts for event tasks with the action `share`.
    Errors: ValidationFailed `invalid_target`, `invalid_channel`; NotFound (member).
    """
    if not isinstance(target, str) or not TARGET_RE.match(target):
        raise ValidationFailed(
            _("分享内容无效。"), code="invalid_target", fields={"target": "<kind>:<id>"}
        )
    if channel not in Share.Channel.values:
        raise ValidationFailed(
            _("分享渠道无效。"),
            code="invalid_channel",
            fields={"channel": "|".join(Share.Channel.values)},
        )
    config = engagement_config()
    _lock_member(member_id)
    today = clock.business_date()
    rewarded = Share.objects.filter(member_id=member_id, day=today, slot__isnull=False)
    used = rewarded.count()
    slot = None
    if (
        config.share_points > 0
        and used < config.share_daily_cap
        and not rewarded.filter(target=target).exists()
    ):
        slot = used + 1
    share = Share.objects.create(
        member_id=member_id,
        target=target,
        channel=channel,
        day=today,
        slot=slot,
        points=config.share_points if slot else 0,
    )
    if slot:
        points_earn(
            member_id=member_id,
            points=config.share_points,
            source="share",
            reference=f"share:{member_id}:{today.isoformat()}:{slot}",
            explanation=_("分享奖励"),
            details={"target": target, "channel": channel},
        )
        tier_evaluate_after_commit(member_id=member_id)
    task_action_record(
        member_id=member_id,
        action="share",
        reference=f"share:{share.pk}",
        details={"target": target, "channel": channel},
    )
    return share
