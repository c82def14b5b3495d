"""Demo after-sales, on the demo's orders (jifen.orders / jifen.shipping demos run first):
one refund-only approved and refunded in full (so an order in status "refunded" exists), one
return request waiting for an operator (with a generated photo; a refund-only request when no
shipped order is left), one rejected.

Everything goes through the services. Each demo after-sale has its own request reference,
looked up first, so running `load_aftersales_demo()` again finds them and changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from jifen.aftersales import services
from jifen.aftersales.models import OPEN_STATUSES, AfterSale, AfterSaleLine
from jifen.core.errors import DomainError

# (reference, kind, reason, text, outcome), the refunded one first: the demo needs an order
# in status "refunded" more than it needs the others.
PLAN = [
    ("demo:aftersale:refunded", "refund_only", "not_as_described", "颜色与图片不符。", "refunded"),
    (
        "demo:aftersale:requested",
        "return_refund",
        "damaged",
        "外包装破损，杯口有缺口。",
        "requested",
    ),
    ("demo:aftersale:rejected", "refund_only", "not_wanted", "不想要了。", "rejected"),
]
# Which orders each outcome may use, best first. A refund changes the order's status, so it
# takes a received order; a request or a rejection leaves the order as it is.
SOURCES = {
    "refunded": ("delivered", "completed", "shipped"),
    "requested": ("delivered", "completed", "shipped", "paid"),
    "rejected": ("delivered", "completed", "shipped", "paid"),
}


def _photo(name: str, seed: int) -> bytes:
    from jifen.catalog.images import product_image

    out = io.BytesIO()
    product_image(name=name, seed=seed).resize((600, 600)).save(out, "JPEG", quality=80)
    return out.getvalue()


def _operator():
    from jifen.members.models import User

    return (
        User.objects.filter(is_staff=True, is_active=True).order_by("-is_superuser", "pk").first()
    )


def _candidates():
    """Eligible orders with no after-sale yet, newest first (the oldest are the reviews
    demo's)."""
    from jifen.orders.models import Order

    taken = AfterSaleLine.objects.values_list("order_line__order_id", flat=True)
    orders = (
        Order.objects.filter(status__in=services.ELIGIBLE_ORDER_STATUSES)
        .exclude(pk__in=taken)
        .prefetch_related("lines")
        .order_by("-pk")
    )
    return [o for o in orders[:100] if services.order_aftersale_window_open(o)]


def _pick(candidates, outcome: str, kind: str):
    """(order, kind) for an outcome: a return needs shipped goods, else it becomes a
    refund-only request."""
    for status in SOURCES[outcome]:
        for order in candidates:
            if order.status != status:
                continue
            shipped = status != "paid"
            physical = any(line.fulfilment == "shipping" for line in order.lines.all())
            if kind == "return_refund" and not (shipped and physical):
                continue
            return order, kind
    if kind == "return_refund":
        return _pick(candidates, outcome, "refund_only")
    return None, kind


def load_aftersales_demo(*, log: Callable[[str], None] = print) -> list[AfterSale]:
    """Make (or find) the three demo after-sales; returns them. Logs and skips a step when
    no suitable order exists or a service refuses it."""
    operator = _operator()
    made: list[AfterSale] = []
    candidates = None
    for n, (reference, kind, reason, text, outcome) in enumerate(PLAN):
        aftersale = AfterSale.objects.filter(request_reference=reference).first()
        try:
            if aftersale is None:
                if candidates is None:
                    candidates = _candidates()
                order, kind = _pick(candidates, outcome, kind)
                if order is None:
                    log(f"aftersales demo: no order left for {outcome}")
                    continue
                candidates.remove(order)
                lines = [
                    {"order_line": line.pk, "quantity": line.quantity}
                    for line in order.lines.all()
                    if kind == "refund_only" or line.fulfilment == "shipping"
                ]
                photos = [(_photo(order.lines.all()[0].item_name, n), "photo.jpg")]
                aftersale = services.aftersale_request(
                    member_id=order.member_id,
                    order_number=order.number,
                    kind=kind,
                    lines=lines,
                    reason=reason,
                    reason_text=text,
                    photos=photos if outcome == "requested" else [],
                    reference=reference,
                )
            if operator is not None and aftersale.status in OPEN_STATUSES:
                if outcome == "refunded":
                    aftersale = services.aftersale_decide(
                        aftersale_id=aftersale.pk,
                        approve=True,
                        by=operator,
                        note="已核实，同意退款",
                    )
                elif outcome == "rejected":
                    aftersale = services.aftersale_decide(
                        aftersale_id=aftersale.pk,
                        approve=False,
                        by=operator,
                        note="商品已签收超过 7 天且不影响使用，不支持无理由退款",
                    )
        except DomainError as error:
            log(f"aftersales demo: {outcome} not made: {error.message}")
            continue
        aftersale.refresh_from_db()
        made.append(aftersale)
    log(
        "aftersales: "
        + ", ".join(f"{a.number} {a.get_status_display()}" for a in made)
        + f" ({AfterSale.objects.count()} in all)"
    )
    return made
