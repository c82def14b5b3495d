"""The member's mall journey in a real browser (Debian's Chromium, Playwright):

search → item → pick a SKU → 加入购物车 → cart (change the quantity) → checkout (address
preselected, totals with the tier discount and the shipping fee) → place the order → the
sandbox gateway → 确认支付 → the order detail (待发货, its timeline); then 立即兑换 of a
points-only card → completed at once → its code under 我的卡券.

Exact values are asserted at each step (balance, stock, status). Screenshots at phone
(390×844) and desktop (1280×900) widths go to var/screenshots/mall-*.png.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from jifen.catalog import services as catalog_services
from jifen.catalog.models import Sku
from jifen.ledger.services import points_earn
from jifen.members.services import address_create
from jifen.orders.models import CartLine, Order
from jifen.orders.tests.helpers import balance, stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=10_000)


def shoot(page, name: str, width: str) -> None:
    """The whole page. A full-page capture would paint the fixed header and tab bar where the
    window happens to be, so the window grows to the page's height for the shot instead."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"mall-{name}-{width}.png"))
    page.set_viewport_size(size)


def session_context(browser, live_server, user, width):
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
    return context


@pytest.fixture
def shop(make_member, operator):
    """A silver member (9.5 折 on points, no free shipping) with 20,000 points and a default
    address; earbuds (physical, two colours, 800 points + ¥9.90, 10 each) and a video pass
    (virtual, points only, 1,800 points, two pool codes)."""
    from jifen.tiers.services import tier_set
    from jifen.vouchers.services import code_pool_import

    member = make_member(name="王小明")
    points_earn(
        member_id=member.pk,
        points=20000,
        source="test",
        reference="browser:rich",
        expires_on=dt.date(2030, 6, 30),
    )
    address_create(
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
    tier_set(member_id=member.pk, level_code="silver", reason="测试", changed_by_id=operator.pk)
    category = catalog_services.category_save(name="数码")
    earbuds = catalog_services.item_save(
        kind="physical", name="无线蓝牙耳机", category_id=category.pk
    )
    catalog_services.item_specs_set(item_id=earbuds.pk, specs=[("颜色", ["白色", "黑色"])])
    white, black = catalog_services.item_skus_generate(
        item_id=earbuds.pk, points=800, cash=Decimal("9.90"), stock_each=10
    )
    card = catalog_services.item_save(
        kind="virtual", fulfilment="code", name="视频会员月卡", category_id=category.pk
    )
    card_sku = catalog_services.sku_create(item_id=card.pk, points=1800, stock_initial=0)
    code_pool_import(sku_id=card_sku.pk, text="VIDEO-8F3K-2QXM\nVIDEO-9A7B-4RTY\n")
    return type(
        "Shop",
        (),
        {
            "member": member,
            "earbuds": earbuds,
            "white": white,
            "black": black,
            "card": card,
            "card_sku": card_sku,
        },
    )


def text(page, test_id: str) -> str:
    return " ".join(page.get_by_test_id(test_id).first.inner_text().split())


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_search_cart_checkout_pay_and_buy_now(browser, live_server, shop, width):
    member = shop.member
    assert balance(member) == {"available": 20000, "pending": 0, "held": 0}
    context = session_context(browser, live_server, member, width)
    page = context.new_page()

    # Search → item.
    page.goto(f"{live_server.url}/mall/search?q=耳机")
    expect(page.get_by_test_id("item-card")).to_have_count(1)
    page.get_by_test_id("item-card").first.click()
    page.wait_for_url(f"**/mall/items/{shop.earbuds.pk}/")
    expect(page.get_by_test_id("stock")).to_contain_text("10")

    # Pick 黑色, add one to the cart: back on the item with a confirmation.
    page.locator(".mall-spec-value", has_text="黑色").click()
    expect(page.get_by_test_id("add-to-cart")).to_be_enabled()
    shoot(page, "buy-item", width)
    page.get_by_test_id("add-to-cart").click()
    expect(page.locator(".message-success")).to_contain_text("已加入购物车")
    assert list(CartLine.objects.values_list("sku_id", "quantity")) == [(shop.black.pk, 1)]
    expect(page.get_by_test_id("cart-link").get_by_test_id("cart-count")).to_have_text("1")

    # Cart: change the quantity to 2.
    page.goto(f"{live_server.url}/mall/cart/")
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    expect(page.get_by_test_id("cart-line")).to_contain_text("黑色")
    page.get_by_test_id("qty-plus").click()
    expect(page.locator(".message-success")).to_contain_text("数量已更新")
    assert list(CartLine.objects.values_list("sku_id", "quantity")) == [(shop.black.pk, 2)]
    assert text(page, "cart-total") == "1,600 积分 + ¥19.80"
    shoot(page, "cart", width)

    # Checkout: the default address is chosen; 1,600 × 0.95 = 1,520 points; goods worth
    # ¥19.80 + ¥15.20 < ¥99, so shipping costs ¥10.00.
    page.get_by_test_id("go-checkout").click()
    page.wait_for_url("**/mall/checkout/")
    expect(page.get_by_test_id("address-choice").locator("input")).to_be_checked()
    assert text(page, "points-subtotal") == "1,600"
    assert text(page, "discount") == "-80"
    assert text(page, "cash-subtotal") == "¥19.80"
    assert text(page, "shipping-fee") == "¥10.00"
    assert text(page, "due") == "1,520 积分 + ¥29.80"
    shoot(page, "checkout", width)
    page.get_by_test_id("place-order").click()

    # The sandbox gateway: points held, stock reserved, order pending.
    page.wait_for_url("**/pay/sandbox/**")
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert (order.points_total, order.cash_total, order.shipping_fee) == (
        1520,
        Decimal("29.80"),
        Decimal("10.00"),
    )
    assert balance(member) == {"available": 18480, "pending": 0, "held": 1520}
    assert stock(shop.black) == {"reserved": 2, "sold": 0, "remaining": 8, "returned": 0}
    assert CartLine.objects.count() == 0
    assert page.get_by_test_id("pay-amount").inner_text() == "29.80"
    shoot(page, "gateway", width)
    page.get_by_test_id("pay-confirm").click()

    # Back on the order: paid (待发货), points captured, stock sold, the timeline.
    page.wait_for_url(f"**/mall/orders/{order.number}/")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert balance(member) == {"available": 18480, "pending": 0, "held": 0}
    assert stock(shop.black) == {"reserved": 0, "sold": 2, "remaining": 8, "returned": 0}
    assert stock(shop.white) == {"reserved": 0, "sold": 0, "remaining": 10, "returned": 0}
    expect(page.get_by_test_id("order-status").first).to_have_text("待发货")
    expect(page.get_by_test_id("event")).to_have_count(2)
    expect(page.get_by_test_id("event").first).to_contain_text("待发货")
    expect(page.get_by_test_id("event").last).to_contain_text("提交订单")
    assert text(page, "order-total") == "1,520 积分 + ¥29.80"
    expect(page.get_by_test_id("ship-address")).to_contain_text("世纪大道 100 号")
    shoot(page, "order", width)

    # Buy now: the points-only card (1,800 × 0.95 = 1,710 points) completes at once.
    page.goto(f"{live_server.url}/mall/items/{shop.card.pk}/")
    expect(page.get_by_test_id("stock")).to_contain_text("2")
    page.get_by_test_id("redeem").click()
    page.wait_for_url("**/mall/checkout/?*")
    expect(page.get_by_test_id("address-choice")).to_have_count(0)
    assert text(page, "due") == "1,710 积分"
    page.get_by_test_id("place-order").click()
    card_order = Order.objects.exclude(pk=order.pk).get()
    page.wait_for_url(f"**/mall/orders/{card_order.number}/")
    assert card_order.status == Order.Status.COMPLETED
    assert balance(member) == {"available": 16770, "pending": 0, "held": 0}
    assert Sku.objects.filter(pk=shop.card_sku.pk).values("sold", "remaining").get() == {
        "sold": 1,
        "remaining": 1,
    }
    expect(page.locator(".message-success")).to_contain_text("兑换成功")
    expect(page.get_by_test_id("order-status").first).to_have_text("已完成")
    expect(page.get_by_test_id("event")).to_have_count(3)
    expect(page.get_by_test_id("event").nth(1)).to_contain_text("已支付")
    shoot(page, "order-virtual", width)

    # The code waits under 我的卡券.
    page.get_by_test_id("cards-link").click()
    page.wait_for_url("**/mall/cards/**")
    page.get_by_test_id("voucher").filter(has_text="视频会员月卡").click()
    expect(page.get_by_test_id("code")).to_have_value("VIDEO-8F3K-2QXM")

    # My orders: both, newest first.
    page.goto(f"{live_server.url}/mall/orders/")
    expect(page.get_by_test_id("order-card")).to_have_count(2)
    expect(page.get_by_test_id("order-card").first).to_contain_text("视频会员月卡")
    expect(page.get_by_test_id("order-card").last).to_contain_text("待发货")
    shoot(page, "orders", width)
    context.close()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_empty_cart_and_no_orders(browser, live_server, make_member, width):
    member = make_member(name="李四")
    context = session_context(browser, live_server, member, width)
    page = context.new_page()
    page.goto(f"{live_server.url}/mall/cart/")
    expect(page.get_by_test_id("cart-empty")).to_be_visible()
    shoot(page, "cart-empty", width)
    page.goto(f"{live_server.url}/mall/orders/")
    expect(page.get_by_test_id("orders-empty")).to_be_visible()
    shoot(page, "orders-empty", width)
    context.close()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_blocked_states_say_why(browser, live_server, make_member, width):
    """Short of points, no address, a sold-out line: every disabled button says why; an
    unpaid order offers 去支付 with its deadline."""
    from jifen.orders.services import order_place

    member = make_member(name="赵六")
    points_earn(member_id=member.pk, points=1000, source="test", reference="browser:poor")
    category = catalog_services.category_save(name="生活")
    mug = catalog_services.item_save(kind="physical", name="马克杯", category_id=category.pk)
    mug_sku = catalog_services.sku_create(item_id=mug.pk, points=1500, stock_initial=5)
    lamp = catalog_services.item_save(kind="physical", name="台灯", category_id=category.pk)
    lamp_sku = catalog_services.sku_create(item_id=lamp.pk, points=200, stock_initial=1)
    ebook = catalog_services.item_save(
        kind="virtual",
        fulfilment="link",
        link_url="https://books.example.com/redeem",
        name="电子书月卡",
        category_id=category.pk,
    )
    ebook_sku = catalog_services.sku_create(
        item_id=ebook.pk, points=300, cash=Decimal("5.00"), stock_initial=9
    )
    context = session_context(browser, live_server, member, width)
    page = context.new_page()

    # Short of points: 立即兑换 is disabled and says why; the cart still takes it.
    page.goto(f"{live_server.url}/mall/items/{mug.pk}/")
    expect(page.get_by_test_id("redeem")).to_be_disabled()
    expect(page.get_by_test_id("redeem-note")).to_contain_text("积分不足")
    page.get_by_test_id("add-to-cart").click()
    expect(page.locator(".message-success")).to_contain_text("已加入购物车")
    page.goto(f"{live_server.url}/mall/items/{lamp.pk}/")
    page.get_by_test_id("add-to-cart").click()
    expect(page.locator(".message-success")).to_contain_text("已加入购物车")

    # The lamp sells out meanwhile: its line says so and is left out of the total.
    catalog_services.stock_adjust(sku_id=lamp_sku.pk, delta=-1, kind="adjusted", reason="盘点破损")
    page.goto(f"{live_server.url}/mall/items/{lamp.pk}/")
    expect(page.get_by_test_id("redeem")).to_be_disabled()
    expect(page.get_by_test_id("redeem")).to_have_text("已兑完")
    expect(page.get_by_test_id("add-to-cart")).to_be_disabled()
    expect(page.get_by_test_id("redeem-note")).to_contain_text("该商品已兑完，补货后即可兑换。")
    page.goto(f"{live_server.url}/mall/cart/")
    expect(page.get_by_test_id("cart-problem")).to_have_count(1)
    expect(page.get_by_test_id("cart-line").filter(has_text="台灯")).to_contain_text("已售罄")
    assert text(page, "cart-total") == "1,500 积分"
    shoot(page, "cart-blocked", width)

    # Checkout: 500 points short and no address; the button is disabled with the reasons.
    page.get_by_test_id("go-checkout").click()
    expect(page.get_by_test_id("no-address")).to_be_visible()
    expect(page.get_by_test_id("place-order")).to_be_disabled()
    expect(page.get_by_test_id("place-blocked")).to_have_text(
        "积分不足：还差 500 积分。 请先添加收货地址。"
    )
    shoot(page, "checkout-blocked", width)
    assert Order.objects.count() == 0
    assert stock(mug_sku) == {"reserved": 0, "sold": 0, "remaining": 5, "returned": 0}

    # An unpaid order: status, deadline, 去支付 leads to the gateway; cancel gives back.
    order = order_place(member_id=member.pk, lines=[(ebook_sku.pk, 1)], checkout_token="t1")
    assert balance(member) == {"available": 700, "pending": 0, "held": 300}
    page.goto(f"{live_server.url}/mall/orders/{order.number}/")
    expect(page.get_by_test_id("order-status").first).to_have_text("待支付")
    expect(page.get_by_test_id("status-hint")).to_contain_text("前完成支付")
    expect(page.get_by_test_id("pay-bar")).to_contain_text("¥5.00")
    shoot(page, "order-pending", width)
    page.get_by_test_id("pay").click()
    page.wait_for_url("**/pay/sandbox/**")
    page.get_by_test_id("pay-cancel").click()
    page.wait_for_url(f"**/mall/orders/{order.number}/")
    expect(page.locator(".message-warning")).to_contain_text("支付未完成")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("cancel").click()
    expect(page.locator(".message-success")).to_contain_text("订单已取消")
    expect(page.get_by_test_id("order-status").first).to_have_text("已取消")
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert balance(member) == {"available": 1000, "pending": 0, "held": 0}
    assert Sku.objects.filter(pk=ebook_sku.pk).values("reserved", "remaining").get() == {
        "reserved": 0,
        "remaining": 9,
    }
    shoot(page, "order-cancelled", width)
    context.close()
