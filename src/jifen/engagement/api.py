"""Check-in, tasks and sharing in the JSON API.

Each operation parses input, calls one service or selector and renders the result. The
awards' ledger references come from the business facts (member and day, task and evidence,
share slot), so retries never pay twice whether or not an Idempotency-Key is sent.
"""

import datetime as dt
from typing import Literal

from ninja import Field, Router, Schema, Status

from jifen.engagement import selectors, services
from jifen.engagement.models import Checkin
from jifen.members.api import ErrorOut, StrictSchema, Text, local
from jifen.members.auth import member_auth

router = Router(tags=["engagement"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- check-in ------------------------------------------------------------------------------


class RewardOut(Schema):
    points: int = Field(description="the day's reward, weekend factor applied (rounded down)")
    bonus: int = Field(description="streak bonus paid with it")
    total: int
    streak: int


class CalendarDayOut(Schema):
    date: dt.date
    checked_in: bool
    points: int
    bonus: int
    is_makeup: bool
    is_today: bool
    can_make_up: bool


class CalendarOut(Schema):
    month: str
    today: dt.date
    checked_in_today: bool
    streak: int
    today_reward: RewardOut
    tomorrow_reward: RewardOut
    makeup_cards: int
    days: list[CalendarDayOut]


class CheckinOut(Schema):
    date: dt.date
    streak: int
    points: int
    bonus: int
    total: int
    is_makeup: bool
    created_at: dt.datetime


class MakeupIn(StrictSchema):
    day: dt.date = Field(description="a missed day of this month, YYYY-MM-DD")


def reward_out(reward) -> dict:
    return {
        "points": reward.points,
        "bonus": reward.bonus,
        "total": reward.total,
        "streak": reward.streak,
    }


def checkin_out(checkin: Checkin) -> dict:
    return {
        "date": checkin.day,
        "streak": checkin.streak,
        "points": checkin.points,
        "bonus": checkin.bonus,
        "total": checkin.points + checkin.bonus,
        "is_makeup": checkin.is_makeup,
        "created_at": local(checkin.created_at),
    }


@router.get("/me/checkins", auth=member_auth, response={200: CalendarOut, **ERRORS})
def checkin_calendar(request, month: str | None = None):
    """This month's calendar (or `?month=YYYY-MM`), the live streak and the next rewards."""
    cal = selectors.checkin_calendar(member=request.auth, month=month)
    return Status(
        200,
        {
            "month": cal.month,
            "today": cal.today,
            "checked_in_today": cal.checked_in_today,
            "streak": cal.streak,
            "today_reward": reward_out(cal.today_reward),
            "tomorrow_reward": reward_out(cal.tomorrow_reward),
            "makeup_cards": cal.makeup_cards,
            "days": [
                {
                    "date": d.date,
                    "checked_in": d.checked_in,
                    "points": d.points,
                    "bonus": d.bonus,
                    "is_makeup": d.is_makeup,
                    "is_today": d.is_today,
                    "can_make_up": d.can_make_up,
                }
                for d in cal.days
            ],
        },
    )


@router.post("/me/checkins", auth=member_auth, response={201: CheckinOut, **ERRORS})
def checkin_create(request):
    """Check in for today (business day). 409 `already_checked_in` the second time."""
    return Status(201, checkin_out(services.checkin_create(member_id=request.auth.pk)))


@router.post("/me/checkins/makeup", auth=member_auth, response={201: CheckinOut, **ERRORS})
def checkin_makeup(request, payload: MakeupIn):
    """Use a make-up card (补签卡) on a missed day of this month; 409 `no_makeup_cards`."""
    checkin = services.checkin_makeup(member_id=request.auth.pk, day=payload.day)
    return Status(201, checkin_out(checkin))


# --- tasks ---------------------------------------------------------------------------------


class TaskOut(Schema):
    code: str
    title: str
    description: str
    evidence: str
    action: str
    points: int
    makeup_cards: int
    period: str
    cap: int
    done: int = Field(description="completions in the current period")
    status: Literal["done", "available", "locked"]
    claimable: bool
    hint: str
    ends_at: dt.datetime | None


class TaskList(Schema):
    items: list[TaskOut]
    count: int


class CompletionOut(Schema):
    task: str
    points: int
    makeup_cards: int
    period: str
    created_at: dt.datetime


def task_out(status) -> dict:
    task = status.task
    return {
        "code": task.code,
        "title": task.title,
        "description": task.description,
        "evidence": task.evidence,
        "action": task.action,
        "points": task.points,
        "makeup_cards": task.makeup_cards,
        "period": task.period,
        "cap": task.cap,
        "done": status.done,
        "status": status.status,
        "claimable": status.claimable,
        "hint": status.hint,
        "ends_at": local(task.ends_at),
    }


@router.get("/me/tasks", auth=member_auth, response={200: TaskList, **ERRORS})
def task_list(request):
    """Open tasks with the member's status in the current period (a short list: one page)."""
    items = [task_out(s) for s in selectors.task_list_for_member(member=request.auth)]
    return Status(200, {"items": items, "count": len(items)})


@router.post("/me/tasks/{code}/claim", auth=member_auth, response={201: CompletionOut, **ERRORS})
def task_claim(request, code: str):
    """Claim a task proven by the member's own data; 409 `task_locked` / `task_done`."""
    completion = services.task_claim(member_id=request.auth.pk, code=code)
    return Status(
        201,
        {
            "task": code,
            "points": completion.points,
            "makeup_cards": completion.makeup_cards,
            "period": completion.period_key,
            "created_at": local(completion.created_at),
        },
    )


# --- sharing -------------------------------------------------------------------------------


class ShareIn(StrictSchema):
    target: Text = Field(max_length=120, description='what is shared, e.g. "item:42"')
    channel: Literal["wechat", "weibo", "link"]


class ShareOut(Schema):
    target: str
    channel: str
    points: int = Field(description="0 once the day's cap is reached or the target repeats")
    rewarded_today: int
    remaining_today: int
    created_at: dt.datetime


@router.post("/me/shares", auth=member_auth, response={201: ShareOut, **ERRORS})
def share_create(request, payload: ShareIn):
    """Record a share; it earns points at most N times a business day."""
    share = services.share_create(
        member_id=request.auth.pk, target=payload.target, channel=payload.channel
    )
    summary = selectors.share_summary(member_id=request.auth.pk)
    return Status(
        201,
        {
            "target": share.target,
            "channel": share.channel,
            "points": share.points,
            "rewarded_today": summary.rewarded_today,
            "remaining_today": summary.remaining,
            "created_at": local(share.created_at),
        },
    )
