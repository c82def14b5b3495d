import pytest

from jifen.catalog import services
from jifen.catalog.models import LowStockAlert, StockMovement, StockReservation
from jifen.catalog.tests.helpers import counters, stock
from jifen.core.errors import Conflict, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sku(catalog):
    return catalog.coupon_sku  # 100 units


def test_reserve_moves_remaining_to_reserved_and_writes_a_movement(sku):
    reservation = services.stock_reserve(sku_id=sku.pk, quantity=3, reference="order:1:1")

    assert (reservation.status, reservation.quantity) == ("reserved", 3)
    assert counters(sku) == stock(sku, stock_initial=100, reserved=3, remaining=97)
    movement = StockMovement.objects.get(kind="reserved")
    assert (movement.sku_id, movement.quantity, movement.reference) == (sku.pk, 3, "order:1:1")


def test_reserve_twice_with_one_reference_reserves_once(sku):
    first = services.stock_reserve(sku_id=sku.pk, quantity=3, reference="order:1:1")
    again = services.stock_reserve(sku_id=sku.pk, quantity=3, reference="order:1:1")

    assert again.pk == first.pk
    assert counters(sku)["remaining"] == 97
    assert StockMovement.objects.filter(kind="reserved").count() == 1


def test_reserve_reusing_a_reference_for_another_quantity_is_a_conflict(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=3, reference="order:1:1")
    with pytest.raises(Conflict) as error:
        services.stock_reserve(sku_id=sku.pk, quantity=4, reference="order:1:1")
    assert error.value.code == "reference_reused"
    assert counters(sku)["remaining"] == 97


def test_reserve_more_than_remaining_fails_and_changes_nothing(sku):
    with pytest.raises(services.OutOfStock) as error:
        services.stock_reserve(sku_id=sku.pk, quantity=101, reference="order:2:1")

    assert (error.value.code, error.value.status) == ("out_of_stock", 409)
    assert counters(sku) == stock(sku, stock_initial=100, remaining=100)
    assert not StockReservation.objects.exists()
    assert StockMovement.objects.filter(kind="reserved").count() == 0


def test_reserve_the_last_units_exactly(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=100, reference="all")
    assert counters(sku)["remaining"] == 0
    with pytest.raises(services.OutOfStock):
        services.stock_reserve(sku_id=sku.pk, quantity=1, reference="one-more")


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True, None, 1_000_001])
def test_reserve_refuses_bad_quantities(sku, quantity):
    with pytest.raises(ValidationFailed) as error:
        services.stock_reserve(sku_id=sku.pk, quantity=quantity, reference="bad")
    assert error.value.code == "invalid_quantity"
    assert counters(sku)["remaining"] == 100


@pytest.mark.parametrize("reference", ["", "   ", "x" * 101, "a\x00b", None])
def test_reserve_refuses_bad_references(sku, reference):
    with pytest.raises(ValidationFailed):
        services.stock_reserve(sku_id=sku.pk, quantity=1, reference=reference)
    assert counters(sku)["remaining"] == 100


def test_reserve_unknown_or_disabled_sku(catalog, sku):
    with pytest.raises(NotFound):
        services.stock_reserve(sku_id=999_999, quantity=1, reference="x")
    services.sku_update(sku_id=sku.pk, points=800, is_active=False)
    with pytest.raises(services.OutOfStock):
        services.stock_reserve(sku_id=sku.pk, quantity=1, reference="x")
    assert counters(sku)["remaining"] == 100


def test_release_gives_units_back_once(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=5, reference="order:3:1")
    released = services.stock_release(reference="order:3:1")
    again = services.stock_release(reference="order:3:1")

    assert released.status == again.status == "released"
    assert counters(sku) == stock(sku, stock_initial=100, remaining=100)
    assert StockMovement.objects.filter(kind="released").count() == 1


def test_commit_sells_the_units_and_counts_redemptions(catalog, sku):
    services.stock_reserve(sku_id=sku.pk, quantity=2, reference="order:4:1")
    services.stock_commit(reference="order:4:1")
    services.stock_commit(reference="order:4:1")

    assert counters(sku) == stock(sku, stock_initial=100, sold=2, remaining=98)
    catalog.coupon.refresh_from_db()
    assert catalog.coupon.redemptions_count == 2
    assert StockMovement.objects.filter(kind="sold").count() == 1


def test_commit_after_release_and_release_after_commit_are_conflicts(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=1, reference="a")
    services.stock_release(reference="a")
    with pytest.raises(Conflict) as error:
        services.stock_commit(reference="a")
    assert error.value.code == "reservation_released"

    services.stock_reserve(sku_id=sku.pk, quantity=1, reference="b")
    services.stock_commit(reference="b")
    with pytest.raises(Conflict) as error:
        services.stock_release(reference="b")
    assert error.value.code == "reservation_sold"
    assert counters(sku) == stock(sku, stock_initial=100, sold=1, remaining=99)


def test_release_unknown_reference(sku):
    with pytest.raises(NotFound):
        services.stock_release(reference="nope")


def test_return_puts_sold_units_back_up_to_the_quantity_sold(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=3, reference="order:5:1")
    services.stock_commit(reference="order:5:1")

    services.stock_return(reference="order:5:1", quantity=1, return_reference="rma:1")
    services.stock_return(reference="order:5:1", quantity=1, return_reference="rma:1")  # replay
    assert counters(sku) == stock(sku, stock_initial=100, sold=3, returned=1, remaining=98)

    with pytest.raises(ValidationFailed) as error:
        services.stock_return(reference="order:5:1", quantity=3, return_reference="rma:2")
    assert error.value.code == "return_exceeds_sold"
    services.stock_return(reference="order:5:1", quantity=2, return_reference="rma:3")
    assert counters(sku) == stock(sku, stock_initial=100, sold=3, returned=3, remaining=100)
    assert StockReservation.objects.get(reference="order:5:1").returned == 3


def test_return_of_an_unsold_reservation_is_a_conflict(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=3, reference="order:6:1")
    with pytest.raises(Conflict) as error:
        services.stock_return(reference="order:6:1", quantity=1)
    assert error.value.code == "reservation_not_sold"
    assert counters(sku) == stock(sku, stock_initial=100, reserved=3, remaining=97)
    assert not StockMovement.objects.filter(kind="returned").exists()


def test_adjust_receives_and_corrects_stock(sku, operator):
    received = services.stock_adjust(sku_id=sku.pk, delta=20, reason="到货", by=operator)
    services.stock_adjust(sku_id=sku.pk, delta=-7, reason="盘点破损", by=operator)

    assert (received.kind, received.quantity, received.created_by_id) == (
        "received",
        20,
        operator.pk,
    )
    assert counters(sku) == stock(sku, stock_initial=100, received=20, adjusted=-7, remaining=113)


def test_adjust_with_a_reference_is_idempotent(sku):
    services.stock_adjust(sku_id=sku.pk, delta=5, reason="到货", reference="po:9")
    services.stock_adjust(sku_id=sku.pk, delta=5, reason="到货", reference="po:9")
    assert counters(sku)["remaining"] == 105
    with pytest.raises(Conflict):
        services.stock_adjust(sku_id=sku.pk, delta=6, reason="到货", reference="po:9")


def test_adjust_never_takes_remaining_below_zero(sku):
    services.stock_reserve(sku_id=sku.pk, quantity=95, reference="big")
    with pytest.raises(services.OutOfStock):
        services.stock_adjust(sku_id=sku.pk, delta=-6, reason="盘点")
    assert counters(sku) == stock(sku, stock_initial=100, reserved=95, remaining=5)
    assert not StockMovement.objects.filter(kind="adjusted").exists()


@pytest.mark.parametrize(
    ("delta", "reason", "kind"),
    [(0, "x", None), (5, "", None), (5, "   ", None), (-5, "x", "received"), (1, "x", "sold")],
)
def test_adjust_refuses_bad_input(sku, delta, reason, kind):
    with pytest.raises(ValidationFailed):
        services.stock_adjust(sku_id=sku.pk, delta=delta, reason=reason, kind=kind)
    assert counters(sku)["remaining"] == 100


def test_low_stock_alert_opens_once_per_crossing(catalog):
    sku = catalog.massage_sku  # 5 units
    services.sku_update(sku_id=sku.pk, points=12000, low_stock_threshold=2)
    services.stock_reserve(sku_id=sku.pk, quantity=3, reference="r1")  # 2 left: crossing
    services.stock_reserve(sku_id=sku.pk, quantity=1, reference="r2")  # 1 left: same crossing
    assert list(LowStockAlert.objects.values_list("remaining", "threshold", "resolved_at")) == [
        (2, 2, None)
    ]

    services.stock_adjust(sku_id=sku.pk, delta=10, reason="补货")  # 11 left: resolved
    assert LowStockAlert.objects.get().resolved_at is not None
    services.stock_reserve(sku_id=sku.pk, quantity=10, reference="r3")  # 1 left: new crossing
    assert LowStockAlert.objects.count() == 2
    assert LowStockAlert.objects.filter(resolved_at__isnull=True).get().remaining == 1


def test_reserve_lines_is_all_or_nothing(catalog):
    with pytest.raises(services.OutOfStock):
        services.stock_reserve_lines(
            lines=[
                (catalog.coupon_sku.pk, 2, "order:7:1"),
                (catalog.massage_sku.pk, 6, "order:7:2"),
            ]
        )
    assert counters(catalog.coupon_sku)["remaining"] == 100
    made = services.stock_reserve_lines(
        lines=[(catalog.massage_sku.pk, 1, "order:8:2"), (catalog.coupon_sku.pk, 2, "order:8:1")]
    )
    assert [r.reference for r in made] == ["order:8:2", "order:8:1"]
    assert counters(catalog.coupon_sku)["remaining"] == 98


def test_expired_reservations_are_released(sku):
    import datetime as dt

    from django.utils import timezone

    past = timezone.now() - dt.timedelta(minutes=1)
    services.stock_reserve(sku_id=sku.pk, quantity=4, reference="old", expires_at=past)
    services.stock_reserve(
        sku_id=sku.pk, quantity=1, reference="new", expires_at=past + dt.timedelta(hours=1)
    )
    assert services.stock_release_expired() == 1
    assert counters(sku) == stock(sku, stock_initial=100, reserved=1, remaining=99)
    assert services.stock_release_expired() == 0


def test_the_expiry_task_releases_reservations(sku):
    import datetime as dt

    from django.utils import timezone

    from jifen.catalog.tasks import stock_release_expired_task

    past = timezone.now() - dt.timedelta(minutes=5)
    services.stock_reserve(sku_id=sku.pk, quantity=2, reference="task", expires_at=past)
    assert stock_release_expired_task() == 1
    assert counters(sku) == stock(sku, stock_initial=100, remaining=100)
