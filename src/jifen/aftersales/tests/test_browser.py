"""After-sales in a real browser: the request form (ticking lines updates the preview), the
detail page with its timeline, and the operators' queue. Screenshots at phone (390×844) and
desktop (1280×900) widths go to var/screenshots/aftersales-*.png."""

import datetime as dt
import io
import mimetypes
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from jifen.aftersales import services
from jifen.aftersales.tests.conftest import earn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=10_000)


def shoot(page, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"aftersales-{name}-{width}.png"), full_page=True)


def context_for(browser, live_server, user, width, media_root: Path):
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


def photo() -> bytes:
    from jifen.catalog.images import product_image

    out = io.BytesIO()
    product_image(name="马克杯", seed=2).resize((300, 300)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_request_detail_and_queue(
    browser, live_server, make_member, shop, make_order, media, width, provider
):
    member = make_member(name="王小明")
    earn(member, 20_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 2), (shop.card_sku, 1)])
    context = context_for(browser, live_server, member, width, media)
    page = context.new_page()

    page.goto(f"{live_server.url}/mall/orders/{order.number}/")
    page.get_by_test_id("aftersale-request").click()
    preview = page.get_by_test_id("aftersale-preview")
    expect(preview).to_contain_text("1,300")
    page.locator("input[name=kind][value=refund_only]").check()
    card_line = order.lines.get(sku=shop.card_sku)
    page.locator(f"input[name=line_{card_line.pk}]").uncheck()
    expect(preview).to_contain_text("1,000")
    expect(preview).to_contain_text("¥19.80")
    page.select_option("select[name=reason]", "damaged")
    page.fill("textarea[name=reason_text]", "杯口有缺口")
    path = media / "upload.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo())
    page.set_input_files("input[name=photos]", str(path))
    shoot(page, "request", width)
    page.get_by_test_id("aftersale-submit").click()
    expect(page.get_by_test_id("aftersale-status")).to_have_text("待审核")
    expect(page.get_by_test_id("aftersale-amount")).to_contain_text("¥19.80")
    shoot(page, "detail", width)

    staff = make_member(email="ops@example.com", phone=None, is_staff=True, name="运营小李")
    type(staff).objects.filter(pk=staff.pk).update(is_superuser=True)
    aftersale = order.aftersales.get()
    services.aftersale_decide(aftersale_id=aftersale.pk, approve=True, by=staff)
    page.goto(f"{live_server.url}/mall/aftersales/")
    expect(page.get_by_test_id("aftersale")).to_contain_text("已退款")
    shoot(page, "list", width)
    page.goto(f"{live_server.url}/mall/orders/{order.number}/")
    block = page.get_by_test_id("order-aftersales")
    expect(block).to_contain_text(aftersale.number)
    block.scroll_into_view_if_needed()
    shoot(page, "order-block", width)
    context.close()

    if width == "desktop":
        second = services.aftersale_request(
            member_id=member.pk,
            order_number=order.number,
            kind="refund_only",
            lines=[{"order_line": card_line.pk, "quantity": 1}],
            reason="other",
            photos=[(photo(), "a.jpg")],
        )
        staff.refresh_from_db()
        admin = context_for(browser, live_server, staff, width, media).new_page()
        admin.goto(f"{live_server.url}/admin/aftersales/aftersale/")
        shoot(admin, "queue", width)
        admin.goto(f"{live_server.url}/admin/aftersales/aftersale/{second.pk}/change/")
        shoot(admin, "admin-detail", width)
