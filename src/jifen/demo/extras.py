"""Demo data for the apps beyond the ledger: tiers, tasks and check-ins, referrals, product
codes, earning rules, an integration client and the mall catalog.

Runs after the year of ledger history (jifen.demo.data.load_demo); every step goes through
the apps' services and is idempotent, so `jifen load-demo` can run again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.core.management import call_command
from django.db import transaction

from jifen.core import clock
from jifen.core.errors import DomainError
from jifen.demo.data import DEMO_PHONE, frozen_clock
from jifen.members.models import User

DEMO_TASKS = [
    # code, title, evidence, action, details, points, makeup cards, period, cap
    ("phone", "绑定手机号", "phone_bound", "", {}, 20, 0, "lifetime", 1),
    ("profile", "完善个人资料", "profile_complete", "", {}, 50, 0, "lifetime", 1),
    ("survey", "参与问卷调查", "event", "survey_completed", {}, 10, 0, "day", 2),
    (
        "photo-review",
        "发布带图评价",
        "event",
        "review_posted",
        {"has_photo": True},
        0,
        1,
        "week",
        1,
    ),
    ("first-order", "完成首单", "event", "purchase", {}, 100, 0, "lifetime", 1),
    ("share", "分享商品给好友", "event", "share", {}, 8, 0, "day", 1),
]


def load_demo_extras(*, log: Callable[[str], None] = print) -> list[str]:
    """Load the newer apps' demo data; returns lines worth printing (e.g. product codes)."""
    lines: list[str] = []
    demo = User.objects.get(phone=DEMO_PHONE)
    _rules(log)
    _tasks(log)  # before the integration events, which complete tasks
    lines += _integration(demo, log)
    _checkins(demo, log)
    lines += _referrals(demo, log)  # before tiers, so the invitee is evaluated too
    _tiers(log)
    lines += _product_codes(log)
    _catalog(log)
    _mall(log)
    return lines


DEMO_RULES = [
    ("base", {"name": "基础积分：每消费 ¥1 得 1 积分", "kind": "base_rate", "points": 1}),
    ("tiers", {"name": "等级加倍", "kind": "tier_multiplier"}),
    ("birthday", {"name": "生日当天双倍", "kind": "birthday_multiplier", "multiplier": "2"}),
    ("weekend", {"name": "周末双倍", "kind": "multiplier", "multiplier": "2", "weekdays": "6,7"}),
    (
        "member-day",
        {
            "name": "每月 8 日会员日 ×1.5",
            "kind": "multiplier",
            "multiplier": "1.5",
            "month_days": "8",
        },
    ),
    (
        "spend-100",
        {"name": "满 100 赠 10", "kind": "threshold_bonus", "points": 10, "min_amount": "100"},
    ),
    ("first-order", {"name": "首单奖励 50 积分", "kind": "first_purchase_bonus", "points": 50}),
    ("no-tobacco", {"name": "烟酒不计积分", "kind": "exclusion", "categories": "烟酒"}),
    (
        "daily-cap",
        {
            "name": "每人每日最多 5000 积分",
            "kind": "cap",
            "points": 5000,
            "cap_scope": "member",
            "cap_period": "day",
        },
    ),
    ("return-window", {"name": "消费积分 7 天退货期后生效", "kind": "pending_period", "days": 7}),
]


def _rules(log) -> None:
    from jifen.rules.models import Rule
    from jifen.rules.services import rule_save

    for code, data in DEMO_RULES:
        if not Rule.objects.filter(code=code).exists():
            rule_save(code=code, data=data)
    log(f"earning rules: {Rule.objects.filter(valid_until__isnull=True).count()} in force")


def _integration(demo: User, log) -> list[str]:
    """An integration client (its secret printed once, here) and a few of its events."""
    from jifen.integrations.models import ApiClient
    from jifen.integrations.services import api_client_create, event_process

    client = ApiClient.objects.filter(name="官方商城").first()
    lines = []
    if client is None:
        client, secret = api_client_create(name="官方商城")
        lines.append(f"  integration client       key {client.key_id}  secret {secret}")
    now = clock.now()
    events = [
        {
            "event_id": "demo-order-1001",
            "type": "purchase",
            "order_id": "A1001",
            "member": {"phone": DEMO_PHONE},
            "amount": "268.00",
            "currency": "CNY",
            "store": "上海静安店",
            "channel": "pos",
            "occurred_at": now.isoformat(),
            "lines": [
                {"sku": "TEA-001", "category": "茶饮", "quantity": 2, "amount": "68.00"},
                {"sku": "CAKE-9", "category": "烘焙", "quantity": 1, "amount": "200.00"},
            ],
        },
        {
            "event_id": "demo-survey-1",
            "type": "custom",
            "name": "survey_completed",
            "member": {"phone": DEMO_PHONE},
            "occurred_at": now.isoformat(),
        },
    ]
    for raw in events:
        if client.events.filter(event_id=raw["event_id"]).exists():
            continue  # sent by an earlier run (its occurred_at was that run's "now")
        try:
            event_process(client=client, raw=raw)
        except DomainError as error:  # the demo shows what works; say what did not
            log(f"demo event {raw['event_id']} refused: {error.code}: {error.message}")
    log(f"integration client {client.name}: events {client.events.count()}")
    from jifen.integrations.holds.demo import load_demo_holds

    load_demo_holds(client=client, member=demo, log=log)  # points as cash, one per status
    return lines


def _tasks(log) -> None:
    from jifen.engagement.models import Task
    from jifen.engagement.services import task_save

    for order, (code, title, evidence, action, details, points, cards, period, cap) in enumerate(
        DEMO_TASKS
    ):
        if Task.objects.filter(code=code).exists():
            continue
        task_save(
            task=Task(
                code=code,
                title=title,
                evidence=evidence,
                action=action,
                required_details=details,
                points=points,
                makeup_cards=cards,
                period=period,
                cap=cap,
                sort_order=order,
            )
        )
    log(f"tasks: {Task.objects.count()}")


def _checkins(demo: User, log) -> None:
    """The demo member checked in on most days of this month, missed one, holds one card."""
    from jifen.engagement.models import Checkin
    from jifen.engagement.services import checkin_create, makeup_cards_grant

    today = clock.business_date()
    first = today.replace(day=1)
    missed = today - dt.timedelta(days=3) if today.day > 4 else None
    with frozen_clock() as clock_to:
        day = first
        while day < today:
            if day != missed and not Checkin.objects.filter(member=demo, day=day).exists():
                clock_to(clock.start_of_business_day(day) + dt.timedelta(hours=9))
                try:
                    checkin_create(member_id=demo.pk)
                except DomainError:
                    pass
            day += dt.timedelta(days=1)
    makeup_cards_grant(
        member_id=demo.pk, cards=1, reference="demo:makeup-card", reason="演示：补签卡"
    )
    log(
        f"check-ins of the demo member this month: "
        f"{Checkin.objects.filter(member=demo, day__gte=first).count()}"
    )


def _tiers(log) -> None:
    from jifen.tiers.services import tier_evaluate

    members = list(User.objects.filter(is_staff=False).values_list("pk", flat=True))
    for member_id in members:
        tier_evaluate(member_id=member_id)
    log(f"tiers evaluated for {len(members)} members")


def _referrals(demo: User, log) -> list[str]:
    from jifen.members.services import member_register
    from jifen.referrals.models import Referral
    from jifen.referrals.services import invite_code_ensure, referral_register

    code = invite_code_ensure(member_id=demo.pk).code
    for member_id in User.objects.filter(is_staff=False).values_list("pk", flat=True)[:50]:
        invite_code_ensure(member_id=member_id)
    invitee = User.objects.filter(phone="13900139001").first()
    if invitee is None:
        with transaction.atomic():
            invitee = member_register(
                phone="13900139001", password="Jifen-demo-2026", name="赵小雨", validate=False
            )
            referral_register(invitee=invitee, invite_code=code, ip="203.0.113.7")
    log(f"referrals: {Referral.objects.count()}")
    return [f"  demo invite code         {code}  (/invite/{code}/)"]


def _product_codes(log) -> list[str]:
    from jifen.referrals.codes_services import code_batch_codes, code_batch_create
    from jifen.referrals.models import CodeBatch

    batch = CodeBatch.objects.filter(name="演示商品码").first()
    if batch is None:
        today = clock.business_date()
        batch = code_batch_create(
            name="演示商品码",
            points=20,
            quantity=20,
            valid_from=today,
            valid_until=today + dt.timedelta(days=365),
        )
    codes = [code for _serial, code in code_batch_codes(batch)][:3]
    log(f"product code batch {batch.name}: {batch.quantity} codes")
    return [f"  product code (20 pts)    {code}" for code in codes]


def _catalog(log) -> None:
    try:
        call_command("load_catalog_demo", verbosity=0)
    except Exception as error:  # the catalog's own loader reports what went wrong
        log(f"catalog demo not loaded: {error}")
        raise
    log("mall catalog loaded")


def _mall(log) -> None:
    """Code pools, then orders in every status, then what happens to orders afterwards:
    shipments and deliveries, after-sales (one ends refunded), reviews of received goods.
    Each loader goes through its app's services and skips what an earlier run made."""
    from jifen.aftersales.demo import load_aftersales_demo
    from jifen.orders.demo import load_orders_demo
    from jifen.reviews.demo import load_reviews_demo
    from jifen.shipping.demo import load_shipping_demo
    from jifen.vouchers.demo import load_vouchers_demo

    pools = load_vouchers_demo()
    log(f"code pools: {len(pools)}")
    load_orders_demo(log=log)
    load_shipping_demo(log=log)
    load_aftersales_demo(log=log)
    load_reviews_demo(log=log)
    _expiring_soon(log)


def _expiring_soon(log) -> None:
    """The demo member's "320 points expire on …" notice. The history ends with points that
    lapse twelve days later, but the demo orders just spent the soonest-expiring points
    first (as every spend does); post such a lot again unless one is still due within 20
    days. Once a day at most: the reference carries the business day."""
    from jifen.ledger.selectors import points_summary
    from jifen.ledger.services import points_earn

    demo = User.objects.get(phone=DEMO_PHONE)
    today = clock.business_date()
    soon = points_summary(member_id=demo.pk)["next_expiry"]
    if soon and soon["date"] - today < dt.timedelta(days=20):
        return
    points_earn(
        member_id=demo.pk,
        points=800,
        source="campaign",
        reference=f"demo:expiring-soon:{today.isoformat()}",
        explanation="会员日限时积分",
        expires_on=today + dt.timedelta(days=12),
    )
    log("demo member: 800 points expiring in 12 days")
