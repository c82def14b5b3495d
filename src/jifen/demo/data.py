"""Demo data: members, operators and a year of points history, posted only through services.

`load_demo()` is what `jifen load-demo` runs. It is deterministic and re-runnable:

- Members come from Faker (zh_CN and en_US) with a fixed seed, so the same people come back
  on every run; each is fetched by phone or e-mail before it is created (get-or-create).
- The history walks the business days of a window (the past year by default). Every posting
  goes through jifen.ledger.services with a deterministic reference `demo:<day>:...`, while
  `django.utils.timezone.now` (which auto_now_add fields and jifen.core.clock read) is patched
  to a time on that day. Each day is one database transaction, so a day is either complete or
  absent; a second run skips the days already there and only tops up what is missing.
- The window is remembered in the demo member's welcome posting (`demo:welcome`), so a rerun
  on a later date replays the same window instead of starting a second year.

Nothing here writes a balance, a lot or an entry directly: the ledger's invariants hold
because the services keep them, and `ledger_verify()` is checked at the end.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from jifen.core.errors import DomainError
from jifen.ledger import services as ledger
from jifen.ledger.models import Account, Adjustment, Hold, Transaction
from jifen.ledger.verification import Report, ledger_verify
from jifen.members import services as members_services
from jifen.members.models import Address, User
from jifen.members.selectors import member_find_by_login

SEED = 2026
DEMO_PHONE = "13800138000"
DEMO_PASSWORD = "Jifen-demo-2026"
DEMO_NAME = "林晓"
ADMIN_EMAIL = "admin@jifen.local"
ADMIN_PASSWORD = "Jifen-admin-2026"
OPS_EMAIL = "ops@jifen.local"
OPS_PASSWORD = "Jifen-ops-2026"
# Every other demo member shares the demo member's password (they are demo accounts).
MEMBER_PASSWORD = DEMO_PASSWORD
WELCOME_REFERENCE = "demo:welcome"

# What members redeem in the mall: (name, points).
REWARDS = [
    ("星巴克中杯饮品券", 1200),
    ("瑞幸咖啡券", 600),
    ("爱奇艺黄金会员月卡", 1500),
    ("20 元话费充值", 2000),
    ("品牌帆布袋", 800),
    ("无线充电器", 4500),
    ("电影票兑换券", 2500),
    ("5 元无门槛优惠券", 500),
    ("精选坚果礼盒", 3000),
    ("保温杯", 3500),
]
TASKS = [
    ("完善个人资料", 100),
    ("绑定邮箱", 50),
    ("首次下单", 200),
    ("邀请好友注册", 300),
    ("参与问卷调查", 80),
    ("发表商品评价", 30),
]
TRANSFER_NOTES = ["", "", "生日快乐！", "请你喝咖啡", "上次的饭钱", "谢谢帮忙", "节日快乐", ""]
ADJUST_REASONS = [
    ("物流延误补偿", 200),
    ("客服补偿：商品破损", 300),
    ("线下活动奖励", 150),
    ("系统故障补发签到积分", 20),
]
STORES = ["上海南京路店", "北京三里屯店", "广州天河店", "深圳万象城店", "杭州西湖店", "线上商城"]


def _campaigns(year: int) -> dict[tuple[int, int], str]:
    return {
        (1, 1): "元旦积分加倍",
        (2, 14): "情人节活动",
        (3, 8): "女神节活动",
        (5, 20): "520 会员日",
        (6, 18): "618 年中大促",
        (8, 8): "88 会员节",
        (9, 9): "99 品牌日",
        (11, 11): "双十一狂欢",
        (12, 12): "双十二返场",
    }


@dataclass
class Persona:
    idx: int
    name: str
    phone: str | None
    email: str | None
    join_offset: int  # days after the window's first day; negative: joined before it
    activity: float  # chance of doing something on a given day
    address: dict | None = None


@dataclass
class LoadResult:
    members_created: int = 0
    members_total: int = 0
    days_posted: int = 0
    days_skipped: int = 0
    postings: int = 0
    start: dt.date | None = None
    end: dt.date | None = None
    seconds: float = 0.0
    report: Report | None = None
    logins: list[tuple[str, str, str]] = field(default_factory=list)


# --- people -----------------------------------------------------------------------------------


def make_personas(count: int, seed: int = SEED, days: int = 365) -> list[Persona]:
    """`count` members (the demo member first), the same ones for the same seed."""
    from faker import Faker

    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed + 1)
    rng = random.Random(f"{seed}:personas")
    personas = [
        Persona(
            idx=0,
            name=DEMO_NAME,
            phone=DEMO_PHONE,
            email=None,
            join_offset=-400,
            activity=1.0,
            address={
                "recipient": DEMO_NAME,
                "phone": DEMO_PHONE,
                "province": "上海市",
                "city": "上海市",
                "district": "浦东新区",
                "detail": "世纪大道 100 号 18 楼",
                "postal_code": "200120",
            },
        )
    ]
    phones, emails = {DEMO_PHONE}, set()
    for idx in range(1, count):
        chinese = rng.random() < 0.75
        fake = zh if chinese else en
        name = fake.name()
        phone = email = None
        if chinese:
            while phone is None or phone in phones:
                phone = zh.phone_number()
            phones.add(phone)
            if rng.random() < 0.3:
                email = f"{zh.romanized_name().replace(' ', '.').lower()}{idx}@example.cn"
        else:
            local = name.lower().replace(" ", ".").replace("'", "")
            for part in ("mr.", "mrs.", "ms.", "dr.", "miss."):
                local = local.removeprefix(part)
            email = f"{local.strip('.')}{idx}@example.com"
            if rng.random() < 0.2:
                while phone is None or phone in phones:
                    phone = zh.phone_number()
                phones.add(phone)
        if email in emails:
            email = f"m{idx}.{email}"
        if email:
            emails.add(email)
        # 40% were members before the window; the rest join during it.
        join_offset = -rng.randint(1, 700) if rng.random() < 0.4 else rng.randint(0, days - 1)
        activity = rng.choice([0.01, 0.02, 0.03, 0.05, 0.08, 0.12])
        address = None
        if rng.random() < 0.6:
            address = {
                "recipient": name if chinese else zh.name(),
                "phone": phone or zh.phone_number(),
                "province": zh.province(),
                "city": zh.city_name() + "市",
                "district": zh.district() + "区",
                "detail": zh.street_address(),
                "postal_code": zh.postcode(),
            }
        personas.append(Persona(idx, name, phone, email, join_offset, activity, address))
    return personas


def _get_or_register(*, phone=None, email=None, password=None, name="", is_staff=False) -> tuple:
    user = member_find_by_login(phone or email)
    if user is None and phone and email:
        user = member_find_by_login(email)
    if user is not None:
        return user, False
    user = members_services.member_register(
        phone=phone, email=email, password=password, name=name, is_staff=is_staff, validate=False
    )
    return user, True


def ensure_operators() -> tuple[User, User]:
    admin, _created = _get_or_register(
        email=ADMIN_EMAIL, password=ADMIN_PASSWORD, name="系统管理员", is_staff=True
    )
    ops, _created = _get_or_register(
        email=OPS_EMAIL, password=OPS_PASSWORD, name="运营审核员", is_staff=True
    )
    User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True, is_active=True)
    User.objects.filter(pk=ops.pk).update(is_staff=True, is_active=True)
    # The approver works in the back-office: give it every permission on members and points.
    ops.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["members", "ledger"])
    )
    admin.refresh_from_db()
    ops.refresh_from_db()
    return admin, ops


def ensure_members(personas: list[Persona], start: dt.date, clock_to: Callable) -> tuple:
    """Get or create every persona's user (with wallet and address). Returns (users, created)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    users: dict[int, User] = {}
    created = 0
    shared_hash = None
    for persona in personas:
        joined = dt.datetime.combine(
            start + dt.timedelta(days=persona.join_offset), dt.time(8, 0), tzinfo=tz
        ) + dt.timedelta(minutes=(persona.idx * 37) % 60)
        clock_to(joined)
        with transaction.atomic():
            user, new = _get_or_register(
                phone=persona.phone,
                email=persona.email,
                password=DEMO_PASSWORD if persona.idx == 0 else None,
                name=persona.name,
            )
            if new:
                created += 1
                updates: dict = {"date_joined": joined}
                if persona.idx:
                    # One Argon2 hash for all of them: hashing 300 passwords would take longer
                    # than the whole year of history.
                    shared_hash = shared_hash or make_password(MEMBER_PASSWORD)
                    updates["password"] = shared_hash
                User.objects.filter(pk=user.pk).update(**updates)
                if persona.address:
                    members_services.address_create(member=user, data=persona.address)
            elif persona.address and not Address.objects.filter(member=user).exists():
                members_services.address_create(member=user, data=persona.address)
        users[persona.idx] = user
    return users, created


# --- history ----------------------------------------------------------------------------------


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


class _Day:
    """What happens on one business day, posted in time order."""

    def __init__(self, sim: Simulation, day: dt.date, index: int):
        self.sim, self.day, self.index = sim, day, index
        self.rng = random.Random(f"{sim.seed}:{day.isoformat()}")
        self.seq = 0
        self.postings = 0
        self.tz = sim.tz

    # references and clock
    def ref(self, what: str) -> str:
        self.seq += 1
        return f"demo:{self.day.isoformat()}:{self.seq}:{what}"

    def at(self, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
        moment = dt.datetime.combine(self.day, dt.time(hour, minute, second), tzinfo=self.tz)
        self.sim.clock_to(moment)
        return moment

    def post(self, fn: Callable, **kwargs):
        """Call a service; a refusal (not enough points, a limit) is simply a day's no."""
        try:
            result = fn(**kwargs)
        except DomainError:
            return None
        self.postings += 1
        return result


class Simulation:
    def __init__(
        self,
        *,
        personas: list[Persona],
        users: dict[int, User],
        admin: User,
        ops: User,
        start: dt.date,
        days: int,
        seed: int,
        clock_to: Callable,
    ):
        self.personas, self.users, self.admin, self.ops = personas, users, admin, ops
        self.start, self.days, self.seed, self.clock_to = start, days, seed, clock_to
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.wallet_of = {p.idx: users[p.idx].pk for p in personas}
        self.available: dict[int, int] = {}

    @property
    def last_day(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    def refresh_balances(self) -> None:
        by_member = dict(
            Account.objects.filter(member_id__in=self.wallet_of.values()).values_list(
                "member_id", "available"
            )
        )
        self.available = {idx: by_member.get(uid, 0) for idx, uid in self.wallet_of.items()}

    def run_day(self, index: int) -> int:
        day = self.start + dt.timedelta(days=index)
        d = _Day(self, day, index)
        # Night jobs first, as the scheduler would run them.
        d.at(0, 5)
        ledger.points_mature(today=day)
        ledger.points_expire(today=day)
        self.refresh_balances()
        if index == 0:
            self._opening(d)
        events: list[tuple[dt.time, Callable]] = []
        for persona in self.personas:
            if persona.join_offset > index:
                continue
            if persona.join_offset == index and persona.idx != 0:
                events.append((dt.time(9, 0), lambda p=persona: self._welcome(d, p)))
            for when, action in self._plan(d, persona):
                events.append((when, action))
        events.extend(self._operator_plan(d))
        events.sort(key=lambda event: event[0])
        for when, action in events:
            d.at(when.hour, when.minute, when.second)
            action()
        return d.postings

    # --- what people do -----------------------------------------------------------------------

    def _time(self, d: _Day, start_hour=8, end_hour=23) -> dt.time:
        return dt.time(
            d.rng.randint(start_hour, end_hour - 1), d.rng.randint(0, 59), d.rng.randint(0, 59)
        )

    def _opening(self, d: _Day) -> None:
        """Balances carried over from before the window, and the window's own record."""
        demo = self.users[0]
        d.at(0, 30)
        d.post(
            ledger.points_earn,
            member_id=demo.pk,
            points=3000,
            source="migration",
            reference=WELCOME_REFERENCE,
            explanation="历史积分迁移",
            details={"demo": {"start": self.start.isoformat(), "days": self.days}},
        )
        for persona in self.personas[1:]:
            if persona.join_offset < 0:
                points = d.rng.randint(1, 40) * 50
                d.post(
                    ledger.points_earn,
                    member_id=self.users[persona.idx].pk,
                    points=points,
                    source="migration",
                    reference=d.ref(f"m{persona.idx}:opening"),
                    explanation="历史积分迁移",
                )

    def _welcome(self, d: _Day, persona: Persona) -> None:
        d.post(
            ledger.points_earn,
            member_id=self.users[persona.idx].pk,
            points=200,
            source="signup",
            reference=d.ref(f"m{persona.idx}:signup"),
            explanation="新会员注册礼",
        )

    def _plan(self, d: _Day, persona: Persona) -> Iterator[tuple[dt.time, Callable]]:
        rng, idx = d.rng, persona.idx
        month_day = (d.day.month, d.day.day)
        campaign = _campaigns(d.day.year).get(month_day)
        if idx == 0:
            yield from self._demo_plan(d)
            return
        if campaign and rng.random() < 0.35:
            points = rng.choice([100, 200, 300, 500])
            yield self._time(d), lambda: self._campaign(d, idx, points, campaign)
        if rng.random() >= persona.activity:
            return
        roll = rng.random()
        when = self._time(d)
        if roll < 0.40:
            yield when, lambda: self._checkin(d, idx)
        elif roll < 0.65:
            yield when, lambda: self._purchase(d, idx)
        elif roll < 0.70:
            yield when, lambda: self._task(d, idx)
        elif roll < 0.82:
            yield when, lambda: self._redeem(d, idx)
        elif roll < 0.88:
            yield when, lambda: self._checkout_with_points(d, idx)
        elif roll < 0.96:
            others = [p.idx for p in self.personas if p.idx != idx and p.join_offset <= d.index]
            if others:
                # Friends of the demo member send it points now and then.
                to = 0 if idx <= 6 and rng.random() < 0.5 else rng.choice(others)
                yield when, lambda: self._transfer(d, idx, to)
        else:
            yield when, lambda: self._refund(d, idx)

    def _demo_plan(self, d: _Day) -> Iterator[tuple[dt.time, Callable]]:
        """The demo member: checks in every day, shops weekly, redeems, transfers, refunds."""
        rng, day, last = d.rng, d.day, self.last_day
        yield dt.time(7, 58, 12), lambda: self._checkin(d, 0)
        campaign = _campaigns(day.year).get((day.month, day.day))
        if campaign:
            yield dt.time(10, 0), lambda: self._campaign(d, 0, 500, campaign)
        if day.weekday() in (2, 5) or rng.random() < 0.1:
            yield self._time(d, 11, 22), lambda: self._purchase(d, 0)
        days_left = (last - day).days
        # A quiet fortnight: short-lived campaign points arrive and lapse unspent (spending
        # takes the soonest-expiring points first, so any redemption would use them up).
        lapse_left = min(150, self.days - 5)  # fits short windows (tests) too
        quiet = lapse_left >= 14 and lapse_left - 14 <= days_left <= lapse_left
        if day.day in (3, 17) and not quiet:
            yield self._time(d, 12, 22), lambda: self._redeem(d, 0)
        if day.day == 25 and not quiet:
            yield self._time(d, 12, 22), lambda: self._checkout_with_points(d, 0)
        if day.day == 9 and day.month % 2 == 0 and not quiet:
            yield dt.time(20, 15), lambda: self._transfer(d, 0, 1 + (day.month % 5))
        if day.day == 20 and day.month % 3 == 0 and not quiet:
            yield dt.time(21, 40), lambda: self._refund(d, 0)
        if day.day == 1 and day.month % 4 == 1:
            yield dt.time(9, 30), lambda: self._task(d, 0)
        if days_left == lapse_left and lapse_left >= 14:
            yield (
                dt.time(10, 45),
                lambda: self._earn(
                    d,
                    0,
                    1200,
                    "campaign",
                    "新品试用活动积分",
                    expires_on=day + dt.timedelta(days=12),
                ),
            )
        if days_left == 0:
            # Points that lapse soon after the window ends: the "expiring soon" notice. Posted
            # after the day's last spend, so nothing consumes them.
            yield (
                dt.time(20, 30),
                lambda: self._earn(
                    d,
                    0,
                    800,
                    "campaign",
                    "会员日限时积分",
                    expires_on=last + dt.timedelta(days=12),
                ),
            )
        if days_left == 2:
            yield dt.time(19, 5), lambda: self._purchase(d, 0, points=1288, pending_days=7)
        if days_left == 0:
            # An order still waiting for shipment: its points stay held.
            yield dt.time(18, 20), lambda: self._checkout_with_points(d, 0, settle=False)

    def _operator_plan(self, d: _Day) -> Iterator[tuple[dt.time, Callable]]:
        rng, days_left = d.rng, (self.last_day - d.day).days
        if rng.random() < 0.35:
            joined = [p.idx for p in self.personas if p.join_offset <= d.index]
            idx = rng.choice(joined)
            reason, points = rng.choice(ADJUST_REASONS)
            yield self._time(d, 9, 18), lambda: self._adjust(d, idx, points, reason)
        if rng.random() < 0.04:
            joined = [p.idx for p in self.personas if p.join_offset <= d.index and p.idx]
            if joined:
                idx = rng.choice(joined)
                yield self._time(d, 9, 18), lambda: self._adjust(d, idx, -50, "撤销重复发放的积分")
        if days_left == 100:
            yield dt.time(15, 0), lambda: self._large_adjustment(d, 0, 12000, decide=True)
        if days_left == 1:
            yield dt.time(16, 30), lambda: self._large_adjustment(d, 0, 20000, decide=False)

    # --- postings -----------------------------------------------------------------------------

    def _earn(self, d: _Day, idx, points, source, explanation, **kwargs):
        txn = d.post(
            ledger.points_earn,
            member_id=self.users[idx].pk,
            points=points,
            source=source,
            reference=d.ref(f"m{idx}:{source}"),
            explanation=explanation,
            **kwargs,
        )
        if txn is not None and not kwargs.get("pending_until"):
            self.available[idx] += points
        return txn

    def _checkin(self, d: _Day, idx: int) -> None:
        points = 20 if d.day.weekday() == 6 else 5
        self._earn(d, idx, points, "checkin", "每日签到" + ("（周日加倍）" if points > 5 else ""))

    def _campaign(self, d: _Day, idx: int, points: int, name: str) -> None:
        # Campaign points are short-lived: they lapse at the end of the month 90 days on.
        expires_on = month_end(d.day + dt.timedelta(days=90))
        self._earn(d, idx, points, "campaign", name, expires_on=expires_on)

    def _task(self, d: _Day, idx: int) -> None:
        name, points = d.rng.choice(TASKS)
        self._earn(d, idx, points, "task", f"任务奖励：{name}")

    def _purchase(self, d: _Day, idx: int, *, points=None, pending_days=None) -> None:
        rng = d.rng
        amount = points or rng.choice([29, 49, 88, 128, 199, 268, 399, 588, 899, 1299])
        order = f"SO{d.day:%Y%m%d}{rng.randint(10000, 99999)}"
        store = rng.choice(STORES)
        if pending_days is None:
            pending_days = 7 if rng.random() < 0.6 else None
        pending_until = d.day + dt.timedelta(days=pending_days) if pending_days else None
        self._earn(
            d,
            idx,
            amount,
            "purchase",
            f"{store} 订单 {order} 消费 ¥{amount}.00",
            details={"order": order, "amount": f"{amount}.00", "currency": "CNY"},
            pending_until=pending_until,
        )

    def _redeem(self, d: _Day, idx: int) -> None:
        affordable = [r for r in REWARDS if r[1] <= self.available[idx]]
        if not affordable:
            return
        name, points = d.rng.choice(affordable)
        if d.post(
            ledger.points_spend,
            member_id=self.users[idx].pk,
            points=points,
            purpose="mall",
            reference=d.ref(f"m{idx}:redeem"),
            explanation=f"兑换 {name}",
            details={"item": name},
        ):
            self.available[idx] -= points

    def _checkout_with_points(self, d: _Day, idx: int, *, settle: bool = True) -> None:
        """Points as cash at checkout: hold, then capture (most) or release (cancelled)."""
        rng = d.rng
        points = min(self.available[idx], rng.choice([100, 200, 500, 1000]))
        if points < 100:
            return
        order = f"PO{d.day:%Y%m%d}{rng.randint(10000, 99999)}"
        hold = d.post(
            ledger.points_hold,
            member_id=self.users[idx].pk,
            points=points,
            reference=d.ref(f"m{idx}:hold"),
            explanation=f"订单 {order} 积分抵现 ¥{points / 100:.2f}",
            details={"order": order},
            expires_at=timezone.now() + dt.timedelta(minutes=30 if settle else 7 * 24 * 60),
        )
        if hold is None:
            return
        self.available[idx] -= points
        if not settle:
            return
        moment = timezone.now() + dt.timedelta(minutes=rng.randint(1, 20))
        self.clock_to(moment)
        if rng.random() < 0.85:
            d.post(
                ledger.points_hold_capture,
                hold_id=hold.pk,
                reference=d.ref(f"m{idx}:capture"),
                purpose="checkout",
                explanation=f"订单 {order} 支付成功",
            )
        else:
            d.post(
                ledger.points_hold_release,
                hold_id=hold.pk,
                reference=d.ref(f"m{idx}:release"),
                explanation=f"订单 {order} 已取消",
            )
            self.available[idx] += points

    def _transfer(self, d: _Day, idx: int, to: int) -> None:
        points = d.rng.choice([10, 20, 50, 88, 100, 200, 520])
        if to not in self.users or self.available[idx] < points or to == idx:
            return
        if d.post(
            ledger.points_transfer,
            sender_id=self.users[idx].pk,
            recipient_id=self.users[to].pk,
            points=points,
            reference=d.ref(f"m{idx}:transfer:m{to}"),
            note=d.rng.choice(TRANSFER_NOTES),
        ):
            self.available[idx] -= points
            self.available[to] += points

    def _refund(self, d: _Day, idx: int) -> None:
        """A returned order (its points are taken back) or a cancelled redemption (refunded)."""
        member_id = self.users[idx].pk
        since = timezone.now() - dt.timedelta(days=30)
        candidates = list(
            Transaction.objects.filter(
                member_id=member_id,
                kind__in=[Transaction.Kind.EARN, Transaction.Kind.SPEND],
                reference__startswith="demo:",
                created_at__gte=since,
                reversals__isnull=True,
            )
            .order_by("pk")
            .values_list("pk", "kind", "explanation", "details")
        )
        candidates = [
            (pk, kind, explanation)
            for pk, kind, explanation, details in candidates
            if kind == Transaction.Kind.SPEND or details.get("source") == "purchase"
        ]
        if not candidates:
            return
        pk, kind, explanation = d.rng.choice(candidates)
        reason = "退货：" if kind == Transaction.Kind.EARN else "取消兑换："
        if d.post(
            ledger.transaction_reverse,
            transaction_id=pk,
            reference=d.ref(f"m{idx}:refund"),
            reason=reason + explanation,
        ):
            self.refresh_balances()

    def _adjust(self, d: _Day, idx: int, points: int, reason: str) -> None:
        if points < 0 and self.available[idx] < -points:
            return
        if d.post(
            ledger.adjustment_request,
            member_id=self.users[idx].pk,
            points=points,
            reason=reason,
            reference=d.ref(f"m{idx}:adjust"),
            requested_by=self.admin,
        ):
            self.available[idx] += points

    def _large_adjustment(self, d: _Day, idx: int, points: int, *, decide: bool) -> None:
        adjustment = d.post(
            ledger.adjustment_request,
            member_id=self.users[idx].pk,
            points=points,
            reason="年度 VIP 客户回馈（大额，需审批）" if decide else "大客户投诉补偿（待审批）",
            reference=d.ref(f"m{idx}:adjust-large"),
            requested_by=self.admin,
        )
        if adjustment is None or not decide:
            return
        self.clock_to(timezone.now() + dt.timedelta(hours=1, minutes=12))
        if d.post(
            ledger.adjustment_decide,
            adjustment_id=adjustment.pk,
            approve=True,
            decided_by=self.ops,
        ):
            self.available[idx] += points


# --- the command's entry point ----------------------------------------------------------------


@contextmanager
def frozen_clock() -> Iterator[Callable[[dt.datetime], None]]:
    """Patch django.utils.timezone.now; yields a setter for the time it returns."""
    current = [timezone.now()]

    def clock_to(moment: dt.datetime) -> None:
        current[0] = moment

    with mock.patch("django.utils.timezone.now", new=lambda: current[0]):
        yield clock_to


def _done_days() -> set[str]:
    """Business days already posted: any `demo:<day>:` reference (each day is atomic)."""
    days = set()
    for reference in Transaction.objects.filter(reference__startswith="demo:2").values_list(
        "reference", flat=True
    ):
        days.add(reference.split(":", 2)[1])
    return days


def _window(days: int) -> tuple[dt.date, int]:
    """The demo's window: the one already loaded, or the `days` before today."""
    welcome = Transaction.objects.filter(reference=WELCOME_REFERENCE).first()
    if welcome is not None:
        window = welcome.details.get("demo") or {}
        if window.get("start") and window.get("days"):
            return dt.date.fromisoformat(window["start"]), int(window["days"])
    today = dt.datetime.now(ZoneInfo(settings.TIME_ZONE)).date()
    return today - dt.timedelta(days=days), days


def load_demo(
    *, members: int = 300, days: int = 365, seed: int = SEED, log: Callable[[str], None] = print
) -> LoadResult:
    """Load (or top up) the demo; raise RuntimeError if the ledger does not verify after."""
    began = time.monotonic()
    result = LoadResult()
    start, days = _window(days)
    result.start, result.end = start, start + dt.timedelta(days=days - 1)
    personas = make_personas(max(members, 1), seed=seed, days=days)
    admin, ops = ensure_operators()
    with frozen_clock() as clock_to:
        users, result.members_created = ensure_members(personas, start, clock_to)
        result.members_total = len(users)
        sim = Simulation(
            personas=personas,
            users=users,
            admin=admin,
            ops=ops,
            start=start,
            days=days,
            seed=seed,
            clock_to=clock_to,
        )
        done = _done_days()
        for index in range(days):
            day = start + dt.timedelta(days=index)
            if day.isoformat() in done:
                result.days_skipped += 1
                continue
            with transaction.atomic():
                result.postings += sim.run_day(index)
            result.days_posted += 1
            if index % 30 == 29:
                log(f"  {day}: {result.postings} postings so far")
    # Catch up to the real today, as the nightly jobs would.
    ledger.points_mature()
    ledger.points_expire()
    result.report = ledger_verify()
    result.seconds = time.monotonic() - began
    if not result.report.ok:
        raise RuntimeError(
            "demo ledger does not verify:\n" + "\n".join(map(str, result.report.violations[:50]))
        )
    result.logins = [
        ("demo member", DEMO_PHONE, DEMO_PASSWORD),
        ("operator (superuser)", ADMIN_EMAIL, ADMIN_PASSWORD),
        ("operator (approvals)", OPS_EMAIL, OPS_PASSWORD),
    ]
    return result


def demo_summary() -> dict[str, int]:
    """Counts the tests compare between two runs."""
    return {
        "users": User.objects.count(),
        "addresses": Address.objects.count(),
        "transactions": Transaction.objects.count(),
        "holds": Hold.objects.count(),
        "adjustments": Adjustment.objects.count(),
        "pending_approvals": Adjustment.objects.filter(
            status=Adjustment.Status.PENDING_APPROVAL
        ).count(),
    }
