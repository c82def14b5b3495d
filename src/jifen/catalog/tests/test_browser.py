"""The mall in a real browser (Debian's Chromium, Playwright): home → search → item.

Screenshots at phone (390×844) and desktop (1280×800) widths go to var/screenshots/mall-*.png.
Uploaded pictures live in a temporary MEDIA_ROOT, served to the page by a Playwright route.
"""

import mimetypes
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=10_000)


def shoot(page, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=width == "desktop")


def session_context(browser, live_server, user, width, media_root: Path):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=VIEWPORTS[width], locale="zh-CN")
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    def serve_media(route):
        path = media_root / route.request.url.split("/media/", 1)[1]
        if not path.is_file():
            return route.fulfill(status=404)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return route.fulfill(status=200, body=path.read_bytes(), content_type=kind)

    context.route("**/media/**", serve_media)
    return context


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_search_then_item(browser, live_server, make_member, media, width):
    from jifen.catalog.demo import catalog_demo_load
    from jifen.ledger.services import points_earn

    catalog_demo_load()
    member = make_member(name="王小明")
    points_earn(member_id=member.pk, points=5600, source="test", reference="browser:1")

    context = session_context(browser, live_server, member, width, Path(media))
    page = context.new_page()
    page.goto(live_server.url + "/mall/")
    expect(page.get_by_test_id("mall-balance")).to_contain_text("5,600")
    expect(page.get_by_test_id("banner").first).to_be_visible()
    assert page.locator(".mall-banner-img").first.evaluate("img => img.naturalWidth") > 0
    expect(page.get_by_test_id("affordable").get_by_test_id("item-card").first).to_be_visible()
    shoot(page, "mall-home", width)

    # Search in Chinese, then narrow by a partial English word through htmx.
    page.get_by_placeholder("搜索商品、品牌或分类").fill("耳机")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/mall/search?q=*")
    expect(page.get_by_test_id("result-count")).to_contain_text("共 3 件商品")
    page.get_by_placeholder("搜索商品、品牌或分类").fill("coff")  # 咖啡茶饮 is "Coffee & tea"
    expect(page.get_by_test_id("result-count")).to_contain_text("共 5 件商品")
    expect(page.locator("#mall-results")).to_contain_text("星巴克咖啡券")
    expect(page.locator("#mall-results")).to_contain_text("奶茶 10 元代金券")
    assert "q=coff" in page.url
    # Sorting chips swap the results only.
    page.get_by_placeholder("搜索商品、品牌或分类").fill("")
    page.get_by_role("button", name="搜索").click()
    expect(page.get_by_test_id("result-count")).to_contain_text("共 28 件商品")
    page.get_by_role("link", name="积分从低到高").click()
    expect(page.get_by_role("link", name="积分从低到高")).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("item-card").first).to_contain_text("奶茶 10 元代金券")
    assert "sort=points_asc" in page.url
    shoot(page, "mall-search", width)

    # The item: gallery, spec picker, struck-through market price, disabled redeem.
    page.get_by_placeholder("搜索商品、品牌或分类").fill("手环")
    expect(page.get_by_test_id("result-count")).to_contain_text("共 1 件商品")
    page.get_by_test_id("item-card").first.click()
    page.wait_for_url("**/mall/items/*/")
    expect(page.locator("h1")).to_have_text("智能手环")
    expect(page.get_by_test_id("market-price")).to_contain_text("¥249.00")
    expect(page.locator(".mall-price [data-price-points]")).to_have_text("4,200")
    expect(page.locator(".mall-price [data-cash-value]")).to_have_text("¥19.90")
    expect(page.get_by_test_id("redeem")).to_have_text("立即兑换")
    expect(page.get_by_test_id("add-to-cart")).to_be_enabled()
    # The first SKU (石墨黑 / 硅胶) sold 5 of its 15 units in the demo; 樱花粉 / 硅胶 sold none.
    expect(page.locator(".mall-stock [data-stock]")).to_have_text("10")
    first_sku = page.locator("[data-sku-picker]").get_attribute("data-sku-id")
    page.locator(".mall-spec-value", has_text="樱花粉").click()
    expect(page.locator(".mall-spec-value", has_text="樱花粉").locator("input")).to_be_checked()
    expect(page.locator(".mall-stock [data-stock]")).to_have_text("15")
    assert page.locator("[data-sku-picker]").get_attribute("data-sku-id") != first_sku
    assert page.locator(".mall-gallery-track img").first.evaluate("img => img.naturalWidth") > 0
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "mall-item", width)

    # A tier-exclusive item shows its badge to a member of that tier.
    from jifen.catalog.models import Item
    from jifen.tiers.models import Level, MemberTier

    MemberTier.objects.create(member=member, level=Level.objects.get(rank=2), since="2026-01-01")
    massage = Item.objects.get(name="肩颈按摩预约券")
    page.goto(f"{live_server.url}/mall/items/{massage.pk}/")
    expect(page.get_by_test_id("tier-badge")).to_contain_text("及以上专享")
    expect(page.get_by_test_id("limits")).to_have_count(0)
    shoot(page, "mall-item-tier", width)

    # Filters open on a phone too: category (with its children) and "affordable".
    page.goto(live_server.url + "/mall/search?affordable=on&sort=points_desc")
    expect(page.get_by_test_id("result-count")).to_contain_text("件商品")
    first_points = page.get_by_test_id("item-card").first.locator(".mall-card-price strong")
    assert int(first_points.inner_text().replace(",", "")) <= 5600
    shoot(page, "mall-search-affordable", width)
    context.close()


def test_backoffice_stock(browser, live_server, make_member, media):
    from jifen.catalog.demo import catalog_demo_load
    from jifen.catalog.models import Item, Sku, StockMovement

    catalog_demo_load()
    boss = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(boss).objects.filter(pk=boss.pk).update(is_superuser=True)
    context = session_context(browser, live_server, boss, "desktop", Path(media))
    page = context.new_page()

    page.goto(live_server.url + "/admin/catalog/item/")
    expect(page.locator("#result_list")).to_contain_text("无线蓝牙耳机")
    shoot(page, "mall-backoffice-items", "desktop")
    band = Item.objects.get(name="智能手环")
    page.goto(f"{live_server.url}/admin/catalog/item/{band.pk}/change/")
    shoot(page, "mall-backoffice-item", "desktop")
    page.goto(live_server.url + "/admin/catalog/category/")
    shoot(page, "mall-backoffice-categories", "desktop")

    page.goto(live_server.url + "/admin/catalog/sku/?stock=low")
    expect(page.locator("#result_list")).to_contain_text("手工曲奇")
    shoot(page, "mall-backoffice-low-stock", "desktop")
    cookies = Sku.objects.get(item__name="手工曲奇")
    page.goto(f"{live_server.url}/admin/catalog/sku/{cookies.pk}/change/")
    page.get_by_role("link", name="调整库存").click()
    page.get_by_label("数量").fill("20")
    page.get_by_label("原因").fill("供应商到货")
    shoot(page, "mall-backoffice-adjust", "desktop")
    page.get_by_role("button", name="确认调整").click()
    expect(page.locator("body")).to_contain_text("库存已调整 +20")
    movement = StockMovement.objects.filter(sku=cookies).order_by("-pk").first()
    assert (movement.kind, movement.quantity, movement.reason) == ("received", 20, "供应商到货")
    page.goto(live_server.url + "/admin/catalog/stockmovement/")
    shoot(page, "mall-backoffice-movements", "desktop")
    context.close()
