"""Demo orders for `make demo`: the demo member's orders in several statuses, made through
the services (points held, stock reserved, payments through the sandbox). Idempotent: each
order has a fixed checkout token, so a second run finds the orders it made."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db.models import Q
from django.utils import timezone

from jifen.catalog.models import Item, Sku
from jifen.core.errors import DomainError
from jifen.ledger.services import points_earn
from jifen.members.models import Address, User
from jifen.orders import services
from jifen.orders.models import Order

logger = logging.getLogger(__name__)


def _skus(query: Q) -> list[Sku]:
    """Orderable SKUs for everyone (rank 0, on the shelf now), cheapest first."""
    now = timezone.now()
    return list(
        Sku.objects.filter(query, is_active=True, remaining__gte=3, item__is_active=True)
        .filter(item__min_tier_rank=0)
        .filter(Q(item__on_shelf_at__isnull=True) | Q(item__on_shelf_at__lte=now))
        .filter(Q(item__off_shelf_at__isnull=True) | Q(item__off_shelf_at__gt=now))
        .select_related("item")
        .order_by("points", "pk")
    )


def _sku(query: Q) -> Sku | None:
    skus = _skus(query)
    return skus[0] if skus else None


def _pay_in_sandbox(order: Order) -> bool:
    """Pay a pending order as a member would on the sandbox gateway page."""
    from jifen.payments.selectors import payment_for
    from jifen.payments.services import sandbox_trade_confirm

    payment = payment_for(purpose="order", reference=order.number)
    if payment is None:
        payment = services.order_payment_start(order=order)
    if payment is None:
        return False
    sandbox_trade_confirm(payment_number=payment.number)
    return True


def load_orders_demo(*, phone: str | None = None, log: Callable[[str], None] = print) -> int:
    """Orders of the demo member: pending payment, paid (points + cash through the sandbox),
    cancelled, completed (points only). Returns how many demo orders exist."""
    from jifen.demo.data import DEMO_PHONE

    member = User.objects.filter(phone=phone or DEMO_PHONE).first()
    if member is None:
        log("orders demo: no demo member")
        return 0
    address = Address.objects.filter(member=member).order_by("-is_default", "pk").first()
    points_earn(
        member_id=member.pk,
        points=60000,
        source="demo",
        reference=f"demo:orders:{member.pk}",
        explanation="演示：兑换订单积分",
    )
    physical_cash = _sku(Q(item__kind=Item.Kind.PHYSICAL, cash__gt=0))
    physical = _sku(Q(item__kind=Item.Kind.PHYSICAL, cash=0)) or physical_cash
    virtual = _sku(~Q(item__kind=Item.Kind.PHYSICAL) & Q(cash=0))
    plan = [
        ("demo:pending", physical_cash or physical, "pending"),
        ("demo:paid", physical_cash or physical, "paid"),
        ("demo:cancelled", physical, "cancelled"),
        ("demo:completed", virtual, "completed"),
        ("demo:shipped-completed", physical, "received"),
    ]
    made = 0
    for token, sku, goal in plan:
        if sku is None:
            continue
        try:
            order = services.order_place(
                member_id=member.pk,
                lines=[(sku.pk, 1)],
                address_id=address.pk if address and sku.item.kind == Item.Kind.PHYSICAL else None,
                checkout_token=token,
                return_url="/mall/orders/",
            )
            order.refresh_from_db()
            if goal in ("paid", "received") and order.status == Order.Status.PENDING_PAYMENT:
                _pay_in_sandbox(order)
                order.refresh_from_db()
            if goal == "cancelled" and order.status in (
                Order.Status.PENDING_PAYMENT,
                Order.Status.PAID,
            ):
                services.order_cancel(order_id=order.pk, reason="演示：会员取消")
            if goal == "received" and order.status == Order.Status.PAID:
                services.order_transition(
                    order_id=order.pk,
                    to=Order.Status.SHIPPED,
                    actor_label="system",
                    reason="演示：已发货",
                )
                services.order_confirm_receipt(order_id=order.pk, member_id=member.pk)
            made += 1
        except DomainError as error:  # a demo catalog without stock or prices: skip it
            logger.warning("orders demo %s skipped: %s", token, error.message)
    made += _other_members_orders(exclude=member.pk)
    log(
        f"orders demo: {Order.objects.filter(member=member).count()} orders of the demo member, "
        f"{Order.objects.exclude(member=member).count()} of other members"
    )
    return made


OTHER_MEMBERS = 8


def _other_members_orders(*, exclude: int) -> int:
    """One physical order each for a few other demo members (paid, through the sandbox when
    there is cash), so that the back-office has orders to ship and the shipping, after-sales
    and review demos have goods on their way and received."""
    from jifen.members.services import address_create

    goods = _skus(Q(item__kind=Item.Kind.PHYSICAL))
    members = list(
        User.objects.filter(is_staff=False, is_active=True, closed_at__isnull=True)
        .exclude(pk=exclude)
        .filter(phone__isnull=False)
        .exclude(phone="")
        .order_by("pk")[:OTHER_MEMBERS]
    )
    made = 0
    for i, other in enumerate(members):
        if not goods:
            break
        sku = goods[i % len(goods)]
        points_earn(
            member_id=other.pk,
            points=20000,
            source="demo",
            reference=f"demo:mall:{other.pk}",
            explanation="演示：兑换订单积分",
        )
        address = Address.objects.filter(member=other).order_by("-is_default", "pk").first()
        if address is None:
            address = address_create(
                member=other,
                data={
                    "recipient": other.display_name[:20] or "会员",
                    "phone": other.phone,
                    "province": "上海市",
                    "city": "上海市",
                    "district": "静安区",
                    "detail": f"南京西路 {100 + i} 号",
                    "is_default": True,
                },
            )
        try:
            order = services.order_place(
                member_id=other.pk,
                lines=[(sku.pk, 1)],
                address_id=address.pk,
                checkout_token=f"demo:member:{other.pk}",
                return_url="/mall/orders/",
            )
            if order.status == Order.Status.PENDING_PAYMENT:
                _pay_in_sandbox(order)
            made += 1
        except DomainError as error:
            logger.warning("orders demo for member %s skipped: %s", other.pk, error.message)
    return made
