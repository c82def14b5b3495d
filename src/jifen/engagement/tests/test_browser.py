"""The check-in calendar and the task center in a real browser (Debian's Chromium).

Screenshots at phone and desktop widths go to var/screenshots/engage-*.png.
"""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

expect = pytest.importorskip("playwright.sync_api").expect
expect.set_options(timeout=10_000)


@pytest.fixture
def seeded(make_member, at, make_task):
    from jifen.engagement.services import checkin_create, makeup_cards_grant
    from jifen.members.models import User

    member = make_member(phone="13900000001", name="王小明")
    User.objects.filter(pk=member.pk).update(date_joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    member.refresh_from_db()
    for day in (2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19):
        at(2026, 11, day, 9)
        checkin_create(member_id=member.pk)
    makeup_cards_grant(member_id=member.pk, cards=1, reference="demo")
    at(2026, 11, 20, 10)  # Friday, not yet checked in; the 1st and the 10th were missed
    make_task(
        "phone",
        title="绑定手机号",
        description="绑定后可用手机号登录",
        evidence="phone_bound",
        period="lifetime",
        points=20,
        sort_order=1,
    )
    make_task(
        "profile",
        title="完善个人资料",
        description="填写姓名、生日和性别",
        evidence="profile_complete",
        period="lifetime",
        points=50,
        sort_order=2,
    )
    make_task(
        "survey",
        title="填写满意度问卷",
        description="每份问卷奖励一次",
        action="survey_completed",
        points=10,
        cap=2,
        sort_order=3,
    )
    make_task(
        "photo-review",
        title="晒单评价（带图）",
        description="上传图片的商品评价",
        action="review_posted",
        required_details={"has_photo": True},
        points=0,
        makeup_cards=1,
        period="week",
        sort_order=4,
    )
    return member


def shoot(page, name: str, width: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=width == "desktop")


def logged_in_page(browser, live_server, member, width):
    from django.test import Client

    client = Client()
    client.force_login(member)
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
    page.set_default_timeout(10_000)
    return page


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_checkin_and_tasks(browser, live_server, seeded, width):
    from jifen.ledger.services import balances_of

    page = logged_in_page(browser, live_server, seeded, width)
    before = balances_of(seeded.pk)["available"]

    page.goto(live_server.url + "/engage/checkin/")
    assert page.get_by_test_id("streak").inner_text() == "9"
    shoot(page, "engage-checkin-before", width)

    # The big button, through htmx: the panel is replaced, the page is not reloaded.
    page.evaluate("window.__still_here = true")
    page.get_by_test_id("checkin-button").click()
    expect(page.get_by_test_id("checkin-done")).to_be_visible()
    expect(page.get_by_test_id("checkin-status")).to_contain_text("签到成功，获得 7 积分。")
    assert page.get_by_test_id("streak").inner_text() == "10"
    assert page.evaluate("window.__still_here") is True
    shoot(page, "engage-checkin", width)

    # A make-up card on the 10th joins the two runs: the 2nd to the 20th, 19 days in a row.
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("[data-date='2026-11-10'] button").click()
    expect(page.get_by_test_id("checkin-status")).to_contain_text("已补签 2026-11-10")
    assert page.get_by_test_id("streak").inner_text() == "19"
    assert page.get_by_test_id("cards").inner_text().startswith("0")

    # Task center: claim the phone task; the profile task is locked.
    page.goto(live_server.url + "/engage/tasks/")
    expect(page.locator("[data-task=profile]")).to_contain_text("填写姓名、生日和性别后可领取")
    page.locator("[data-task=phone] button").click()
    expect(page.get_by_test_id("task-status")).to_contain_text("领取成功：20 积分。")
    expect(page.locator("[data-task=phone]")).to_contain_text("已完成")

    # The share box answers in place.
    page.locator(".share-channel.wechat").click()
    expect(page.get_by_test_id("share-status")).to_contain_text("分享成功，获得 5 积分。")
    shoot(page, "engage-tasks", width)

    # 7 (today, day 10) + 7 (the made-up 10th, day 9 of its run) + 20 (phone) + 5 (share)
    assert balances_of(seeded.pk)["available"] == before + 7 + 7 + 20 + 5
    page.context.close()


def test_backoffice_pages(browser, live_server, seeded, operator):
    from jifen.members.models import User

    User.objects.filter(pk=operator.pk).update(is_superuser=True)
    operator.refresh_from_db()
    page = logged_in_page(browser, live_server, operator, "desktop")

    page.goto(live_server.url + "/admin/engagement/engagementconfig/")
    expect(page.locator("#id_checkin_rewards")).to_be_visible()
    shoot(page, "backoffice-engage-config", "desktop")
    page.goto(live_server.url + "/admin/engagement/task/")
    expect(page.locator("#result_list")).to_contain_text("绑定手机号")
    shoot(page, "backoffice-engage-tasks", "desktop")
    page.goto(live_server.url + "/admin/engagement/checkin/")
    expect(page.locator("#result_list")).to_contain_text("王小明")
    shoot(page, "backoffice-engage-checkins", "desktop")
    page.context.close()
