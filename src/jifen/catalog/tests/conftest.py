import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from jifen.catalog import services


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


class Catalog:
    """A small mall: 数码 > 耳机, 生活 > 咖啡; five items of every kind."""


@pytest.fixture
def catalog(db):
    c = Catalog()
    c.digital = services.category_save(name="数码", name_en="Digital", sort_order=1)
    c.audio = services.category_save(name="耳机", name_en="Headphones", parent_id=c.digital.pk)
    c.life = services.category_save(name="生活", name_en="Lifestyle", sort_order=2)
    c.coffee = services.category_save(name="咖啡", name_en="Coffee", parent_id=c.life.pk)

    c.earbuds = services.item_save(
        kind="physical",
        name="无线蓝牙耳机",
        name_en="Wireless Bluetooth Earbuds",
        subtitle="降噪 长续航",
        category_id=c.audio.pk,
        market_price=Decimal("299.00"),
        per_order_limit=2,
        per_member_limit=5,
        is_featured=True,
        tag_names=["热门", "新品"],
    )
    services.item_specs_set(item_id=c.earbuds.pk, specs=[("颜色", ["白色", "黑色"])])
    c.earbuds_white, c.earbuds_black = services.item_skus_generate(
        item_id=c.earbuds.pk, points=5000, cash=Decimal("9.90"), stock_each=10
    )
    c.coupon = services.item_save(
        kind="coupon",
        name="星巴克咖啡券",
        name_en="Starbucks coffee voucher",
        category_id=c.coffee.pk,
        coupon_value=Decimal("30.00"),
        coupon_threshold=Decimal("0"),
        valid_days=30,
        tag_names=["热门"],
    )
    c.coupon_sku = services.sku_create(item_id=c.coupon.pk, points=800, stock_initial=100)
    c.ebook = services.item_save(
        kind="virtual",
        fulfilment="link",
        link_url="https://books.example.com/redeem",
        name="电子书月卡",
        name_en="E-book monthly pass",
        category_id=c.life.pk,
    )
    c.ebook_sku = services.sku_create(item_id=c.ebook.pk, points=300, stock_initial=0)
    c.massage = services.item_save(
        kind="service",
        name="肩颈按摩预约券",
        name_en="Shoulder massage booking",
        category_id=c.life.pk,
        valid_days=90,
        min_tier_rank=2,
    )
    c.massage_sku = services.sku_create(item_id=c.massage.pk, points=12000, stock_initial=5)
    c.later = services.item_save(
        kind="physical",
        name="保温杯",
        name_en="Thermos cup",
        category_id=c.life.pk,
        on_shelf_at=timezone.now() + dt.timedelta(days=3),
    )
    c.later_sku = services.sku_create(item_id=c.later.pk, points=1000, stock_initial=5)
    return c
