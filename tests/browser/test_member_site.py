"""The member site in a real browser (Debian's Chromium through Playwright).

Logs in through the page, reads home and history (with an htmx filter), makes a transfer
through its confirmation step, and keeps screenshots at phone and desktop widths in
var/screenshots/ for a human to look at.
"""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in this thread; the ORM calls here are ordinary.

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
PASSWORD = "Secret-pass-123"


expect = pytest.importorskip("playwright.sync_api").expect
expect.set_options(timeout=10_000)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits (codes, logins) count in the cache, which is Redis when REDIS_URL is set."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def members(make_member):
    from jifen.ledger.services import points_earn, points_spend, points_transfer

    alice = make_member(phone="13900000001", name="王小明", password=PASSWORD)
    bob = make_member(phone="13900000002", name="李华", password=PASSWORD)
    points_earn(
        member_id=alice.pk,
        points=1200,
        source="purchase",
        reference="b:earn:1",
        explanation="订单 #A1024 消费 ¥120",
        expires_on=dt.date(2026, 12, 31),
    )
    points_earn(
        member_id=alice.pk,
        points=800,
        source="checkin",
        reference="b:earn:2",
        explanation="每日签到",
        expires_on=dt.date(2027, 12, 31),
    )
    points_spend(
        member_id=alice.pk,
        points=300,
        purpose="mall",
        reference="b:spend:1",
        explanation="兑换 星巴克中杯券",
    )
    points_earn(member_id=bob.pk, points=100, source="purchase", reference="b:earn:3")
    points_transfer(
        sender_id=bob.pk, recipient_id=alice.pk, points=50, reference="b:t:1", note="谢谢"
    )
    return alice, bob


def shoot(page, name: str, width: str) -> None:
    """What the member sees: the phone's screen (fixed tab bar in place), the desktop's page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=width == "desktop")


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_member_journey(browser, live_server, members, width):
    from jifen.ledger.selectors import points_summary

    alice, bob = members
    context = browser.new_context(viewport=VIEWPORTS[width], locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)

    # Login page, then a wrong password, then the right one.
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    shoot(page, "login", width)
    page.get_by_label("手机号 / 邮箱 / 会员号").fill("13900000001")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator(".form-errors")).to_be_visible()
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(live_server.url + "/")

    # Home: balances and the next expiry.
    assert page.get_by_test_id("available").inner_text().startswith("1,750")
    assert page.get_by_test_id("member-number").inner_text() == alice.member_number
    assert "900 积分将于 2026-12-31 过期" in page.get_by_test_id("next-expiry").inner_text()
    shoot(page, "home", width)

    # History, filtered by kind through htmx (no full page load: the marker survives).
    page.goto(live_server.url + "/points/")
    rows = page.locator("[data-testid=history-list] .row")
    expect(rows).to_have_count(4)
    page.evaluate("window.__still_here = true")
    page.locator(".chip[data-kind=spend]").click()
    page.wait_for_url("**/points/?kind=spend")
    expect(rows).to_have_count(1)
    assert "兑换 星巴克中杯券" in rows.first.inner_text()
    assert "\u2212300" in rows.first.inner_text()
    assert page.evaluate("window.__still_here") is True
    page.locator(".chip", has_text="全部").click()
    page.wait_for_url("**/points/")
    expect(rows).to_have_count(4)
    shoot(page, "history", width)

    # Transfer with its confirmation step; a second click posts nothing more.
    page.goto(live_server.url + "/transfer/")
    page.get_by_label("收款人").fill("13911112222")
    page.get_by_label("转赠积分").fill("99999")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator(".field-error")).to_have_text(
        ["找不到该会员，请检查手机号、邮箱或会员号。", "积分不足：可用 1,750 积分。"]
    )
    shoot(page, "transfer-errors", width)
    page.get_by_label("收款人").fill("13900000002")
    page.get_by_label("转赠积分").fill("250")
    page.get_by_label("留言（选填）").fill("生日快乐")
    shoot(page, "transfer", width)
    page.get_by_role("button", name="下一步").click()
    assert page.get_by_test_id("confirm-recipient").inner_text() == "*华"
    assert page.get_by_test_id("confirm-points").inner_text().startswith("250")
    assert "139****0002" in page.content()
    shoot(page, "transfer-confirm", width)
    page.get_by_role("button", name="确认转赠").click()
    page.wait_for_url("**/transfer/done/")
    assert page.get_by_test_id("new-balance").inner_text() == "1,500"
    shoot(page, "transfer-done", width)
    assert points_summary(member_id=alice.pk)["available"] == 1500
    assert points_summary(member_id=bob.pk)["available"] == 50 + 250

    # Profile and addresses.
    page.goto(live_server.url + "/me/")
    shoot(page, "profile", width)
    page.goto(live_server.url + "/me/addresses/new/")
    page.get_by_label("收件人").fill("王小明")
    page.get_by_label("电话").fill("13900000001")
    page.get_by_label("省").fill("上海市")
    page.get_by_label("市", exact=True).fill("上海市")
    page.get_by_label("区", exact=True).fill("黄浦区")
    page.get_by_label("详细地址").fill("南京东路 100 号 2 楼")
    page.get_by_role("button", name="保存地址").click()
    page.wait_for_url("**/me/addresses/")
    expect(page.locator(".messages")).to_contain_text("地址已添加。")
    expect(page.get_by_test_id("address")).to_have_count(1)
    shoot(page, "addresses", width)

    # The language switch (English, then back).
    page.goto(live_server.url + "/")
    page.locator(".lang-switch button[value=en]").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("next-expiry")).to_contain_text("points expire on 2026-12-31")
    shoot(page, "home-en", width)
    page.goto(live_server.url + "/points/")
    expect(page.locator("h1")).to_have_text("Points history")
    shoot(page, "history-en", width)
    page.locator(".lang-switch button[value=zh-hans]").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    context.close()


def test_signup_in_browser(browser, live_server, db):
    import re

    from jifen.ledger.selectors import points_summary
    from jifen.members.models import User
    from jifen.members.senders import ConsoleSender

    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    # The sign-in page in English, then back to Chinese for the sign-up.
    page.goto(live_server.url + "/accounts/login/")
    page.locator(".lang-switch button[value=en]").click()
    expect(page.locator("h1")).to_have_text("Welcome back")
    shoot(page, "login-en", "phone")
    page.locator(".lang-switch button[value=zh-hans]").click()
    expect(page.locator("h1")).to_have_text("欢迎回来")

    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("手机号").fill("13700001111")
    if settings.JIFEN_REGISTRATION_CODE_REQUIRED:
        ConsoleSender.outbox.clear()
        page.get_by_role("button", name="获取验证码").click()  # htmx, no page load
        expect(page.locator("#code-status")).to_have_text("验证码已发送，10 分钟内有效。")
        ((recipient, message),) = ConsoleSender.outbox
        assert recipient == "13700001111"
        page.get_by_label("验证码").fill(re.search(r"\d{6}", message).group(0))
    page.locator("#id_password1").fill("A-good-pass-2026")
    page.get_by_label("确认密码").fill("A-good-pass-2026")
    shoot(page, "signup", "phone")
    page.get_by_role("button", name="注册", exact=True).click()
    page.wait_for_url(live_server.url + "/")
    user = User.objects.get(phone="13700001111")
    assert user.email is None
    assert points_summary(member_id=user.pk)["available"] == 0
    assert page.get_by_test_id("member-number").inner_text() == user.member_number
    context.close()


def test_login_by_code_in_browser(browser, live_server, members):
    import re

    from jifen.members.senders import ConsoleSender

    ConsoleSender.outbox.clear()
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="用验证码登录").click()
    page.get_by_label("手机号").fill("13900000001")
    shoot(page, "login-code-request", "phone")
    page.get_by_role("button", name="发送验证码").click()
    page.wait_for_url("**/accounts/login/code/confirm/")
    ((recipient, message),) = ConsoleSender.outbox
    assert recipient == "13900000001"
    page.get_by_label("验证码").fill(re.search(r"code: (\S+)", message).group(1))
    shoot(page, "login-code-confirm", "phone")
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_test_id("available").inner_text().startswith("1,750")
    context.close()
