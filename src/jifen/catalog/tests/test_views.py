import pytest
from django.db.models import Sum

from jifen.ledger.services import points_earn

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(catalog, client):
    for path in ("/mall/", "/mall/search", f"/mall/items/{catalog.coupon.pk}/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_mall_home(catalog, member, logged_in):
    points_earn(member_id=member.pk, points=1000, source="test", reference="t:v1")
    page = logged_in(member).get("/mall/").content.decode()
    assert "1,000" in page
    assert 'data-testid="banner"' in page and "无线蓝牙耳机" in page
    assert 'data-testid="affordable"' in page
    assert "星巴克咖啡券" in page
    assert "数码" in page and "生活" in page


def test_search_page_and_htmx_partial(catalog, member, logged_in):
    client = logged_in(member)
    page = client.get("/mall/search", {"q": "coffee"}).content.decode()
    assert '<div id="mall-results"' in page
    assert "星巴克咖啡券" in page and "无线蓝牙耳机" not in page
    assert "共 1 件商品" in page

    partial = client.get(
        "/mall/search", {"q": "蓝牙"}, headers={"HX-Request": "true", "HX-Target": "mall-results"}
    ).content.decode()
    assert "<html" not in partial
    assert "无线蓝牙耳机" in partial


def test_search_page_bad_input_is_a_form_error(catalog, member, logged_in):
    response = logged_in(member).get("/mall/search", {"points_min": "abc", "page": "-3"})
    assert response.status_code == 200
    assert 'data-testid="search-errors"' in response.content.decode()
    response = logged_in(member).get("/mall/search", {"points_min": 10, "points_max": 2})
    assert "最高积分不能低于最低积分" in response.content.decode()


def test_item_page(catalog, member, logged_in):
    page = logged_in(member).get(f"/mall/items/{catalog.earbuds.pk}/").content.decode()
    assert "无线蓝牙耳机" in page
    assert "¥9.90" in page and "¥299.00" in page
    assert "每单限兑 2 件" in page and "每人限兑 5 件" in page
    assert "加入购物车" in page and "立即兑换" in page and "data-redeem-form" in page
    assert 'id="sku-data"' in page
    assert 'data-spec="颜色"' in page
    assert f'name="target" value="item:{catalog.earbuds.pk}"' in page  # the share box


def test_sharing_an_item_from_its_page_earns_once_a_day(catalog, member, logged_in):
    from jifen.engagement.models import Share
    from jifen.ledger.services import balances_of

    client = logged_in(member)
    before = balances_of(member.pk)["available"]
    data = {"target": f"item:{catalog.earbuds.pk}", "channel": "wechat", "next": "/mall/"}
    client.post("/engage/share/", data)
    client.post("/engage/share/", data)
    assert Share.objects.filter(member=member).count() == 2
    gained = balances_of(member.pk)["available"] - before
    assert gained == Share.objects.filter(member=member).aggregate(s=Sum("points"))["s"] == 5
    assert Share.objects.filter(member=member, points__gt=0).count() == 1


def test_item_page_404s(catalog, member, logged_in):
    client = logged_in(member)
    for item_id in (catalog.massage.pk, catalog.later.pk, 999_999, 2**70):
        assert client.get(f"/mall/items/{item_id}/").status_code == 404
