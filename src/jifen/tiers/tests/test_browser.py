"""The tier page in a real browser (Debian's Chromium, Playwright).

Screenshots at phone and desktop widths go to var/screenshots/tiers-*.png.
"""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from jifen.core import clock
from jifen.tiers.services import tier_evaluate, tier_notices_send
from jifen.tiers.tests.helpers import earn, purchase, put_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=10_000)


def open_as(browser, live_server, user, width):
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
    page = context.new_page()
    page.goto(f"{live_server.url}/tiers/")
    return page


def shoot(page, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=width == "desktop")


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_tier_page_of_a_gold_member(browser, live_server, make_member, width):
    member = make_member(name="王小明")
    earn(member, 12600)
    purchase(member, "9680.00", at=clock.now())
    tier_evaluate(member_id=member.pk)

    page = open_as(browser, live_server, member, width)

    expect(page.get_by_test_id("tier-name")).to_have_text("金卡")
    expect(page.get_by_test_id("points-progress")).to_have_text("12,600 / 30,000")
    expect(page.get_by_test_id("spend-progress")).to_have_text("¥9,680.00 / ¥30,000.00")
    expect(page.get_by_test_id("boost")).to_be_visible()
    shoot(page, "tiers", width)


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_tier_page_with_a_downgrade_notice(browser, live_server, make_member, width):
    member = make_member(name="李华")
    put_on(member, "gold", review_on=clock.business_date() + dt.timedelta(days=18))
    earn(member, 5200)
    tier_notices_send()

    page = open_as(browser, live_server, member, width)

    expect(page.get_by_test_id("tier-notice")).to_contain_text("将调整为银卡")
    expect(page.get_by_test_id("tier-notice")).to_contain_text("2,800")
    shoot(page, "tiers-notice", width)


def test_back_office_pages(browser, live_server, make_member):
    boss = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(boss).objects.filter(pk=boss.pk).update(is_superuser=True)
    boss.refresh_from_db()
    member = make_member(name="王小明")
    earn(member, 2400)
    tier_evaluate(member_id=member.pk)
    earn(member, 6000)
    tier_evaluate(member_id=member.pk)
    from jifen.tiers.models import MemberTier

    row = MemberTier.objects.get(member=member)
    client = Client()
    client.force_login(boss)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
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
    page.goto(f"{live_server.url}/admin/tiers/level/")
    expect(page.get_by_text("9.5折")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "backoffice-tier-levels.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/tiers/membertier/{row.pk}/change/")
    expect(page.get_by_text("银卡 → 金卡")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "backoffice-member-tier.png"), full_page=True)
    page.get_by_text("调整等级").first.click()
    expect(page.get_by_label("原因")).to_be_visible()
    page.get_by_label("新等级").select_option("diamond")
    page.get_by_label("原因").fill("年度大客户")
    page.screenshot(path=str(SCREENSHOTS / "backoffice-member-tier-set.png"))
    page.get_by_role("button", name="调整", exact=True).click()
    expect(page.get_by_text("王小明：金卡 → 钻石。")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "backoffice-member-tier-set-done.png"))
