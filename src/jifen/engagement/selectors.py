"""Engagement reads: the check-in calendar, the task center, today's shares."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.core.errors import ValidationFailed
from jifen.engagement.models import Checkin, MemberEngagement, Share, Task, TaskCompletion
from jifen.engagement.services import (
    Reward,
    daily_reward,
    engagement_config,
    member_action_done,
    milestones_reached,
    period_key,
    streak_ending,
    task_is_open,
)
from jifen.members.models import User


@dataclass
class CalendarDay:
    date: dt.date
    checked_in: bool = False
    points: int = 0
    bonus: int = 0
    is_makeup: bool = False
    is_today: bool = False
    is_future: bool = False
    is_weekend: bool = False
    can_make_up: bool = False


@dataclass
class CheckinCalendar:
    month: str  # "YYYY-MM"
    today: dt.date
    checked_in_today: bool
    streak: int  # the run still alive: ending today, or yesterday if not yet checked in
    today_reward: Reward  # what checking in today pays (or paid)
    tomorrow_reward: Reward  # what tomorrow pays, today being checked in
    makeup_cards: int
    enabled: bool
    makeup_enabled: bool
    days: list[CalendarDay] = field(default_factory=list)
    leading_blanks: int = 0  # weekday of the 1st (Monday = 0), for a Monday-first grid
    rewards: list[int] = field(default_factory=list)  # the table, for the rules shown
    bonuses: list[tuple[int, int]] = field(default_factory=list)  # (streak, points)
    weekend_factor: str = "1"

    @property
    def checked_in_days(self) -> int:
        return sum(1 for day in self.days if day.checked_in)


def parse_month(value: str | None, today: dt.date) -> dt.date:
    """The first day of "YYYY-MM" (default: this business month); ValidationFailed if bad."""
    if not value:
        return today.replace(day=1)
    try:
        year, month = value.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        first = dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValidationFailed(
            _("月份格式应为 YYYY-MM。"), code="invalid_month", fields={"month": "YYYY-MM"}
        ) from None
    if first > today.replace(day=1) or first.year < 2000:
        raise ValidationFailed(
            _("月份超出范围。"), code="invalid_month", fields={"month": "2000-01 to this month"}
        )
    return first


def _reward(config, *, member_id: int, streak: int, day: dt.date) -> Reward:
    bonus = sum(
        points for _length, points in milestones_reached(config, before=streak - 1, after=streak)
    )
    return Reward(points=daily_reward(config, streak=streak, day=day), bonus=bonus, streak=streak)


def checkin_calendar(*, member: User, month: str | None = None) -> CheckinCalendar:
    """A month of check-ins (default: this business month) with the streak and rewards."""
    config = engagement_config()
    today = clock.business_date()
    first = parse_month(month, today)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    rows = {
        row.day: row for row in Checkin.objects.filter(member=member, day__gte=first, day__lte=last)
    }
    checked_today = (
        today in rows
        if first.month == today.month and first.year == today.year
        else Checkin.objects.filter(member=member, day=today).exists()
    )
    yesterday = today - dt.timedelta(days=1)
    streak = streak_ending(member_id=member.pk, day=today if checked_today else yesterday)
    if checked_today:
        today_row = Checkin.objects.get(member=member, day=today)
        today_reward = Reward(points=today_row.points, bonus=today_row.bonus, streak=streak)
        tomorrow_streak = streak + 1
    else:
        today_reward = _reward(config, member_id=member.pk, streak=streak + 1, day=today)
        tomorrow_streak = streak + 2
    tomorrow = today + dt.timedelta(days=1)
    cards = (
        MemberEngagement.objects.filter(member=member)
        .values_list("makeup_cards", flat=True)
        .first()
        or 0
    )
    joined = clock.business_date(member.date_joined)
    can_makeup = config.makeup_enabled and config.checkin_enabled and cards > 0
    days = []
    day = first
    while day <= last:
        row = rows.get(day)
        days.append(
            CalendarDay(
                date=day,
                checked_in=row is not None,
                points=row.points if row else 0,
                bonus=row.bonus if row else 0,
                is_makeup=bool(row and row.is_makeup),
                is_today=day == today,
                is_future=day > today,
                is_weekend=day.weekday() >= 5,
                can_make_up=(
                    can_makeup
                    and row is None
                    and joined <= day < today
                    and (day.year, day.month) == (today.year, today.month)
                ),
            )
        )
        day += dt.timedelta(days=1)
    return CheckinCalendar(
        month=first.strftime("%Y-%m"),
        today=today,
        checked_in_today=checked_today,
        streak=streak,
        today_reward=today_reward,
        tomorrow_reward=_reward(config, member_id=member.pk, streak=tomorrow_streak, day=tomorrow),
        makeup_cards=cards,
        enabled=config.checkin_enabled,
        makeup_enabled=config.makeup_enabled,
        days=days,
        leading_blanks=first.weekday(),
        rewards=list(config.checkin_rewards),
        bonuses=sorted(
            (int(days), int(points))
            for days, points in (config.checkin_bonuses or {}).items()
            if int(points) > 0
        ),
        weekend_factor=format(config.weekend_factor.normalize(), "f"),
    )


@dataclass
class TaskStatus:
    task: Task
    status: str  # "done" (cap reached this period), "available" or "locked"
    done: int  # completions in the current period
    cap: int
    claimable: bool  # a member-action task whose evidence is met and not yet claimed
    hint: str = ""


def task_list_for_member(*, member: User) -> list[TaskStatus]:
    """The open tasks with the member's status in each one's current period."""
    now = clock.now()
    today = clock.business_date(now)
    tasks = [task for task in Task.objects.filter(is_active=True) if task_is_open(task, now)]
    keys = {task.pk: period_key(task.period, today) for task in tasks}
    counts = {
        (row["task_id"], row["period_key"]): row["n"]
        for row in TaskCompletion.objects.filter(
            member=member, task_id__in=keys, period_key__in=set(keys.values())
        )
        .values("task_id", "period_key")
        .annotate(n=Count("id"))
    }
    statuses = []
    for task in tasks:
        done = counts.get((task.pk, keys[task.pk]), 0)
        if done >= task.cap:
            status, claimable, hint = "done", False, ""
        elif task.evidence == Task.Evidence.EVENT:
            status, claimable, hint = "available", False, ""
        elif member_action_done(task, member):
            status, claimable, hint = "available", True, ""
        else:
            status, claimable = "locked", False
            hint = (
                _("填写姓名、生日和性别后可领取")
                if task.evidence == Task.Evidence.PROFILE_COMPLETE
                else _("绑定手机号后可领取")
            )
        statuses.append(
            TaskStatus(
                task=task, status=status, done=done, cap=task.cap, claimable=claimable, hint=hint
            )
        )
    return statuses


@dataclass
class ShareSummary:
    points: int  # per rewarded share
    cap: int
    rewarded_today: int

    @property
    def remaining(self) -> int:
        return max(self.cap - self.rewarded_today, 0) if self.points else 0


def share_summary(*, member_id: int) -> ShareSummary:
    config = engagement_config()
    used = Share.objects.filter(
        member_id=member_id, day=clock.business_date(), slot__isnull=False
    ).count()
    return ShareSummary(points=config.share_points, cap=config.share_daily_cap, rewarded_today=used)
