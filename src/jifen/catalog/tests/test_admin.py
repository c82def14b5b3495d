import pytest
from django.test import Client

from jifen.catalog import services
from jifen.catalog.admin import low_stock_badge
from jifen.catalog.models import Category, Item, Sku, StockMovement
from jifen.catalog.tests.helpers import counters, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def test_pages_load(catalog, boss):
    sku = catalog.coupon_sku
    services.stock_reserve(sku_id=sku.pk, quantity=1, reference="adm")
    for path in (
        "/admin/catalog/item/",
        f"/admin/catalog/item/{catalog.earbuds.pk}/change/",
        "/admin/catalog/item/add/",
        "/admin/catalog/category/",
        f"/admin/catalog/category/{catalog.audio.pk}/change/",
        "/admin/catalog/sku/",
        "/admin/catalog/sku/?stock=low",
        f"/admin/catalog/sku/{sku.pk}/change/",
        "/admin/catalog/stockmovement/",
        "/admin/catalog/stockreservation/",
        "/admin/catalog/lowstockalert/?open=yes",
    ):
        response = boss.get(path)
        assert response.status_code == 200, path


def test_category_tree_order(catalog, boss):
    page = boss.get("/admin/catalog/category/").content.decode()
    assert page.index("数码") < page.index("└ 耳机") < page.index("生活") < page.index("└ 咖啡")


def test_adjust_stock_action_goes_through_the_service(catalog, boss):
    sku = catalog.coupon_sku
    response = boss.post(
        f"/admin/catalog/sku/{sku.pk}/adjust_stock/",
        {"delta": "-3", "kind": "adjusted", "reason": "破损", "_form_submitted": "on"},
    )
    assert response.status_code == 302
    assert counters(sku) == stock(sku, stock_initial=100, adjusted=-3, remaining=97)
    movement = StockMovement.objects.get(kind="adjusted")
    assert (movement.quantity, movement.reason, movement.created_by_id) == (
        -3,
        "破损",
        boss.user.pk,
    )


def test_adjusting_below_zero_changes_nothing(catalog, boss):
    sku = catalog.coupon_sku
    boss.post(
        f"/admin/catalog/sku/{sku.pk}/adjust_stock/",
        {"delta": "-101", "kind": "adjusted", "reason": "x", "_form_submitted": "on"},
    )
    assert counters(sku)["remaining"] == 100
    assert not StockMovement.objects.filter(kind="adjusted").exists()


def _management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_add_an_item_with_a_sku(catalog, boss):
    data = {
        "kind": "physical",
        "fulfilment": "shipping",
        "name": "帆布袋",
        "name_en": "Canvas tote",
        "category": str(catalog.life.pk),
        "tag_names": "环保，新品",
        "min_tier_rank": "0",
        "sort_order": "0",
        "is_active": "on",
        **_management("skus", total=1),
        "skus-0-points": "700",
        "skus-0-cash": "0",
        "skus-0-stock_initial": "30",
        "skus-0-low_stock_threshold": "5",
        "skus-0-sort_order": "0",
        "skus-0-is_active": "on",
        "skus-0-options": "{}",
        **_management("specs"),
        **_management("images"),
    }
    response = boss.post("/admin/catalog/item/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    item = Item.objects.get(name="帆布袋")
    assert sorted(t.name for t in item.tags.all()) == ["新品", "环保"]
    assert "canvas tote" in item.search_text
    sku = Sku.objects.get(item=item)
    assert counters(sku) == stock(sku, stock_initial=30, remaining=30)
    assert StockMovement.objects.filter(sku=sku, kind="initial").get().quantity == 30


def test_item_form_shows_service_errors(catalog, boss):
    response = boss.post(
        "/admin/catalog/item/add/",
        {
            "kind": "physical",
            "fulfilment": "code",
            "name": "错配",
            "category": str(catalog.life.pk),
            "min_tier_rank": "0",
            "sort_order": "0",
            **_management("skus"),
            **_management("specs"),
            **_management("images"),
        },
    )
    assert response.status_code == 200
    assert "该类型商品不能使用这种发放方式" in response.content.decode()
    assert not Item.objects.filter(name="错配").exists()


def test_category_cannot_move_under_its_child(catalog, boss):
    response = boss.post(
        f"/admin/catalog/category/{catalog.digital.pk}/change/",
        {"name": "数码", "parent": str(catalog.audio.pk), "sort_order": "1", "is_active": "on"},
    )
    assert response.status_code == 200
    assert Category.objects.get(pk=catalog.digital.pk).parent_id is None


def test_low_stock_badge(catalog):
    assert low_stock_badge(None) is None
    services.sku_update(sku_id=catalog.massage_sku.pk, points=12000, low_stock_threshold=5)
    assert low_stock_badge(None) == "1"
