# ruff: noqa: F811 - the fixtures imported from test_review_fixes are used as arguments
"""Regressions of the second mall review (N1, N5, N6, N7, N9): real orders placed and paid
through orders and payments (sandbox), after-sales against them."""

import io
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale
from jifen.aftersales.tests.test_review_fixes import (  # noqa: F401 - fixtures
    _ask,
    _eager_tasks,
    _mall_settings,
    _pay,
    _place,
    _ship,
    _sku,
    mall,
    rich,
)
from jifen.catalog import services as catalog
from jifen.catalog.models import MemberItemQuota
from jifen.core.errors import Conflict, ValidationFailed
from jifen.orders.models import Order
from jifen.payments.models import Refund
from jifen.shipping.models import Shipment

pytestmark = pytest.mark.django_db


def _approve(aftersale, operator, capture):
    with capture(execute=True):
        services.aftersale_decide(aftersale_id=aftersale.pk, approve=True, by=operator)
    aftersale.refresh_from_db()
    return aftersale


def _queue_column(order):
    admin = next(a for a in site._registry.values() if type(a).__name__ == "OrderToShipAdmin")
    return str(admin.lines_column(Order.objects.prefetch_related("lines").get(pk=order.pk)))


# --- N1: units refunded before shipment are not shipped ------------------------------------------


def test_partial_refund_before_shipment_ships_only_what_is_left(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    """2 cups paid, 1 refunded (refund-only) while paid: it goes back on the shelf, the
    queue says × 1 and the shipment ships the one left; the stock is not touched again."""
    from jifen.shipping.selectors import order_units_to_ship

    order = _place(rich, [(mall.cup_sku, 2)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    line = order.lines.get()
    assert "× 2" in _queue_column(order)
    a = _approve(_ask(order, line, 1), operator, django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert (a.status, a.restock_on_refund, a.cash_to_refund, a.shipping_refund) == (
        "refunded",
        True,
        Decimal("20.00"),
        Decimal("0.00"),
    )
    assert payment.refunded_amount == Decimal("20.00")
    after_refund = _sku(mall.cup_sku)
    assert after_refund == {"remaining": 4, "sold": 2, "returned": 1}
    assert Order.objects.get(pk=order.pk).status == "paid"
    column = _queue_column(order)
    assert "杯子" in column and "× 1" in column and "× 2" not in column
    assert [(li.pk, q) for li, q in order_units_to_ship(order=order)] == [(line.pk, 1)]
    _ship(order, operator)
    assert Order.objects.get(pk=order.pk).status == "shipped"
    assert _sku(mall.cup_sku) == after_refund
    # the member can still return the one unit they receive, not more
    with pytest.raises(ValidationFailed) as error:
        _ask(order, line, 2, kind="return_refund")
    assert error.value.code == "quantity_exceeds_available"


def test_every_unit_refunded_before_shipment_refunds_the_order_and_nothing_ships(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    order = _place(rich, [(mall.cup_sku, 2)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    line = order.lines.get()
    _approve(_ask(order, line, 1), operator, django_capture_on_commit_callbacks)
    b = _approve(_ask(order, line, 1), operator, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, order.shipping_refunded) == ("refunded", True)
    assert (b.cash_to_refund, b.shipping_refund) == (Decimal("30.00"), Decimal("10.00"))
    assert payment.refunded_amount == Decimal("50.00")
    assert _sku(mall.cup_sku) == {"remaining": 5, "sold": 2, "returned": 2}
    with pytest.raises(Conflict) as error:
        _ship(order, operator)
    assert error.value.code == "order_not_shippable"
    assert not Shipment.objects.exists()


def test_physical_line_refunded_before_shipment_completes_an_order_with_a_virtual_line(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    """Review N1 (second scenario) and N9: cup + e-book link; the cup is refunded before
    shipment. Nothing physical is left: the fee goes back with the cup, the order is
    completed (the link was issued at payment) with an event, and shipping refuses."""
    ebook = catalog.item_save(
        kind="virtual",
        fulfilment="link",
        link_url="https://books.example.com/x",
        name="电子书",
        category_id=mall.cup.category_id,
    )
    ebook_sku = catalog.sku_create(item_id=ebook.pk, points=100, stock_initial=5)
    order = _place(rich, [(mall.cup_sku, 1), (ebook_sku, 1)])
    assert (order.cash_total, order.shipping_fee) == (Decimal("30.00"), Decimal("10.00"))
    payment = _pay(order, django_capture_on_commit_callbacks)
    cup = order.lines.get(sku_id=mall.cup_sku.pk)
    asked = _ask(order, cup, 1)
    assert asked.shipping_refund == Decimal("10.00")  # the estimate says so too
    a = _approve(asked, operator, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (a.cash_to_refund, a.shipping_refund) == (Decimal("30.00"), Decimal("10.00"))
    assert payment.refunded_amount == Decimal("30.00")
    assert (order.status, order.shipping_refunded) == ("completed", True)
    event = order.events.order_by("-pk").first()
    assert (event.from_status, event.to_status) == ("paid", "completed")
    assert a.number in event.reason
    assert _sku(mall.cup_sku) == {"remaining": 5, "sold": 1, "returned": 1}
    with pytest.raises(Conflict):
        _ship(order, operator)
    assert not Shipment.objects.exists()


def test_shipment_create_refuses_when_nothing_physical_is_left(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    """Should an order still be paid with every physical unit refunded (e.g. its virtual
    lines not fulfilled), shipping refuses with nothing_to_ship and changes nothing."""
    order = _place(rich, [(mall.cup_sku, 1), (mall.mug_sku, 1)])
    _pay(order, django_capture_on_commit_callbacks)
    cup = order.lines.get(sku_id=mall.cup_sku.pk)
    mug = order.lines.get(sku_id=mall.mug_sku.pk)
    _approve(_ask(order, cup, 1), operator, django_capture_on_commit_callbacks)
    _approve(_ask(order, mug, 1), operator, django_capture_on_commit_callbacks)
    assert Order.objects.get(pk=order.pk).status == "refunded"
    Order.objects.filter(pk=order.pk).update(status="paid")  # as if a virtual line were left
    events = order.events.count()
    with pytest.raises(Conflict) as error:
        _ship(order, operator)
    assert error.value.code == "nothing_to_ship"
    assert not Shipment.objects.exists() and order.events.count() == events
    assert Order.objects.get(pk=order.pk).status == "paid"


# --- N7: per-member quota ------------------------------------------------------------------------


def _limited(mall, limit=2):
    item = catalog.item_save(
        kind="physical", name="限购杯", category_id=mall.cup.category_id, per_member_limit=limit
    )
    return item, catalog.sku_create(item_id=item.pk, points=100, stock_initial=5)


def _taken(member, item):
    row = MemberItemQuota.objects.filter(member_id=member.pk, item_id=item.pk).first()
    return row.taken if row else 0


def test_refund_only_before_shipment_gives_the_quota_back_per_unit(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    item, sku = _limited(mall)
    order = _place(rich, [(sku, 2)], checkout="q1")
    _pay(order, django_capture_on_commit_callbacks)
    assert _taken(rich, item) == 2
    line = order.lines.get()
    _approve(_ask(order, line, 1), operator, django_capture_on_commit_callbacks)
    assert _taken(rich, item) == 1
    _approve(_ask(order, line, 1), operator, django_capture_on_commit_callbacks)
    assert Order.objects.get(pk=order.pk).status == "refunded"
    assert _taken(rich, item) == 0
    again = _place(rich, [(sku, 2)], checkout="q2")  # the limit lets them buy again
    assert (again.status, _taken(rich, item)) == ("pending_payment", 2)


def test_return_refund_gives_the_quota_back_but_refund_only_after_delivery_does_not(
    mall, rich, operator, django_capture_on_commit_callbacks
):
    item, sku = _limited(mall)
    order = _place(rich, [(sku, 2)], checkout="q1")
    _pay(order, django_capture_on_commit_callbacks)
    line = order.lines.get()
    _ship(order, operator)
    kept = _approve(_ask(order, line, 1), operator, django_capture_on_commit_callbacks)
    assert kept.status == "refunded" and _taken(rich, item) == 2  # the member keeps it
    back = _approve(
        _ask(order, line, 1, kind="return_refund"), operator, django_capture_on_commit_callbacks
    )
    services.aftersale_return_shipped(
        aftersale_id=back.pk, member_id=rich.pk, carrier="顺丰", tracking_number="R1000"
    )
    services.aftersale_receive(aftersale_id=back.pk, by=operator)
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_refund(aftersale_id=back.pk, by=operator)
    assert AfterSale.objects.get(pk=back.pk).status == "refunded"
    assert _taken(rich, item) == 1
    # a repeat of the refund gives nothing back twice
    services.aftersale_refund(aftersale_id=back.pk, by=operator)
    assert _taken(rich, item) == 1


# --- N5: after-sale cash refunds record the Refund's status and retry failures --------------


def test_a_refused_cash_refund_is_recorded_failed_and_refund_now_starts_a_new_attempt(
    mall, rich, operator, monkeypatch, django_capture_on_commit_callbacks
):
    from jifen.aftersales.admin import AfterSaleAdmin
    from jifen.payments.providers.base import RefundResult
    from jifen.payments.providers.sandbox import SandboxProvider

    order = _place(rich, [(mall.cup_sku, 2)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    a = _ask(order, order.lines.get(), 1)
    with monkeypatch.context() as patch:
        patch.setattr(
            SandboxProvider,
            "refund",
            lambda self, p, r: RefundResult("failed", message="渠道维护中"),
        )
        a = _approve(a, operator, django_capture_on_commit_callbacks)
    first = Refund.objects.get()
    assert (first.reference, first.status) == (f"aftersale:{a.number}", "failed")
    assert (a.cash_refund_status, a.cash_refund_id, a.cash_refund_error) == (
        "failed",
        first.pk,
        "渠道维护中",
    )
    assert a.cash_refund_pending is True
    column = AfterSaleAdmin(AfterSale, site).cash_refund_state(a)
    assert "退款失败" in column and "渠道维护中" in column
    with django_capture_on_commit_callbacks(execute=True):
        services.aftersale_refund(aftersale_id=a.pk, by=operator)  # "立即退款"
    a.refresh_from_db()
    payment.refresh_from_db()
    second = Refund.objects.exclude(pk=first.pk).get()
    assert (second.reference, second.status, second.amount) == (
        f"aftersale:{a.number}:2",
        "succeeded",
        Decimal("20.00"),
    )
    assert (a.cash_refund_status, a.cash_refund_id, a.cash_refund_attempts) == (
        "succeeded",
        second.pk,
        2,
    )
    assert payment.refunded_amount == Decimal("20.00")
    assert "已退款" in AfterSaleAdmin(AfterSale, site).cash_refund_state(a)
    # once succeeded, "refund now" sends nothing
    services.aftersale_refund(aftersale_id=a.pk, by=operator)
    assert Refund.objects.count() == 2


def test_a_pending_cash_refund_is_settled_from_its_refund_and_failures_retried_by_the_job(
    mall, rich, operator, monkeypatch, django_capture_on_commit_callbacks
):
    """The gateway times out (pending); payments' job later fails it; the after-sales job
    reads that and starts attempt 2, which succeeds."""
    import datetime as dt

    from django.utils import timezone

    from jifen.payments.providers.base import ProviderError, RefundResult
    from jifen.payments.providers.sandbox import SandboxProvider
    from jifen.payments.services import refunds_retry

    order = _place(rich, [(mall.cup_sku, 2)])
    payment = _pay(order, django_capture_on_commit_callbacks)
    a = _ask(order, order.lines.get(), 1)

    def timeout(self, p, r):
        raise ProviderError("gateway timeout")

    with monkeypatch.context() as patch:
        patch.setattr(SandboxProvider, "refund", timeout)
        a = _approve(a, operator, django_capture_on_commit_callbacks)
        assert (a.cash_refund_status, a.cash_refund_pending) == ("pending", False)
        assert a.cash_refund_id == Refund.objects.get().pk
    later = timezone.now() + dt.timedelta(hours=1)
    with monkeypatch.context() as patch:
        patch.setattr(
            SandboxProvider, "refund", lambda self, p, r: RefundResult("failed", message="拒绝")
        )
        Refund.objects.update(submitting_at=None)
        refunds_retry(before=later)
    assert Refund.objects.get().status == "failed"
    assert services.aftersales_cash_refunds_sync(now=timezone.now()) == 0  # too recent
    with django_capture_on_commit_callbacks(execute=True):
        # reads attempt 1's failure, then sends attempt 2
        assert services.aftersales_cash_refunds_sync(now=later) == 1
    a.refresh_from_db()
    payment.refresh_from_db()
    assert (a.cash_refund_status, a.cash_refund_attempts, a.cash_refund_reference) == (
        "succeeded",
        2,
        f"aftersale:{a.number}:2",
    )
    assert payment.refunded_amount == Decimal("20.00")
    assert list(Refund.objects.order_by("pk").values_list("status", flat=True)) == [
        "failed",
        "succeeded",
    ]
    assert services.aftersales_cash_refunds_sync(now=later) == 0


def test_an_unexpected_error_after_the_refund_exists_is_recorded_pending_not_failed(
    mall, rich, operator, monkeypatch, django_capture_on_commit_callbacks
):
    from jifen.payments.providers.sandbox import SandboxProvider

    order = _place(rich, [(mall.cup_sku, 2)])
    _pay(order, django_capture_on_commit_callbacks)
    a = _ask(order, order.lines.get(), 1)

    def boom(self, p, r):
        raise TimeoutError("read timed out")

    with monkeypatch.context() as patch:
        patch.setattr(SandboxProvider, "refund", boom)
        a = _approve(a, operator, django_capture_on_commit_callbacks)
    refund = Refund.objects.get()
    assert (refund.status, a.cash_refund_status, a.cash_refund_id) == (
        "pending",
        "pending",
        refund.pk,
    )


# --- N6: photos one at a time, after the order check ---------------------------------------------


def _png(size, mode="RGBA") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 255) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def test_photos_are_decoded_one_at_a_time_and_only_thumbnails_are_kept():
    blob = _png((4000, 4000))  # 16 Mpx: the cap
    photos = [services._check_photo(blob, f"p{i}.png") for i in range(6)]
    for photo in photos:
        assert set(vars(photo)) == {"content", "extension", "thumbnail"}
        assert photo.content is blob or photo.content == blob
        assert isinstance(photo.thumbnail, bytes) and len(photo.thumbnail) < 20_000
    with pytest.raises(ValidationFailed):
        services._check_photo(_png((4001, 4000), "1"), "big.png")  # over 16 Mpx


def test_photo_memory_stays_near_one_image(rich):
    """Loose: six 16 Mpx RGBA photos (64 MB each decoded) held at once would add ~384 MB;
    one at a time, what stays is far less (no timing asserts)."""

    def rss_mb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) // 1024
        return 0

    blob = _png((4000, 4000))
    before = rss_mb()
    kept = [services._check_photo(blob, f"p{i}.png") for i in range(6)]
    assert len(kept) == 6
    assert rss_mb() - before < 250


def test_the_order_is_checked_before_any_photo_is_decoded(
    mall, rich, monkeypatch, django_capture_on_commit_callbacks
):
    from jifen.orders import services as orders

    order = _place(rich, [(mall.cup_sku, 1)])
    _pay(order, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_cancel(order_id=order.pk, member_id=rich.pk)
    decoded = []
    monkeypatch.setattr(services, "_check_photo", lambda c, n: decoded.append(n))
    with pytest.raises(Conflict) as error:
        services.aftersale_request(
            member_id=rich.pk,
            order_number=order.number,
            kind="refund_only",
            lines=[{"order_line": order.lines.get().pk, "quantity": 1}],
            reason="other",
            photos=[(b"x" * 10, f"p{i}.png") for i in range(6)],
        )
    assert error.value.code == "order_not_eligible"
    assert decoded == [] and not AfterSale.objects.exists()
