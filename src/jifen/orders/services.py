"""Writes to orders (docs/mall.md).

Errors raised: ValidationFailed, NotFound, Conflict (`invalid_transition`, ...),
InsufficientPoints, OutOfStock.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, NotFound
from jifen.orders.models import Order, OrderEvent

S = Order.Status

# The only moves an order may make (issue 4 §6). Everything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.COMPLETED, S.CANCELLED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

# The timestamp each status sets when an order reaches it.
_STAMPS = {
    S.PAID: "paid_at",
    S.SHIPPED: "shipped_at",
    S.DELIVERED: "delivered_at",
    S.COMPLETED: "completed_at",
    S.CANCELLED: "cancelled_at",
    S.REFUNDED: "refunded_at",
}


def _lock_order(order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("订单不存在。"), code="order_not_found")
    return order


@transaction.atomic
def order_transition(
    *, order_id: int, to: str, by=None, actor_label: str = "", reason: str = ""
) -> Order:
    """Move an order to `to`, writing one OrderEvent and the matching *_at timestamp.

    Locks the order row. Conflict `invalid_transition` for a move not in TRANSITIONS
    (nothing changes). Moving to the status the order already has returns it unchanged and
    writes no event, so retries are harmless. Points, stock and cash are the caller's: it
    does those first, in the same transaction.
    """
    order = _lock_order(order_id)
    if order.status == to:
        return order
    if to not in TRANSITIONS.get(order.status, ()):
        raise Conflict(
            _("订单状态为“%(status)s”，不能执行此操作。") % {"status": order.get_status_display()},
            code="invalid_transition",
            fields={"from": order.status, "to": to},
        )
    now = timezone.now()
    from_status = order.status
    changes = {"status": to, "updated_at": now}
    stamp = _STAMPS.get(to)
    if stamp:
        changes[stamp] = now
    # Guarded by the status we read under the lock (a second line of defence).
    Order.objects.filter(pk=order.pk, status=from_status).update(**changes)
    for name, value in changes.items():
        setattr(order, name, value)
    OrderEvent.objects.create(
        order=order,
        from_status=from_status,
        to_status=to,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=actor_label[:60],
        reason=str(reason)[:300],
    )
    return order
