import pytest
from django.db import connection

from jifen.catalog import services
from jifen.ledger.verification import ledger_verify

pytestmark = pytest.mark.django_db


def i4(report) -> list[str]:
    return [str(v) for v in report.violations if v.invariant == "I4"]


def _restore(sku_id, **values):
    sets = ", ".join(f"{name} = %s" for name in values)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE catalog_sku SET {sets} WHERE id = %s", [*values.values(), sku_id])  # noqa: S608


def test_stock_activity_keeps_i4(catalog, operator):
    sku = catalog.coupon_sku
    services.stock_reserve(sku_id=sku.pk, quantity=5, reference="v1")
    services.stock_commit(reference="v1")
    services.stock_return(reference="v1", quantity=2)
    services.stock_reserve(sku_id=sku.pk, quantity=3, reference="v2")
    services.stock_release(reference="v2")
    services.stock_reserve(sku_id=sku.pk, quantity=1, reference="v3")
    services.stock_adjust(sku_id=sku.pk, delta=-4, reason="盘点", by=operator)
    report = ledger_verify()
    assert i4(report) == []
    assert report.summary["skus"] == 6


def test_tampered_remaining_is_named(catalog):
    sku = catalog.coupon_sku
    _restore(sku.pk, remaining=150)
    assert i4(ledger_verify()) == [
        f"I4 sku {sku.pk} ({sku.code}): initial 100 + received 0 + returned 0 + adjusted 0 = 100 "
        f"!= sold 0 + reserved 0 + remaining 150 = 150"
    ]
    _restore(sku.pk, remaining=100)
    assert i4(ledger_verify()) == []


def test_a_counter_that_drifts_from_its_movements_is_named(catalog):
    sku = catalog.coupon_sku
    # Balanced (initial 90 + received 10), yet the movements say received 0, initial 100.
    _restore(sku.pk, stock_initial=90, received=10)
    assert i4(ledger_verify()) == [
        f"I4 sku {sku.pk} ({sku.code}): stock_initial 90 != movements 100",
        f"I4 sku {sku.pk} ({sku.code}): received 10 != movements 0",
    ]
    _restore(sku.pk, stock_initial=100, received=0)


def test_reserved_without_a_reservation_is_named(catalog):
    sku = catalog.coupon_sku
    _restore(sku.pk, reserved=1, remaining=99)
    assert i4(ledger_verify()) == [
        f"I4 sku {sku.pk} ({sku.code}): reserved 1 != movements 0 or open reservations 0"
    ]
    _restore(sku.pk, reserved=0, remaining=100)
