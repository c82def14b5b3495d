"""Order settings: each is a Django setting of the same name, else an environment variable,
else the default (docs/mall.md lists them)."""

from __future__ import annotations

import os
from decimal import Decimal

from django.conf import settings


def _value(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name) or default
    return str(value)


def payment_minutes() -> int:
    """How long an order waits for its cash part before it is cancelled."""
    return int(_value("JIFEN_ORDER_PAYMENT_MINUTES", "30"))


def reservation_margin_minutes() -> int:
    """Stock reservations outlive the order's payment window by this much, so the order's
    own timeout (which also releases the points) always runs first."""
    return int(_value("JIFEN_ORDER_RESERVATION_MARGIN_MINUTES", "15"))


def auto_complete_days() -> int:
    """Days after shipment when an order the member has not confirmed completes by itself."""
    return int(_value("JIFEN_ORDER_AUTO_COMPLETE_DAYS", "10"))


def shipping_fee() -> Decimal:
    return Decimal(_value("JIFEN_SHIPPING_FEE", "10.00"))


def free_shipping_over() -> Decimal:
    """Goods value (cash + points at JIFEN_POINT_VALUE) from which shipping is free."""
    return Decimal(_value("JIFEN_FREE_SHIPPING_OVER", "99.00"))


def point_value() -> Decimal:
    return Decimal(str(getattr(settings, "JIFEN_POINT_VALUE", "0.01")))
