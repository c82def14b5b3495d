"""Proportional refunds: the member keeps floor(points × amount left / amount)."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from jifen.integrations.services import refund_points


def test_worked_example():
    steps = [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    refunded, reversed_, back = Decimal(0), 0, []
    for part in steps:
        n = refund_points(
            points=100,
            amount=Decimal("100.00"),
            refunded_before=refunded,
            refunded_now=part,
            reversed_before=reversed_,
        )
        back.append(n)
        refunded += part
        reversed_ += n
    assert back == [34, 33, 33]


@settings(max_examples=300, deadline=None)
@given(
    points=st.integers(0, 10**7),
    cents=st.integers(1, 10**9),
    cuts=st.lists(st.integers(1, 10**9), min_size=1, max_size=8),
)
def test_partial_refunds_add_up_to_all_points(points, cents, cuts):
    amount = Decimal(cents) / 100
    # Split the amount into len(cuts) positive parts in proportion to `cuts`.
    total_cut = sum(cuts)
    parts_cents = [cents * cut // total_cut for cut in cuts]
    parts_cents[-1] += cents - sum(parts_cents)
    refunded, reversed_ = Decimal(0), 0
    for part_cents in parts_cents:
        if part_cents == 0:
            continue
        part = Decimal(part_cents) / 100
        n = refund_points(
            points=points,
            amount=amount,
            refunded_before=refunded,
            refunded_now=part,
            reversed_before=reversed_,
        )
        assert n >= 0
        refunded += part
        reversed_ += n
        kept = points - reversed_
        # the member keeps exactly the rounded-down share of what was not refunded
        assert kept == int(points * (amount - refunded) / amount)
    assert reversed_ == points
