import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from jifen.catalog import services as catalog_services


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


class Goods:
    """One item of each voucher fulfilment: card codes, a link, a coupon, a service."""


@pytest.fixture
def goods(db):
    g = Goods()
    category = catalog_services.category_save(name="卡券", name_en="Vouchers")
    g.card = catalog_services.item_save(
        kind="virtual",
        fulfilment="code",
        name="视频会员月卡",
        name_en="Video pass",
        category_id=category.pk,
    )
    g.card_sku = catalog_services.sku_create(item_id=g.card.pk, points=1800, stock_initial=0)
    g.ebook = catalog_services.item_save(
        kind="virtual",
        fulfilment="link",
        link_url="https://books.example.com/redeem",
        name="电子书月卡",
        category_id=category.pk,
    )
    g.ebook_sku = catalog_services.sku_create(item_id=g.ebook.pk, points=300, stock_initial=10)
    g.coupon = catalog_services.item_save(
        kind="coupon",
        name="全场 50 元优惠券",
        category_id=category.pk,
        coupon_value=Decimal("50.00"),
        coupon_threshold=Decimal("299.00"),
        valid_days=30,
    )
    g.coupon_sku = catalog_services.sku_create(item_id=g.coupon.pk, points=1000, stock_initial=10)
    g.massage = catalog_services.item_save(
        kind="service", name="肩颈按摩预约券", category_id=category.pk, valid_days=90
    )
    g.massage_sku = catalog_services.sku_create(item_id=g.massage.pk, points=6800, stock_initial=5)
    g.earbuds = catalog_services.item_save(
        kind="physical", name="无线蓝牙耳机", category_id=category.pk
    )
    g.earbuds_sku = catalog_services.sku_create(item_id=g.earbuds.pk, points=5000, stock_initial=3)
    return g


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)
