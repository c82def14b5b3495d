"""After-sales fixtures: a small shop, paid orders built the way checkout builds them (points
held then captured, stock reserved then sold), and stand-ins for the payment provider and the
voucher store at the after-sales app's two seams."""

import datetime as dt
import itertools
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.utils import timezone

from jifen.aftersales import services
from jifen.catalog import services as catalog
from jifen.ledger import services as ledger
from jifen.orders.models import Order, OrderLine

_numbers = itertools.count(1)
D = dt.date


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_levels(default_levels):
    """The tier levels exist in every test here (checkout reads the member's level)."""


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def shop(db):
    s = SimpleNamespace()
    category = catalog.category_save(name="数码", name_en="Digital")
    s.mug = catalog.item_save(kind="physical", name="马克杯", category_id=category.pk)
    s.mug_sku = catalog.sku_create(
        item_id=s.mug.pk, points=500, cash=Decimal("9.90"), stock_initial=10
    )
    s.card = catalog.item_save(
        kind="virtual",
        fulfilment="link",
        link_url="https://books.example.com/redeem",
        name="电子书月卡",
        category_id=category.pk,
    )
    s.card_sku = catalog.sku_create(item_id=s.card.pk, points=300, stock_initial=10)
    return s


def earn(member, points, reference, expires_on):
    return ledger.points_earn(
        member_id=member.pk,
        points=points,
        source="test",
        reference=reference,
        expires_on=expires_on,
    )


@pytest.fixture
def make_order():
    """A paid order of `lines` [(sku, quantity)], then moved to `status` by the ORM with its
    timestamps (orders' own services are tested in the orders app)."""

    def make(member, lines, *, status="delivered", shipping_fee=Decimal("0"), days_ago=1):
        n = next(_numbers)
        number = f"J{timezone.localdate():%y%m%d}{n:07d}"
        now = timezone.now()
        points = sum(sku.points * q for sku, q in lines)
        cash_sub = sum((sku.cash * q for sku, q in lines), Decimal("0"))
        physical = any(sku.item.fulfilment == "shipping" for sku, _q in lines)
        order = Order.objects.create(
            number=number,
            member=member,
            points_subtotal=points,
            points_total=points,
            cash_subtotal=cash_sub,
            shipping_fee=shipping_fee,
            cash_total=cash_sub + shipping_fee,
            needs_shipping=physical,
        )
        made = []
        for i, (sku, quantity) in enumerate(lines, start=1):
            made.append(
                OrderLine.objects.create(
                    order=order,
                    item=sku.item,
                    sku=sku,
                    quantity=quantity,
                    unit_points=sku.points,
                    unit_cash=sku.cash,
                    points_paid=sku.points * quantity,
                    cash_paid=sku.cash * quantity,
                    item_name=sku.item.name,
                    sku_label=sku.label,
                    kind=sku.item.kind,
                    fulfilment=sku.item.fulfilment,
                    stock_reference=f"order:{number}:{i}",
                )
            )
        catalog.stock_reserve_lines(
            lines=[(line.sku_id, line.quantity, line.stock_reference) for line in made]
        )
        hold = ledger.points_hold(member_id=member.pk, points=points, reference=f"order:{number}")
        ledger.points_hold_capture(hold_id=hold.pk, reference=f"order:{number}:capture")
        for line in made:
            catalog.stock_commit(reference=line.stock_reference)
        stamps = {"paid_at": now - dt.timedelta(days=days_ago + 2)}
        if status in ("shipped", "delivered", "completed"):
            stamps["shipped_at"] = now - dt.timedelta(days=days_ago + 1)
        if status in ("delivered", "completed"):
            stamps["delivered_at"] = now - dt.timedelta(days=days_ago)
        if status == "completed":
            stamps["completed_at"] = now - dt.timedelta(days=days_ago)
        Order.objects.filter(pk=order.pk).update(status=status, hold=hold, **stamps)
        order.refresh_from_db()
        return order

    return make


class FakeProvider:
    """payments at the seam: one refund per reference, never more than was paid."""

    def __init__(self):
        self.refunds: dict[str, SimpleNamespace] = {}
        self.calls: list[tuple] = []
        self.fail_with = None

    def __call__(self, *, order_number, amount, reference, reason):
        self.calls.append((order_number, amount, reference))
        if self.fail_with is not None:
            raise self.fail_with
        if reference not in self.refunds:
            self.refunds[reference] = SimpleNamespace(
                pk=len(self.refunds) + 1,
                amount=amount,
                order=order_number,
                status="succeeded",
                failure="",
                finished_at=None,
            )
        return self.refunds[reference]


@pytest.fixture
def provider(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr(services, "_payment_refund", fake)
    return fake


class FakeVouchers:
    def __init__(self):
        self.unused: dict[str, int] = {}
        self.revoked: list[tuple[str, int]] = []

    def __call__(self, *, reference, quantity, reason):
        n = min(quantity, self.unused.get(reference, quantity))
        self.revoked.append((reference, n))
        return n


@pytest.fixture
def vouchers(monkeypatch):
    fake = FakeVouchers()
    monkeypatch.setattr(services, "_vouchers_revoke", fake)
    return fake
