import pytest
from django.test import Client

from jifen.catalog import services
from jifen.catalog.models import StockMovement
from jifen.ledger.services import points_earn

pytestmark = pytest.mark.django_db


def test_item_list_shape(catalog, media):
    services.item_image_add(item_id=catalog.coupon.pk, content=_png())
    response = Client().get("/api/v1/items", {"q": "咖啡"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["image"].startswith("http://testserver/media/catalog/")
    assert item["thumbnail"].endswith("-thumb.jpg")
    del item["image"], item["thumbnail"]
    assert item == {
        "id": catalog.coupon.pk,
        "name": "星巴克咖啡券",
        "name_en": "Starbucks coffee voucher",
        "subtitle": "",
        "kind": "coupon",
        "fulfilment": "coupon",
        "category": {"id": catalog.coffee.pk, "name": "咖啡"},
        "points": 800,
        "cash": "0.00",
        "currency": "CNY",
        "market_price": None,
        "stock": 100,
        "in_stock": True,
        "is_featured": False,
        "min_tier_rank": 0,
        "redemptions_count": 0,
    }


def test_item_detail_lists_skus(catalog):
    body = Client().get(f"/api/v1/items/{catalog.earbuds.pk}").json()
    assert body["skus"] == [
        {
            "id": catalog.earbuds_white.pk,
            "code": catalog.earbuds_white.code,
            "options": {"颜色": "白色"},
            "points": 5000,
            "cash": "9.90",
            "currency": "CNY",
            "stock": 10,
        },
        {
            "id": catalog.earbuds_black.pk,
            "code": catalog.earbuds_black.code,
            "options": {"颜色": "黑色"},
            "points": 5000,
            "cash": "9.90",
            "currency": "CNY",
            "stock": 10,
        },
    ]
    assert body["specs"] == [{"name": "颜色", "values": ["白色", "黑色"]}]
    assert (body["points"], body["cash"], body["market_price"]) == (5000, "9.90", "299.00")
    assert (body["per_order_limit"], body["per_member_limit"], body["coupon"]) == (2, 5, None)
    assert sorted(body["tags"]) == ["新品", "热门"]


def test_coupon_detail(catalog):
    body = Client().get(f"/api/v1/items/{catalog.coupon.pk}").json()
    assert body["coupon"] == {"value": "30.00", "threshold": "0.00", "valid_days": 30}


def test_filters_sorting_and_pages(catalog):
    client = Client()
    body = client.get("/api/v1/items", {"sort": "points_asc", "page_size": 2}).json()
    assert ([i["name"] for i in body["items"]], body["count"]) == (
        ["电子书月卡", "星巴克咖啡券"],
        3,
    )
    body = client.get("/api/v1/items", {"sort": "points_asc", "page_size": 2, "page": 2}).json()
    assert [i["name"] for i in body["items"]] == ["无线蓝牙耳机"]
    body = client.get("/api/v1/items", {"category": catalog.digital.pk, "in_stock": "true"}).json()
    assert [i["name"] for i in body["items"]] == ["无线蓝牙耳机"]
    body = client.get("/api/v1/items", {"kind": "virtual"}).json()
    assert [i["name"] for i in body["items"]] == ["电子书月卡"]


def test_affordable_needs_a_member(catalog, member, bearer):
    response = Client().get("/api/v1/items", {"affordable": "true"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthenticated")
    points_earn(member_id=member.pk, points=500, source="test", reference="t:api")
    body = bearer(member).get("/api/v1/items", {"affordable": "true"}).json()
    assert [i["name"] for i in body["items"]] == ["电子书月卡"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"page_size": 0}, 422, "validation_error"),
        ({"page_size": 101}, 422, "validation_error"),
        ({"page": -1}, 422, "validation_error"),
        ({"points_min": "abc"}, 422, "validation_error"),
        ({"points_min": -5}, 422, "validation_error"),
        ({"points_min": 10, "points_max": 5}, 422, "invalid_points_range"),
        ({"sort": "cheap"}, 422, "validation_error"),
        ({"kind": "gift"}, 422, "validation_error"),
        ({"category": "1.5"}, 422, "validation_error"),
        ({"category": 10**30}, 422, "validation_error"),
        ({"q": "x" * 101}, 422, "validation_error"),
        ({"q": "a\x00b"}, 422, "invalid_query"),
    ],
)
def test_bad_list_input(catalog, params, status, code):
    response = Client().get("/api/v1/items", params)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("path", ["999999", "0", "-1", "abc", "99999999999999999999999"])
def test_unknown_items_are_404_or_422(catalog, path):
    response = Client().get(f"/api/v1/items/{path}")
    assert response.status_code in (404, 422)
    assert "error" in response.json()
    assert response.json()["error"]["code"] in ("item_not_found", "not_found", "validation_error")


def test_items_above_the_tier_or_off_the_shelf_are_404(catalog):
    for item in (catalog.massage, catalog.later):
        response = Client().get(f"/api/v1/items/{item.pk}")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "item_not_found")


def test_categories(catalog):
    body = Client().get("/api/v1/categories").json()
    assert body == {
        "items": [
            {
                "id": catalog.digital.pk,
                "name": "数码",
                "name_en": "Digital",
                "icon": "",
                "children": [
                    {
                        "id": catalog.audio.pk,
                        "name": "耳机",
                        "name_en": "Headphones",
                        "icon": "",
                        "children": [],
                    }
                ],
            },
            {
                "id": catalog.life.pk,
                "name": "生活",
                "name_en": "Lifestyle",
                "icon": "",
                "children": [
                    {
                        "id": catalog.coffee.pk,
                        "name": "咖啡",
                        "name_en": "Coffee",
                        "icon": "",
                        "children": [],
                    }
                ],
            },
        ],
        "count": 2,
    }


def test_reads_change_nothing(catalog):
    before = StockMovement.objects.count()
    Client().get("/api/v1/items")
    assert StockMovement.objects.count() == before


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()
