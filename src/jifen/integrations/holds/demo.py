"""Demo data for points as cash: one checkout hold in each status, for the back-office list
and the member's history. Every step goes through the services and is idempotent (orders
replay by their id), so the demo can load again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from jifen.core.errors import DomainError
from jifen.integrations.holds.selectors import points_cash_quote
from jifen.integrations.holds.services import (
    integration_hold_capture,
    integration_hold_create,
    integration_hold_release,
    integration_holds_expire,
)
from jifen.integrations.models import ApiClient

# order id, order amount, what happens to it
DEMO_HOLDS = [
    ("W20261101-0001", "128.00", "capture"),
    ("W20261102-0002", "59.90", "release"),
    ("W20261103-0003", "88.00", "expire"),
    ("W20261104-0004", "256.00", "hold"),
]


def load_demo_holds(*, client: ApiClient, member, log: Callable[[str], None] = print) -> int:
    """Create the demo holds of `member` (who needs an external_id or a phone) through
    `client`; returns how many exist. Refusals (too few points) are logged, not raised."""
    reference = {"external_id": member.external_id} if member.external_id else {}
    reference = reference or {"phone": member.phone}
    made = 0
    for order_id, amount, fate in DEMO_HOLDS:
        quote = points_cash_quote(member_id=member.pk, order_amount=Decimal(amount))
        points = quote.max_points // 2 or quote.max_points
        existing = client.holds.filter(order_id=order_id).first()
        if existing is not None:
            points = existing.points
        elif points == 0:
            log(f"demo hold {order_id} skipped: not enough points")
            continue
        raw = {"member": reference, "order_id": order_id, "order_amount": amount, "points": points}
        # An expired hold is one made long ago enough; the others live the usual time.
        now = timezone.now() - dt.timedelta(days=1) if fate == "expire" else None
        try:
            hold, _created = integration_hold_create(client=client, raw=raw, now=now)
            if fate == "capture":
                integration_hold_capture(client=client, hold_id=hold.pk)
            elif fate == "release":
                integration_hold_release(client=client, hold_id=hold.pk)
        except DomainError as error:  # the demo shows what works; say what did not
            log(f"demo hold {order_id} refused: {error.code}: {error.message}")
            continue
        made += 1
    integration_holds_expire()
    log(f"integration holds (points as cash): {client.holds.count()}")
    return made
