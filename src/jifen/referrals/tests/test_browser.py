"""The referral and product-code pages in a real browser (Debian's Chromium, Playwright).

Screenshots at phone and desktop widths go to var/screenshots/referrals-*.png.
"""

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


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_invite_and_codes_pages(
    browser, live_server, referrer, invite_code, make_member, batch, width
):
    from jifen.ledger.selectors import points_summary
    from jifen.referrals import services

    services.referral_register(invitee=make_member(name="张三丰"), invite_code=invite_code)
    services.fingerprint_record(member_id=referrer.pk, ip="10.2.2.2")
    services.referral_register(
        invitee=make_member(name="", phone="13712345678"), invite_code=invite_code, ip="10.2.2.2"
    )

    # The referral page: code, QR, link, copy, results.
    context = session_context(browser, live_server, referrer, width)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto(live_server.url + "/invite/")
    expect(page.get_by_test_id("invite-code")).to_have_text(invite_code)
    expect(page.get_by_test_id("invite-url")).to_have_value(
        f"{live_server.url}/invite/{invite_code}/"
    )
    assert page.locator(".invite-qr img").evaluate("img => img.naturalWidth") > 0
    expect(page.get_by_test_id("invited")).to_have_text("2")
    expect(page.get_by_test_id("points")).to_have_text("50")
    expect(page.locator(".rows .row")).to_have_count(2)
    expect(page.locator(".rows")).to_contain_text("137****5678")
    expect(page.locator(".rows")).to_contain_text("待审核")
    page.get_by_role("button", name="复制链接").click()
    expect(page.locator(".copy-status")).to_have_text("已复制")
    assert (
        page.evaluate("navigator.clipboard.readText()")
        == f"{live_server.url}/invite/{invite_code}/"
    )
    shoot(page, "referrals-invite", width)

    # Product codes: a wrong one, then a real one typed in lower case with spaces.
    page.goto(live_server.url + "/invite/codes/")
    page.get_by_label("商品码").fill("AAAA-AAAA-AAAA-AAAA")
    page.get_by_role("button", name="领取积分").click()
    expect(page.locator(".field-error")).to_contain_text("商品码不存在")
    shoot(page, "referrals-code-error", width)
    code = batch.plain[0]
    page.get_by_label("商品码").fill(" ".join([code[:4], code[4:8], code[8:12], code[12:]]).lower())
    page.get_by_role("button", name="领取积分").click()
    expect(page.get_by_test_id("code-done")).to_contain_text("获得 20 积分")
    shoot(page, "referrals-code-done", width)
    assert points_summary(member_id=referrer.pk)["available"] == 50 + 20
    context.close()

    # The landing page a friend opens from the link.
    context = browser.new_context(viewport=VIEWPORTS[width], locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/invite/{invite_code}/")
    expect(page.locator("h1")).to_contain_text("*小明 邀请你加入积分商城")
    shoot(page, "referrals-landing", width)
    page.get_by_test_id("signup").click()
    page.wait_for_url(f"**/accounts/signup/?invite_code={invite_code}")
    context.close()


def test_backoffice_review_and_batches(
    browser, live_server, referrer, invite_code, make_member, batch
):
    from jifen.referrals import services
    from jifen.referrals.models import Referral

    boss = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(boss).objects.filter(pk=boss.pk).update(is_superuser=True)
    services.fingerprint_record(member_id=referrer.pk, ip="10.3.3.3", device="browser-device-0001")
    flagged = services.referral_register(
        invitee=make_member(name="赵六"),
        invite_code=invite_code,
        ip="10.3.3.3",
        device="browser-device-0001",
    )
    services.referral_register(invitee=make_member(name="钱七"), invite_code=invite_code)

    context = session_context(browser, live_server, boss, "desktop")
    page = context.new_page()
    page.goto(live_server.url + "/admin/referrals/referral/?status__exact=review")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("与邀请人 IP 相同")
    shoot(page, "referrals-backoffice-queue", "desktop")

    page.goto(f"{live_server.url}/admin/referrals/referral/{flagged.pk}/change/")
    shoot(page, "referrals-backoffice-referral", "desktop")
    page.get_by_role("link", name="批准并奖励").click()
    page.get_by_role("button", name="批准").click()
    expect(page.locator("body")).to_contain_text("已批准")
    assert Referral.objects.get(pk=flagged.pk).status == "rewarded"

    page.goto(live_server.url + "/admin/referrals/codebatch/")
    expect(page.locator("#result_list")).to_contain_text("春季瓶盖码")
    shoot(page, "referrals-backoffice-batches", "desktop")
    page.goto(live_server.url + "/admin/referrals/codebatch/add/")
    shoot(page, "referrals-backoffice-batch-add", "desktop")
    page.goto(live_server.url + "/admin/referrals/referralprogram/")
    shoot(page, "referrals-backoffice-program", "desktop")
    context.close()
