"""My coupons and cards in a real browser (Debian's Chromium, Playwright): list → card →
copy. Screenshots at phone (390×844) and desktop (1280×900) widths go to
var/screenshots/cards-*.png."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from jifen.vouchers import services
from jifen.vouchers.models import MemberVoucher

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=10_000)


def shoot(page, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=width == "desktop")


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_cards_list_detail_and_copy(browser, live_server, goods, make_member, width):
    member = make_member(name="王小明")
    services.code_pool_import(sku_id=goods.card_sku.pk, text="VIDEO-8F3K-2QXM\n")
    made = {}
    for name, item, sku, quantity in [
        ("coupon", goods.coupon, goods.coupon_sku, 2),
        ("massage", goods.massage, goods.massage_sku, 1),
        ("link", goods.ebook, goods.ebook_sku, 1),
        ("card", goods.card, goods.card_sku, 1),
    ]:
        made[name] = services.vouchers_issue(
            member_id=member.pk,
            order_line_id=None,
            item_id=item.pk,
            sku_id=sku.pk,
            quantity=quantity,
            reference=name,
        )
    services.voucher_mark_used(voucher_id=made["coupon"][0].pk)
    MemberVoucher.objects.filter(pk=made["massage"][0].pk).update(
        valid_from=timezone.now() - dt.timedelta(days=100),
        valid_until=timezone.now() - dt.timedelta(days=10),
    )

    client = Client()
    client.force_login(member)
    context = browser.new_context(
        viewport=VIEWPORTS[width], locale="zh-CN", permissions=["clipboard-read", "clipboard-write"]
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/mall/cards/")
    expect(page.get_by_test_id("voucher")).to_have_count(3)
    shoot(page, "cards", width)

    page.get_by_role("link", name="已过期").click()
    expect(page.get_by_test_id("voucher")).to_have_count(1)
    expect(page.get_by_test_id("voucher")).to_contain_text("肩颈按摩预约券")

    page.get_by_role("link", name="可用").click()
    page.get_by_test_id("voucher").filter(has_text="视频会员月卡").click()
    expect(page.get_by_test_id("code")).to_have_value("VIDEO-8F3K-2QXM")
    page.get_by_role("button", name="复制").click()
    expect(page.locator(".copy-status").first).to_have_text("已复制")
    shoot(page, "card-code", width)

    page.goto(f"{live_server.url}/mall/cards/{made['coupon'][1].pk}/")
    expect(page.get_by_test_id("code")).to_have_value(made["coupon"][1].code)
    shoot(page, "card-coupon", width)
    context.close()
