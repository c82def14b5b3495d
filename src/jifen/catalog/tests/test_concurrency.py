"""Stock under real concurrency (PostgreSQL): never oversold, never negative, once only."""

import pytest

from jifen.catalog import services
from jifen.catalog.models import LowStockAlert, StockMovement, StockReservation
from jifen.catalog.tests.helpers import counters, stock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def last_units(catalog):
    """The coupon SKU with 7 units left and a low-stock threshold of 3."""
    sku = catalog.coupon_sku
    services.sku_update(sku_id=sku.pk, points=800, low_stock_threshold=3)
    services.stock_reserve(sku_id=sku.pk, quantity=93, reference="before")
    services.stock_commit(reference="before")
    return sku


def test_200_reservations_for_the_last_units(last_units, run_concurrently):
    sku = last_units

    def reserve_four(i):
        outcomes = []
        for n in range(4):
            try:
                services.stock_reserve(sku_id=sku.pk, quantity=1, reference=f"race:{i}:{n}")
                outcomes.append("ok")
            except services.OutOfStock:
                outcomes.append("out")
        return outcomes

    results = run_concurrently(reserve_four, 50)
    assert all(status == "ok" for status, _ in results), results
    outcomes = [o for _, value in results for o in value]
    assert (outcomes.count("ok"), outcomes.count("out")) == (7, 193)
    assert counters(sku) == stock(sku, stock_initial=100, sold=93, reserved=7, remaining=0)
    assert StockReservation.objects.filter(reference__startswith="race:").count() == 7
    assert StockMovement.objects.filter(kind="reserved", reference__startswith="race:").count() == 7
    assert LowStockAlert.objects.filter(resolved_at__isnull=True).count() == 1


def test_one_reference_from_50_threads_reserves_once(last_units, run_concurrently):
    sku = last_units
    results = run_concurrently(
        lambda i: services.stock_reserve(sku_id=sku.pk, quantity=2, reference="same").pk, 50
    )
    assert {status for status, _ in results} == {"ok"}
    assert len({pk for _, pk in results}) == 1
    assert counters(sku) == stock(sku, stock_initial=100, sold=93, reserved=2, remaining=5)


def test_release_and_commit_racing_settle_once(last_units, run_concurrently):
    sku = last_units
    services.stock_reserve(sku_id=sku.pk, quantity=3, reference="contested")

    def act(i):
        try:
            if i % 2:
                services.stock_commit(reference="contested")
            else:
                services.stock_release(reference="contested")
            return "ok"
        except services.Conflict:
            return "conflict"

    run_concurrently(act, 50)
    status = StockReservation.objects.get(reference="contested").status
    after = counters(sku)
    if status == "sold":
        assert after == stock(sku, stock_initial=100, sold=96, remaining=4)
    else:
        assert after == stock(sku, stock_initial=100, sold=93, remaining=7)
    assert StockMovement.objects.filter(reference="contested").exclude(kind="reserved").count() == 1


def test_concurrent_adjustments_never_go_negative(last_units, run_concurrently):
    sku = last_units
    results = run_concurrently(
        lambda i: services.stock_adjust(sku_id=sku.pk, delta=-1, reason="盘点", reference=f"a{i}"),
        50,
    )
    assert sum(1 for status, _ in results if status == "ok") == 7
    assert counters(sku) == stock(sku, stock_initial=100, sold=93, adjusted=-7, remaining=0)


def test_per_member_limit_under_50_concurrent_orders(catalog, member, run_concurrently):
    item = catalog.earbuds  # 5 per member

    def take(i):
        try:
            services.item_quota_take(
                item_id=item.pk, member_id=member.pk, quantity=1, reference=f"q{i}"
            )
            return "ok"
        except services.Conflict:
            return "limit"

    results = [value for _, value in run_concurrently(take, 50)]
    assert (results.count("ok"), results.count("limit")) == (5, 45)
    from jifen.catalog.models import MemberItemQuota

    assert MemberItemQuota.objects.get(member=member, item=item).taken == 5
