"""Who is told when a payment is paid: one `on_paid` function per purpose.

Apps register in their AppConfig.ready(), e.g. orders:
`register_purpose("order", order_payment_succeeded)`.

`on_paid(payment) -> bool` runs inside the callback's transaction, after the payment row was
moved to "paid" (so the payment row is locked first, the purpose's own rows after it). It
returns False when the business object can no longer take the money (an order cancelled or
timed out meanwhile): the payment is then refunded in full after commit. It must not call
the network, and raising rolls the whole callback back (the provider retries it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jifen.payments.models import Payment

OnPaid = Callable[["Payment"], bool]

_purposes: dict[str, OnPaid] = {}


def register_purpose(purpose: str, on_paid: OnPaid) -> None:
    """Register (or replace) the on_paid function of `purpose` (a slug, max 40 chars)."""
    if not purpose or len(purpose) > 40 or not purpose.replace("_", "").isalnum():
        raise ValueError(f"purpose must be a short slug: {purpose!r}")
    _purposes[purpose] = on_paid


def unregister_purpose(purpose: str) -> None:
    """Tests only: forget a purpose registered for the test."""
    _purposes.pop(purpose, None)


def purpose_handler(purpose: str) -> OnPaid | None:
    return _purposes.get(purpose)


def purpose_registered(purpose: str) -> bool:
    return purpose in _purposes
