import pytest

from jifen.core.errors import ValidationFailed
from jifen.orders.models import Order
from jifen.shipping import services
from jifen.shipping.models import BulkShipImport, Shipment

pytestmark = pytest.mark.django_db


def test_mixed_rows_exact_results(carriers, make_order, operator):
    good, virtual, unpaid, shipped_twice = (
        make_order(),
        make_order(needs_shipping=False),
        make_order(status="pending_payment"),
        make_order(),
    )
    other = make_order()
    services.shipment_create(
        order_id=shipped_twice.pk, carrier_code="sf", tracking_number="SF0000000001", by=operator
    )
    csv_text = (
        "\ufefforder_number,carrier,tracking_number\r\n"
        f"{good.number},sf,SF1111111111\r\n"
        f"{virtual.number},sf,SF2222222222\r\n"
        f"{unpaid.number},zto,ZT3333333333\r\n"
        f"{shipped_twice.number},顺丰速运,SF0000000001\r\n"
        "J000,sf,SF4444444444\r\n"
        "\r\n"
        f"{other.number},ems,E5555555555\r\n"
        f"{other.number},sf,bad number\r\n"
        f"{other.number},sf,SF1111111111\r\n"
    )
    result = services.shipments_import_csv(csv_text=csv_text, by=operator, filename="today.csv")
    outcomes = [(r["line"], r["order_number"], r["outcome"], r["code"]) for r in result.results]
    assert outcomes == [
        (2, good.number, "shipped", ""),
        (3, virtual.number, "failed", "no_shipping_needed"),
        (4, unpaid.number, "failed", "order_not_shippable"),
        (5, shipped_twice.number, "unchanged", ""),
        (6, "J000", "failed", "order_not_found"),
        (8, other.number, "failed", "carrier_not_found"),
        (9, other.number, "failed", "invalid_tracking_number"),
        (10, other.number, "failed", "tracking_number_in_use"),
    ]
    assert (result.rows_total, result.rows_ok, result.rows_failed) == (8, 2, 6)
    assert (result.filename, result.created_by_id) == ("today.csv", operator.pk)
    assert dict(Order.objects.values_list("number", "status")) == {
        good.number: "shipped",
        virtual.number: "paid",
        unpaid.number: "pending_payment",
        shipped_twice.number: "shipped",
        other.number: "paid",
    }
    assert sorted(Shipment.objects.values_list("tracking_number", flat=True)) == [
        "SF0000000001",
        "SF1111111111",
    ]


def test_uploading_the_same_file_twice_ships_nothing_twice(carriers, make_order, operator):
    order = make_order()
    csv_text = f"order_number,carrier,tracking_number\n{order.number},sf,SF1111111111\n"
    services.shipments_import_csv(csv_text=csv_text, by=operator)
    again = services.shipments_import_csv(csv_text=csv_text, by=operator)
    assert [r["outcome"] for r in again.results] == ["unchanged"]
    assert Shipment.objects.count() == 1
    assert order.events.count() == 1


@pytest.mark.parametrize(
    ("csv_text", "code"),
    [
        ("", "invalid_csv_header"),
        ("order,carrier,number\nJ1,sf,SF1111111111\n", "invalid_csv_header"),
        ("order_number,carrier,tracking_number\n\n", "csv_empty"),
        ("order_number,carrier,tracking_number\nJ1,sf,SF1\x00\n", "invalid_csv"),
        (b"bytes", "invalid_csv"),
        (
            "order_number,carrier,tracking_number\n" + "J1,sf,SF11111111\n" * 5001,
            "csv_too_many_rows",
        ),
    ],
)
def test_unreadable_files_record_nothing(carriers, operator, csv_text, code):
    with pytest.raises(ValidationFailed) as error:
        services.shipments_import_csv(csv_text=csv_text, by=operator)
    assert error.value.code == code
    assert BulkShipImport.objects.count() == 0
    assert Shipment.objects.count() == 0
