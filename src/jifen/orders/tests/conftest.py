import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from jifen.catalog import services as catalog_services
from jifen.ledger.services import points_earn
from jifen.members.services import address_create


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_levels(default_levels):
    """The tier levels exist in every test here (checkout reads the member's level)."""


@pytest.fixture(autouse=True)
def _shipping(settings):
    settings.JIFEN_SHIPPING_FEE = "10.00"
    settings.JIFEN_FREE_SHIPPING_OVER = "99.00"
    settings.JIFEN_ORDER_PAYMENT_MINUTES = 30


class Mall:
    """Earbuds (physical, 5000 pts + ¥9.90, 10 each colour, per order 2, per member 5),
    a mug (physical, points only, 300 pts, 3 units), an e-book link (virtual, 300 pts)."""


@pytest.fixture
def mall(db):
    m = Mall()
    m.category = catalog_services.category_save(name="生活")
    m.earbuds = catalog_services.item_save(
        kind="physical",
        name="无线蓝牙耳机",
        category_id=m.category.pk,
        per_order_limit=2,
        per_member_limit=5,
    )
    catalog_services.item_specs_set(item_id=m.earbuds.pk, specs=[("颜色", ["白色", "黑色"])])
    m.white, m.black = catalog_services.item_skus_generate(
        item_id=m.earbuds.pk, points=5000, cash=Decimal("9.90"), stock_each=10
    )
    m.mug = catalog_services.item_save(kind="physical", name="马克杯", category_id=m.category.pk)
    m.mug_sku = catalog_services.sku_create(item_id=m.mug.pk, points=300, stock_initial=3)
    m.ebook = catalog_services.item_save(
        kind="virtual",
        fulfilment="link",
        link_url="https://books.example.com/redeem",
        name="电子书月卡",
        category_id=m.category.pk,
    )
    m.ebook_sku = catalog_services.sku_create(item_id=m.ebook.pk, points=300, stock_initial=50)
    return m


@pytest.fixture
def rich(member):
    """The member with 20,000 points expiring at 2030-06-30 and an address."""
    points_earn(
        member_id=member.pk,
        points=20000,
        source="test",
        reference=f"rich:{member.pk}",
        expires_on=dt.date(2030, 6, 30),
    )
    member.address = address_create(
        member=member,
        data={
            "recipient": "张三",
            "phone": "13800138000",
            "province": "上海市",
            "city": "上海市",
            "district": "浦东新区",
            "detail": "世纪大道 100 号",
            "is_default": True,
        },
    )
    return member


@pytest.fixture(autouse=True)
def _eager_tasks(eager_tasks):
    """Tasks (callbacks, refunds, alerts) run inline here."""
