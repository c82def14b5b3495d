import io
import itertools
from decimal import Decimal

import pytest
from django.core.cache import cache
from PIL import Image

from jifen.catalog import services as catalog

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def goods(db):
    """Two physical items: earbuds (two SKUs) and a cup."""
    category = catalog.category_save(name="数码", name_en="Digital")
    earbuds = catalog.item_save(kind="physical", name="无线蓝牙耳机", category_id=category.pk)
    catalog.item_specs_set(item_id=earbuds.pk, specs=[("颜色", ["白色", "黑色"])])
    white, black = catalog.item_skus_generate(item_id=earbuds.pk, points=5000, stock_each=10)
    cup = catalog.item_save(kind="physical", name="保温杯", category_id=category.pk)
    cup_sku = catalog.sku_create(item_id=cup.pk, points=800, stock_initial=10)
    return {"earbuds": earbuds, "white": white, "black": black, "cup": cup, "cup_sku": cup_sku}


@pytest.fixture
def make_order(goods):
    """An order made with the ORM (the checkout is another app's): `status`, and a line for
    each SKU given. Returns the order; its lines are `order.lines.all()`."""
    from jifen.orders.models import Order, OrderLine

    def make(member, *, status="delivered", skus=None):
        n = next(_numbers)
        order = Order.objects.create(
            number=f"J26010100{n:05d}",
            member=member,
            status=status,
            points_subtotal=5800,
            points_total=5800,
            needs_shipping=True,
        )
        for k, sku in enumerate(skus or [goods["white"], goods["cup_sku"]]):
            OrderLine.objects.create(
                order=order,
                item_id=sku.item_id,
                sku=sku,
                quantity=1,
                unit_points=sku.points,
                unit_cash=Decimal("0"),
                points_paid=sku.points,
                item_name=sku.item.name,
                sku_label=sku.label,
                kind="physical",
                fulfilment="shipping",
                stock_reference=f"order:{order.number}:{k + 1}",
            )
        return order

    return make


def png(size=(64, 48), colour=(200, 60, 40), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()
