"""Demo data for shipping: the carriers, and some of the demo's paid orders shipped.

`load_shipping_demo()` runs after the orders demo (jifen.orders.demo). It takes the first
seven paid orders with physical goods (by id, so the same orders every run), ships six —
three by the sandbox carrier, delivered through signed sandbox callbacks (the after-sales
and review demos use them); one by the sandbox carrier left in transit; one by 顺丰 with an
in-transit event from a signed callback; one by 中通 just shipped — and leaves the seventh
waiting in 待发货. Every step goes through the services and is idempotent, so running it
again changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db.models import Q
from django.utils import timezone

from jifen.core.errors import DomainError
from jifen.orders.models import Order
from jifen.shipping import services
from jifen.shipping.carriers import backend_for
from jifen.shipping.models import Carrier, Shipment

DEMO_CARRIERS = [
    # code, name, tracking link, sandbox, order
    ("sf", "顺丰速运", "https://www.sf-express.com/chn/sc/waybill/list?no={number}", False, 1),
    ("zto", "中通快递", "https://www.zto.com/?num={number}", False, 2),
    ("jd", "京东物流", "https://www.jdl.com/orderSearch/?waybillCodes={number}", False, 3),
    ("sandbox", "沙箱物流", "", True, 9),
]

# For the first orders in turn: (carrier, tracking prefix, how far it goes)
DEMO_PLAN = [
    ("sandbox", "SBX", "delivered"),
    ("sandbox", "SBX", "delivered"),
    ("sandbox", "SBX", "delivered"),
    ("sandbox", "SBX", "in_transit"),
    ("sf", "SF", "in_transit"),
    ("zto", "ZT", "shipped"),
]


def _operator():
    from jifen.members.models import User

    return (
        User.objects.filter(is_staff=True, is_active=True).order_by("-is_superuser", "pk").first()
    )


def _tracking_number(prefix: str, order: Order) -> str:
    digits = re.sub(r"\D", "", order.number)[-12:] or f"{order.pk:08d}"
    return f"{prefix}{digits}"


def _carrier_callback(shipment: Shipment, event: dict) -> None:
    """One signed callback, as the carrier would POST it, through the real handler."""
    carrier = shipment.carrier
    body = services.callback_body(tracking_number=shipment.tracking_number, events=[event])
    headers = backend_for(carrier).signed_headers(carrier=carrier, body=body)
    services.callback_handle(carrier_code=carrier.code, body=body, headers=headers)


def load_shipping_demo(*, log: Callable[[str], None] = print) -> list[Shipment]:
    """Seed the carriers and ship the demo's first paid physical orders (see the module
    docstring). Returns the demo shipments."""
    for code, name, url, sandbox, order in DEMO_CARRIERS:
        services.carrier_save(
            code=code, name=name, tracking_url_template=url, is_sandbox=sandbox, sort_order=order
        )
    operator = _operator()
    # Orders this demo shipped before, then paid ones waiting: the same orders every run.
    candidates = list(
        Order.objects.filter(needs_shipping=True)
        .filter(Q(shipment__isnull=False) | Q(status=Order.Status.PAID))
        .order_by("pk")[: len(DEMO_PLAN) + 1]
    )
    shipments: list[Shipment] = []
    for order, (code, prefix, goal) in zip(candidates, DEMO_PLAN, strict=False):
        existing = Shipment.objects.filter(order=order).select_related("carrier").first()
        if existing is None and order.status != Order.Status.PAID:
            continue  # moved on without us (cancelled, refunded…): leave it be
        try:
            shipment = existing or services.shipment_create(
                order_id=order.pk,
                carrier_code=code,
                tracking_number=_tracking_number(prefix, order),
                by=operator,
            )
            if goal != "shipped" and shipment.status == Shipment.Status.SHIPPED:
                if shipment.carrier.is_sandbox:
                    services.shipment_simulate_progress(shipment_id=shipment.pk, inline=True)
                else:
                    _carrier_callback(
                        shipment,
                        {
                            "status": "in_transit",
                            "description": "快件已到达【深圳转运中心】",
                            "location": "深圳",
                            "occurred_at": timezone.now().replace(microsecond=0).isoformat(),
                        },
                    )
            shipment.refresh_from_db()
            while goal == "delivered" and shipment.status != Shipment.Status.DELIVERED:
                services.shipment_simulate_progress(shipment_id=shipment.pk, inline=True)
                shipment.refresh_from_db()
        except DomainError as error:
            log(f"shipping demo: order {order.number} not shipped: {error.message}")
            continue
        shipments.append(shipment)
    waiting = Order.objects.filter(
        status=Order.Status.PAID, needs_shipping=True, shipment__isnull=True
    ).count()
    log(
        f"shipping: {Carrier.objects.count()} carriers, {len(shipments)} demo shipments, "
        f"{waiting} orders waiting to ship"
    )
    return shipments
