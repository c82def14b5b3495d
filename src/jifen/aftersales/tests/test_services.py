"""After-sales services: every move of the transition table, every refusal (nothing changes),
refund amounts, restock, the original expiry of refunded points, the cash refunded once."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale, AfterSaleEvent, AfterSaleLine, AfterSalePhoto
from jifen.aftersales.tests.conftest import earn
from jifen.catalog.models import Sku, StockMovement, StockReservation
from jifen.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jifen.ledger.models import Lot
from jifen.ledger.services import balances_of
from jifen.orders.models import Order, OrderEvent

D = dt.date
S = AfterSale.Status


@pytest.fixture
def rich(member):
    earn(member, 10_000, "e1", D(2099, 12, 31))
    return member


def lots(member):
    return sorted(
        Lot.objects.filter(member_id=member.pk).values_list("expires_on", "amount", "remaining")
    )


def state(order):
    """Everything an after-sales call may change, for the "nothing changed" asserts."""
    sku_ids = list(order.lines.values_list("sku_id", flat=True))
    return {
        "aftersales": list(AfterSale.objects.order_by("pk").values()),
        "lines": list(AfterSaleLine.objects.order_by("pk").values()),
        "events": AfterSaleEvent.objects.count(),
        "photos": AfterSalePhoto.objects.count(),
        "order": Order.objects.filter(pk=order.pk).values("status").get(),
        "order_events": OrderEvent.objects.count(),
        "balance": balances_of(order.member_id),
        "lots": lots(order.member),
        "skus": list(Sku.objects.filter(pk__in=sku_ids).order_by("pk").values("remaining", "sold")),
        "movements": StockMovement.objects.count(),
    }


def request(order, kind="return_refund", lines=None, **kw):
    if lines is None:
        lines = [{"order_line": line.pk, "quantity": line.quantity} for line in order.lines.all()]
    kw.setdefault("reason", "quality")
    return services.aftersale_request(
        member_id=order.member_id, order_number=order.number, kind=kind, lines=lines, **kw
    )


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def events(aftersale):
    return list(
        AfterSaleEvent.objects.filter(aftersale=aftersale).values_list(
            "from_status", "to_status", "actor_label"
        )
    )


# --- request ------------------------------------------------------------------------------------


def test_request_computes_amounts_and_logs(rich, shop, make_order):
    order = make_order(rich, [(shop.mug_sku, 3)])
    line = order.lines.get()
    aftersale = request(order, lines=[{"order_line": line.pk, "quantity": 2}], reason_text="裂了")
    assert aftersale.number.startswith("S") and len(aftersale.number) == 14
    assert (aftersale.status, aftersale.kind, aftersale.member_id) == (
        "requested",
        "return_refund",
        rich.pk,
    )
    assert (aftersale.points_to_refund, aftersale.cash_to_refund) == (1000, Decimal("19.80"))
    assert aftersale.shipping_refund == Decimal("0")
    assert list(aftersale.lines.values_list("order_line_id", "quantity", "points", "cash")) == [
        (line.pk, 2, 1000, Decimal("19.80"))
    ]
    assert events(aftersale) == [("", "requested", "member")]


def test_partial_requests_add_up_to_what_was_paid(rich, shop, make_order, provider):
    order = make_order(rich, [(shop.mug_sku, 3)])
    line = order.lines.get()
    line.points_paid, line.cash_paid = 1000, Decimal("10.00")  # a tier discount: not divisible
    line.save()
    shares = []
    for _ in range(3):
        a = request(order, "refund_only", lines=[{"order_line": line.pk, "quantity": 1}])
        shares.append((a.points_to_refund, a.cash_to_refund))
        services.aftersale_decide(aftersale_id=a.pk, approve=False, by=_staff(rich), note="x")
        AfterSale.objects.filter(pk=a.pk).update(status="refunded")  # keep its quantity taken
    assert shares == [(333, Decimal("3.33")), (333, Decimal("3.33")), (334, Decimal("3.34"))]


def _staff(member):
    from jifen.members.models import User

    user, _ = User.objects.get_or_create(
        email="ops@example.com", defaults={"is_staff": True, "name": "运营"}
    )
    return user


def test_request_stores_photos_with_thumbnails(rich, shop, make_order, media):
    order = make_order(rich, [(shop.mug_sku, 1)])
    aftersale = request(order, photos=[(png(), "a.png"), (png((800, 600)), "b.png")])
    photos = list(aftersale.photos.all())
    assert len(photos) == 2
    with Image.open(photos[1].thumbnail.path) as thumb:
        assert (thumb.size, thumb.format) == ((240, 240), "JPEG")
    assert photos[0].image.name.endswith(".png")


@pytest.mark.parametrize(
    ("photos", "code"),
    [
        ([(b"not an image", "x.png")], "invalid_photo"),
        ([(b"", "x.png")], "invalid_photo"),
        ([(b"GIF89a" + b"\x00" * 30, "x.gif")], "invalid_photo"),
        ([(png(), f"{i}.png") for i in range(7)], "too_many_photos"),
    ],
)
def test_request_refuses_bad_photos(rich, shop, make_order, media, photos, code):
    order = make_order(rich, [(shop.mug_sku, 1)])
    before = state(order)
    with pytest.raises(ValidationFailed) as error:
        request(order, photos=photos)
    assert error.value.code == code
    assert state(order) == before


def test_photo_over_5_mb_refused(rich, shop, make_order, media, monkeypatch):
    monkeypatch.setattr(services, "MAX_PHOTO_BYTES", 100)
    order = make_order(rich, [(shop.mug_sku, 1)])
    with pytest.raises(ValidationFailed) as error:
        request(order, photos=[(png(), "a.png")])
    assert error.value.code == "invalid_photo"
    assert AfterSale.objects.count() == 0


@pytest.mark.parametrize(
    ("lines", "error_type", "code"),
    [
        ([], ValidationFailed, "no_lines"),
        ("x", ValidationFailed, "no_lines"),
        ([{"order_line": 999999, "quantity": 1}], NotFound, "order_line_not_found"),
        ([{"order_line": "1", "quantity": 1}], NotFound, "order_line_not_found"),
        ([{"order_line": None, "quantity": 0}], NotFound, "order_line_not_found"),
        (["line", 0], NotFound, "order_line_not_found"),
        ("qty0", ValidationFailed, "invalid_quantity"),
        ("qty-1", ValidationFailed, "invalid_quantity"),
        ("qty1.5", ValidationFailed, "invalid_quantity"),
        ("qtytrue", ValidationFailed, "invalid_quantity"),
        ("qty3", ValidationFailed, "quantity_exceeds_available"),
        ("dup", ValidationFailed, "duplicate_line"),
    ],
)
def test_request_refuses_bad_lines(rich, shop, make_order, lines, error_type, code):
    order = make_order(rich, [(shop.mug_sku, 2)])
    line = order.lines.get()
    if isinstance(lines, str) and lines.startswith("qty"):
        value = {"0": 0, "-1": -1, "1.5": 1.5, "true": True, "3": 3}[lines[3:]]
        lines = [{"order_line": line.pk, "quantity": value}]
    elif lines == "dup":
        lines = [{"order_line": line.pk, "quantity": 1}] * 2
    before = state(order)
    with pytest.raises(error_type) as error:
        request(order, lines=lines)
    assert error.value.code == code
    assert state(order) == before


def test_request_refuses_bad_kind_reason_and_text(rich, shop, make_order):
    order = make_order(rich, [(shop.mug_sku, 1)])
    before = state(order)
    for kw, code in [
        ({"kind": "gift"}, "invalid_kind"),
        ({"reason": "because"}, "invalid_reason"),
        ({"reason_text": "x" * 501}, "too_long"),
        ({"reason_text": "a\x00b"}, "invalid_text"),
    ]:
        with pytest.raises(ValidationFailed) as error:
            request(order, **kw)
        assert error.value.code == code
    assert state(order) == before


def test_request_refuses_other_members_orders(rich, shop, make_order, make_member):
    order = make_order(rich, [(shop.mug_sku, 1)])
    other = make_member()
    before = state(order)
    with pytest.raises(NotFound) as error:
        services.aftersale_request(
            member_id=other.pk,
            order_number=order.number,
            kind="refund_only",
            lines=[{"order_line": order.lines.get().pk, "quantity": 1}],
            reason="other",
        )
    assert error.value.code == "order_not_found"
    assert state(order) == before


@pytest.mark.parametrize("status", ["pending_payment", "cancelled", "refunded"])
def test_request_refuses_orders_not_paid(rich, shop, make_order, status):
    order = make_order(rich, [(shop.mug_sku, 1)], status="paid")
    Order.objects.filter(pk=order.pk).update(status=status)
    before = state(order)
    with pytest.raises(Conflict) as error:
        request(order, "refund_only")
    assert error.value.code == "order_not_eligible"
    assert state(order) == before


def test_request_window_closes_after_the_aftersale_days(rich, shop, make_order, settings):
    settings.JIFEN_AFTERSALE_DAYS = 15
    late = make_order(rich, [(shop.mug_sku, 1)], days_ago=16)
    before = state(late)
    with pytest.raises(Conflict) as error:
        request(late)
    assert error.value.code == "aftersale_window_closed"
    assert state(late) == before
    in_time = make_order(rich, [(shop.mug_sku, 1)], status="completed", days_ago=14)
    assert request(in_time).status == "requested"


def test_return_and_exchange_need_shipped_physical_lines(rich, shop, make_order):
    unshipped = make_order(rich, [(shop.mug_sku, 1)], status="paid")
    virtual = make_order(rich, [(shop.card_sku, 1)], status="completed")
    for order, kind in [
        (unshipped, "return_refund"),
        (unshipped, "exchange"),
        (virtual, "exchange"),
    ]:
        before = state(order)
        with pytest.raises(ValidationFailed) as error:
            request(order, kind)
        assert error.value.code == "kind_not_allowed"
        assert state(order) == before


def test_one_open_request_per_line_and_quantities_guarded(rich, shop, make_order):
    order = make_order(rich, [(shop.mug_sku, 3)])
    line = order.lines.get()
    first = request(order, lines=[{"order_line": line.pk, "quantity": 1}])
    before = state(order)
    with pytest.raises(Conflict) as error:
        request(order, lines=[{"order_line": line.pk, "quantity": 1}])
    assert error.value.code == "line_has_open_aftersale"
    assert state(order) == before
    services.aftersale_cancel(aftersale_id=first.pk, member_id=rich.pk)
    # Cancelled: its quantity is free again.
    second = request(order, lines=[{"order_line": line.pk, "quantity": 3}])
    assert second.lines.get().quantity == 3


def test_request_is_idempotent_by_reference(rich, shop, make_order):
    order = make_order(rich, [(shop.mug_sku, 1)])
    first = request(order, reference="key-1")
    again = request(order, reference="key-1")
    assert again.pk == first.pk
    assert AfterSale.objects.count() == 1
    assert AfterSaleEvent.objects.count() == 1


def test_shipping_fee_refunded_only_for_the_whole_unshipped_order(rich, shop, make_order):
    fee = Decimal("8.00")
    whole = make_order(rich, [(shop.mug_sku, 2)], status="paid", shipping_fee=fee)
    a = request(whole, "refund_only")
    assert (a.cash_to_refund, a.shipping_refund, a.restock_on_refund) == (
        Decimal("27.80"),
        fee,
        True,
    )
    part = make_order(rich, [(shop.mug_sku, 2)], status="paid", shipping_fee=fee)
    line = part.lines.get()
    b = request(part, "refund_only", lines=[{"order_line": line.pk, "quantity": 1}])
    assert (b.cash_to_refund, b.shipping_refund) == (Decimal("9.90"), Decimal("0"))
    shipped = make_order(rich, [(shop.mug_sku, 2)], status="shipped", shipping_fee=fee)
    c = request(shipped, "refund_only")
    assert (c.cash_to_refund, c.shipping_refund, c.restock_on_refund) == (
        Decimal("19.80"),
        Decimal("0"),
        False,
    )


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_by_member_only_before_goods_are_sent(rich, shop, make_order, operator):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order)
    services.aftersale_cancel(aftersale_id=a.pk, member_id=rich.pk, note="不退了")
    a.refresh_from_db()
    assert (a.status, a.cancelled_at is not None) == ("cancelled", True)
    again = services.aftersale_cancel(aftersale_id=a.pk, member_id=rich.pk)
    assert again.status == "cancelled"
    assert events(a) == [("", "requested", "member"), ("requested", "cancelled", "member")]

    b = request(order)
    services.aftersale_decide(aftersale_id=b.pk, approve=True, by=operator)
    services.aftersale_return_shipped(
        aftersale_id=b.pk, member_id=rich.pk, carrier="顺丰", tracking_number="SF1"
    )
    before = state(order)
    with pytest.raises(Conflict) as error:
        services.aftersale_cancel(aftersale_id=b.pk, member_id=rich.pk)
    assert error.value.code == "invalid_transition"
    assert state(order) == before


def test_cancel_of_someone_elses_aftersale_is_not_found(rich, shop, make_order, make_member):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order)
    before = state(order)
    with pytest.raises(NotFound):
        services.aftersale_cancel(aftersale_id=a.pk, member_id=make_member().pk)
    with pytest.raises(NotFound):
        services.aftersale_cancel(aftersale_id=999999, member_id=rich.pk)
    assert state(order) == before


# --- decide -------------------------------------------------------------------------------------


def test_reject_needs_a_note_and_an_operator(rich, shop, make_order, operator):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order)
    before = state(order)
    with pytest.raises(ValidationFailed) as error:
        services.aftersale_decide(aftersale_id=a.pk, approve=False, by=operator, note=" ")
    assert error.value.code == "required"
    with pytest.raises(PermissionDenied):
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=rich)
    with pytest.raises(PermissionDenied):
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=None)
    assert state(order) == before
    services.aftersale_decide(aftersale_id=a.pk, approve=False, by=operator, note="影响二次销售")
    a.refresh_from_db()
    assert (a.status, a.decided_by_id, a.decision_note) == ("rejected", operator.pk, "影响二次销售")
    # A repeat is harmless; the other decision is refused.
    services.aftersale_decide(aftersale_id=a.pk, approve=False, by=operator, note="again")
    before = state(order)
    with pytest.raises(Conflict) as error:
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    assert error.value.code == "invalid_transition"
    assert state(order) == before
    assert [e[1] for e in events(a)] == ["requested", "rejected"]


# --- return_refund: the whole path ------------------------------------------------------------


def test_return_refund_path_restocks_refunds_and_closes_the_order(
    rich, shop, make_order, operator, provider
):
    order = make_order(rich, [(shop.mug_sku, 2)])
    sku = Sku.objects.get(pk=shop.mug_sku.pk)
    assert (sku.remaining, sku.sold) == (8, 2)
    a = request(order)
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator, note="同意")
    a.refresh_from_db()
    assert a.status == "approved" and provider.calls == []  # no money before the goods
    # Refusals on the way: refund before receipt, receipt by a member, exchange ship.
    before = state(order)
    for call, code in [
        (lambda: services.aftersale_refund(aftersale_id=a.pk, by=operator), "invalid_transition"),
        (
            lambda: services.aftersale_exchange_ship(
                aftersale_id=a.pk, by=operator, carrier="顺丰", tracking_number="1"
            ),
            "invalid_transition",
        ),
    ]:
        with pytest.raises(Conflict) as error:
            call()
        assert error.value.code == code
    with pytest.raises(PermissionDenied):
        services.aftersale_receive(aftersale_id=a.pk, by=rich)
    with pytest.raises(ValidationFailed):
        services.aftersale_return_shipped(
            aftersale_id=a.pk, member_id=rich.pk, carrier="", tracking_number="SF1"
        )
    assert state(order) == before

    services.aftersale_return_shipped(
        aftersale_id=a.pk, member_id=rich.pk, carrier="顺丰", tracking_number="SF123"
    )
    services.aftersale_return_shipped(  # a retry
        aftersale_id=a.pk, member_id=rich.pk, carrier="顺丰", tracking_number="SF123"
    )
    a.refresh_from_db()
    assert (a.status, a.return_carrier, a.return_tracking_number) == (
        "awaiting_return",
        "顺丰",
        "SF123",
    )
    services.aftersale_receive(aftersale_id=a.pk, by=operator)
    services.aftersale_receive(aftersale_id=a.pk, by=operator)  # a retry
    sku.refresh_from_db()
    assert (sku.remaining, sku.sold, sku.returned) == (10, 2, 2)
    assert StockReservation.objects.get(reference=order.lines.get().stock_reference).returned == 2

    balance_before = balances_of(rich.pk)["available"]
    services.aftersale_refund(aftersale_id=a.pk, by=operator)
    services.aftersale_refund(aftersale_id=a.pk, by=operator)  # a retry: nothing twice
    a.refresh_from_db()
    assert a.status == "refunded"
    assert balances_of(rich.pk)["available"] == balance_before + 1000
    assert a.refund_transaction.reference == f"aftersale:{a.number}"
    assert provider.calls == [(order.number, Decimal("19.80"), f"aftersale:{a.number}")]
    assert (a.cash_refund_id, a.cash_refund_pending) == (1, False)
    sku.refresh_from_db()
    assert (sku.remaining, sku.returned) == (10, 2)  # not restocked twice
    order.refresh_from_db()
    assert order.status == "refunded"
    assert [e[1] for e in events(a)] == [
        "requested",
        "approved",
        "awaiting_return",
        "received",
        "refunded",
    ]


def test_refund_returns_points_with_their_original_expiry(
    member, shop, make_order, operator, provider
):
    earn(member, 400, "soon", D(2098, 12, 31))
    earn(member, 700, "late", D(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 2)])  # 1000 points: all of "soon", 600 of "late"
    assert lots(member) == [(D(2098, 12, 31), 400, 0), (D(2099, 12, 31), 700, 100)]
    line = order.lines.get()
    a = request(order, "refund_only", lines=[{"order_line": line.pk, "quantity": 1}])
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    # 500 back, into the lots they left (the latest-expiring first), no new lot.
    assert lots(member) == [(D(2098, 12, 31), 400, 0), (D(2099, 12, 31), 700, 600)]
    b = request(order, "refund_only", lines=[{"order_line": line.pk, "quantity": 1}])
    services.aftersale_decide(aftersale_id=b.pk, approve=True, by=operator)
    assert lots(member) == [(D(2098, 12, 31), 400, 400), (D(2099, 12, 31), 700, 700)]
    assert balances_of(member.pk)["available"] == 1100
    order.refresh_from_db()
    assert order.status == "refunded"


def test_refund_only_of_unshipped_goods_restocks(rich, shop, make_order, operator, provider):
    order = make_order(rich, [(shop.mug_sku, 2)], status="paid", shipping_fee=Decimal("8.00"))
    line = order.lines.get()
    a = request(order, "refund_only", lines=[{"order_line": line.pk, "quantity": 1}])
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    sku = Sku.objects.get(pk=shop.mug_sku.pk)
    assert (sku.remaining, sku.sold, sku.returned) == (9, 2, 1)
    assert (
        StockMovement.objects.filter(
            kind="returned", reference=f"aftersale:{a.number}:{a.lines.get().pk}"
        ).count()
        == 1
    )
    order.refresh_from_db()
    assert order.status == "paid"  # one unit is still to ship
    assert provider.calls == [(order.number, Decimal("9.90"), f"aftersale:{a.number}")]


def test_refund_only_of_shipped_goods_keeps_stock(rich, shop, make_order, operator, provider):
    order = make_order(rich, [(shop.mug_sku, 1)], status="delivered")
    a = request(order, "refund_only")
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    sku = Sku.objects.get(pk=shop.mug_sku.pk)
    assert (sku.remaining, sku.sold, sku.returned) == (9, 1, 0)
    order.refresh_from_db()
    assert order.status == "refunded"


def test_cash_refund_failure_is_recorded_and_retried(rich, shop, make_order, operator, provider):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order, "refund_only")
    provider.fail_with = Conflict("网关忙", code="provider_error")
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    assert (a.status, a.cash_refund_id, a.cash_refund_error) == ("refunded", None, "网关忙")
    assert a.cash_refund_pending
    provider.fail_with = None
    services.aftersale_refund(aftersale_id=a.pk, by=operator)
    services.aftersale_refund(aftersale_id=a.pk, by=operator)
    a.refresh_from_db()
    assert (a.cash_refund_id, a.cash_refund_error, a.cash_refund_pending) == (1, "", False)
    assert len(provider.refunds) == 1
    # The points came back once.
    assert balances_of(rich.pk)["available"] == 10_000


def test_points_only_order_needs_no_cash_refund(rich, shop, make_order, operator, provider):
    order = make_order(rich, [(shop.card_sku, 1)], status="completed")
    a = request(order, "refund_only")
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    assert (a.status, a.cash_to_refund, a.cash_refund_pending) == ("refunded", Decimal("0"), False)
    assert provider.calls == []


def test_virtual_lines_refund_only_unused_vouchers(
    rich, shop, make_order, operator, provider, vouchers
):
    order = make_order(rich, [(shop.card_sku, 2)], status="completed")
    reference = order.lines.get().stock_reference
    vouchers.unused[reference] = 1  # one of the two was used
    a = request(order, "refund_only")
    before = state(order)
    with pytest.raises(Conflict) as error:
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    assert error.value.code == "voucher_used"
    assert state(order) == before  # not even approved
    vouchers.unused[reference] = 2
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    assert a.status == "refunded"
    assert vouchers.revoked[-1] == (reference, 2)
    sku = Sku.objects.get(pk=shop.card_sku.pk)
    assert (sku.remaining, sku.returned) == (8, 0)  # codes are not restocked


# --- exchange -----------------------------------------------------------------------------------


def test_exchange_path_ships_a_replacement(rich, shop, make_order, operator, provider):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order, "exchange", reason="damaged")
    assert (a.points_to_refund, a.cash_to_refund) == (0, Decimal("0"))
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    services.aftersale_return_shipped(
        aftersale_id=a.pk, member_id=rich.pk, carrier="中通", tracking_number="ZT9"
    )
    services.aftersale_receive(aftersale_id=a.pk, by=operator)
    before = state(order)
    with pytest.raises(Conflict):
        services.aftersale_refund(aftersale_id=a.pk, by=operator)
    assert state(order) == before
    services.aftersale_exchange_ship(
        aftersale_id=a.pk, by=operator, carrier="顺丰", tracking_number="SF777"
    )
    services.aftersale_exchange_ship(  # a retry
        aftersale_id=a.pk, by=operator, carrier="顺丰", tracking_number="SF777"
    )
    a.refresh_from_db()
    assert (a.status, a.exchange_carrier, a.exchange_tracking_number) == (
        "exchanged",
        "顺丰",
        "SF777",
    )
    sku = Sku.objects.get(pk=shop.mug_sku.pk)
    # 10 - 1 sold, +1 returned, -1 replacement sold.
    assert (sku.remaining, sku.sold, sku.returned, sku.reserved) == (9, 2, 1, 0)
    reservation = StockReservation.objects.get(
        reference=f"aftersale:{a.number}:exchange:{a.lines.get().pk}"
    )
    assert (reservation.status, reservation.quantity) == ("sold", 1)
    order.refresh_from_db()
    assert order.status == "delivered"
    assert provider.calls == []
    # The replacement may itself be after-saled again.
    assert request(order, "refund_only").lines.get().quantity == 1


def test_exchange_out_of_stock_changes_nothing(rich, shop, make_order, operator):
    from jifen.catalog.services import OutOfStock, stock_reserve

    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order, "exchange")
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    services.aftersale_receive(aftersale_id=a.pk, by=operator)  # goods came without tracking
    stock_reserve(sku_id=shop.mug_sku.pk, quantity=10, reference="someone-else")
    before = state(order)
    with pytest.raises(OutOfStock):
        services.aftersale_exchange_ship(
            aftersale_id=a.pk, by=operator, carrier="顺丰", tracking_number="SF1"
        )
    assert state(order) == before


def test_transitions_table_refuses_everything_else(rich, shop, make_order, operator):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = request(order, "refund_only")
    before = state(order)
    with pytest.raises(Conflict):  # refund-only never waits for goods
        services.aftersale_return_shipped(
            aftersale_id=a.pk, member_id=rich.pk, carrier="顺丰", tracking_number="1"
        )
    with pytest.raises(Conflict):
        services.aftersale_receive(aftersale_id=a.pk, by=operator)
    with pytest.raises(Conflict):
        services.aftersale_refund(aftersale_id=a.pk, by=operator)
    with pytest.raises(Conflict):
        services.aftersale_exchange_ship(
            aftersale_id=a.pk, by=operator, carrier="顺丰", tracking_number="1"
        )
    assert state(order) == before
    for status, targets in services.TRANSITIONS.items():
        assert targets <= set(S.values), status
    assert services.TRANSITIONS[S.REFUNDED] == frozenset()


def test_window_helper(rich, shop, make_order, settings):
    settings.JIFEN_AFTERSALE_DAYS = 3
    order = make_order(rich, [(shop.mug_sku, 1)], days_ago=2)
    assert services.order_aftersale_window_open(order)
    assert not services.order_aftersale_window_open(
        order, now=timezone.now() + dt.timedelta(days=2)
    )
