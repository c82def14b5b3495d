"""Reads of points as cash: the terms, the quote, and one client's hold.

The terms come from settings (read on every call, so tests and operators can change them):
    JIFEN_POINTS_PER_YUAN         100    100 积分 = ¥1
    JIFEN_POINTS_CASH_MAX_SHARE   0.20   points pay at most 20% of the order amount
    JIFEN_POINTS_CASH_MIN_POINTS  100    the least a member may use at once
    JIFEN_POINTS_CASH_HOLD_MINUTES 30    how long a hold waits for capture or release
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from jifen.core.errors import NotFound
from jifen.integrations.models import IntegrationHold
from jifen.ledger.models import Account

CENT = Decimal("0.01")
MAX_ID = 2**63  # ids beyond a bigint are unknown, not a database error


@dataclass(frozen=True)
class CashTerms:
    points_per_yuan: int
    max_share: Decimal
    min_points: int
    hold_minutes: int

    @property
    def step(self) -> int:
        """The smallest number of points worth a whole number of cents.

        Points are used in multiples of it, so a cash value is always exact: at 100 积分 = ¥1
        it is 1 (1 积分 = ¥0.01); at 1000 积分 = ¥1 it is 10.
        """
        return self.points_per_yuan // math.gcd(self.points_per_yuan, 100)

    def cash_value(self, points: int) -> Decimal:
        """What `points` are worth, in yuan (exact when points is a multiple of `step`)."""
        return (Decimal(points) / self.points_per_yuan).quantize(CENT, rounding=ROUND_FLOOR)

    def share_limit(self, order_amount: Decimal) -> int:
        """The most points the share allows on `order_amount`: floor(amount × share × rate),
        rounded down to a multiple of `step`, so their cash never exceeds the share."""
        raw = int(
            (order_amount * self.max_share * self.points_per_yuan).to_integral_value(ROUND_FLOOR)
        )
        return raw - raw % self.step


def cash_terms() -> CashTerms:
    """The configured terms; a misconfigured value falls back to its default rather than
    letting points pay more than intended (a share outside 0–1, a rate below 1)."""
    rate = int(getattr(settings, "JIFEN_POINTS_PER_YUAN", 100) or 100)
    share = Decimal(str(getattr(settings, "JIFEN_POINTS_CASH_MAX_SHARE", "0.20")))
    minimum = int(getattr(settings, "JIFEN_POINTS_CASH_MIN_POINTS", 100))
    minutes = int(getattr(settings, "JIFEN_POINTS_CASH_HOLD_MINUTES", 30))
    return CashTerms(
        points_per_yuan=rate if rate >= 1 else 100,
        max_share=share if Decimal(0) <= share <= Decimal(1) else Decimal("0.20"),
        min_points=max(minimum, 1),
        hold_minutes=minutes if minutes >= 1 else 30,
    )


@dataclass(frozen=True)
class PointsCashQuote:
    order_amount: Decimal
    available: int
    max_points: int  # 0 when the member cannot use points on this order
    cash_value: Decimal  # what max_points are worth
    terms: CashTerms


def points_cash_quote(*, member_id: int, order_amount: Decimal) -> PointsCashQuote:
    """The most points the member may use on an order of `order_amount`.

    max_points = the least of the available balance and the share limit, rounded down to a
    multiple of the terms' step; 0 when that is below the minimum. `order_amount` must be
    validated by the caller (a positive Decimal with 2 places). NotFound without a wallet.
    """
    terms = cash_terms()
    available = Account.objects.filter(member_id=member_id).values_list("available", flat=True)
    available = available.first()
    if available is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    points = min(available - available % terms.step, terms.share_limit(order_amount))
    if points < terms.min_points:
        points = 0
    return PointsCashQuote(
        order_amount=order_amount,
        available=available,
        max_points=points,
        cash_value=terms.cash_value(points),
        terms=terms,
    )


def integration_hold_get(*, client_id: int, hold_id: int) -> IntegrationHold:
    """One of the client's holds; NotFound for an unknown id or another client's hold."""
    if not 0 < hold_id < MAX_ID:
        raise NotFound(_("抵现记录不存在。"), code="hold_not_found")
    hold = (
        IntegrationHold.objects.select_related("member")
        .filter(pk=hold_id, client_id=client_id)
        .first()
    )
    if hold is None:
        raise NotFound(_("抵现记录不存在。"), code="hold_not_found")
    return hold
