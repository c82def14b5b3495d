"""The rules back-office in a real browser: a draft tried before saving, then saved, and the
preview of a real purchase; screenshots in var/screenshots/ for a human to look at."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


def _page(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
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
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status}: {response.url}") if response.status >= 400 else None
        ),
    )
    return page, errors


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(900, min(height, 4000))})
    page.screenshot(path=str(SCREENSHOTS / name))
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.mark.django_db(transaction=True)
def test_try_a_draft_then_save_it_and_preview_a_real_purchase(browser, live_server, make_member):
    from playwright.sync_api import expect

    from jifen.integrations.models import Purchase
    from jifen.integrations.services import api_client_create, event_process
    from jifen.members.models import User
    from jifen.rules.models import Rule
    from jifen.rules.services import rule_save

    boss = make_member(email="boss@example.com", phone=None, is_staff=True)
    User.objects.filter(pk=boss.pk).update(is_superuser=True)
    boss.refresh_from_db()
    make_member(external_id="crm-1", name="王芳")
    rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    rule_save(
        code="bonus",
        data={"name": "满100赠10", "kind": "threshold_bonus", "points": 10, "min_amount": "100"},
    )
    client, _secret = api_client_create(name="官方商城")
    event_process(
        client=client,
        raw={
            "event_id": "p-1",
            "type": "purchase",
            "order_id": "20261123-0001",
            "amount": "128.00",
            "member": "crm-1",
            "lines": [
                {"sku": "TEA-001", "category": "茶饮", "quantity": 2, "amount": "100.00"},
                {"sku": "CIG-001", "category": "烟酒", "quantity": 1, "amount": "28.00"},
            ],
        },
    )
    page, errors = _page(browser, live_server, boss)

    page.goto(f"{live_server.url}/admin/rules/rule/add/")
    page.fill("input[name=code]", "weekend")
    page.fill("input[name=name]", "周末双倍")
    page.select_option("select[name=kind]", "multiplier")
    page.fill("input[name=multiplier]", "2")
    page.fill("input[name=sample_amount]", "128.00")
    page.click("[data-rule=preview]")
    expect(page.locator("[data-preview=points]")).to_have_text("266 积分")
    expect(page.locator("[data-preview=explanation]")).to_have_text(
        "消费 ¥128.00 × 1 积分/元 × 2 周末双倍 = 256; 满100赠10 +10 → 266"
    )
    assert Rule.objects.filter(code="weekend").count() == 0
    _shoot(page, "rules-draft-preview.png")

    page.click("text=保存规则")
    page.wait_for_url("**/admin/rules/rule/*/change/")
    assert Rule.objects.get(code="weekend").multiplier == 2
    page.goto(f"{live_server.url}/admin/rules/rule/")
    expect(page.locator("#result_list")).to_contain_text("周末双倍")
    _shoot(page, "rules-list.png")

    purchase = Purchase.objects.get()
    page.goto(f"{live_server.url}/admin/rules/rule/preview/?purchase={purchase.pk}")
    expect(page.locator("[data-preview=points]")).to_have_text("266 积分")
    _shoot(page, "rules-preview-purchase.png")
    assert errors == []


@pytest.mark.urls("jifen.rules.tests.urls")
@pytest.mark.django_db(transaction=True)
def test_earn_page_on_a_phone(browser, live_server, make_member):
    from playwright.sync_api import expect

    from jifen.integrations.services import api_client_create, event_process
    from jifen.rules.services import rule_save

    member = make_member(external_id="crm-1", name="王芳")
    rule_save(code="base", data={"name": "消费积分", "kind": "base_rate", "points": 1})
    rule_save(
        code="bonus",
        data={"name": "满100赠10", "kind": "threshold_bonus", "points": 10, "min_amount": "100"},
    )
    rule_save(
        code="weekend",
        data={"name": "周末双倍", "kind": "multiplier", "multiplier": "2", "weekdays": "6,7"},
    )
    rule_save(code="returns", data={"name": "退货期", "kind": "pending_period", "days": 7})
    client, _secret = api_client_create(name="官方商城")
    event_process(
        client=client,
        raw={
            "event_id": "p-1",
            "type": "purchase",
            "order_id": "20261123-0001",
            "amount": "128.00",
            "member": "crm-1",
        },
    )
    page, errors = _page(browser, live_server, member)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/earn/")
    expect(page.locator("[data-testid=earn-rules]")).to_contain_text("每消费 1 元得 1 积分")
    expect(page.locator("[data-testid=earn-purchases]")).to_contain_text("订单 20261123-0001")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 390, "height": max(844, min(height, 3000))})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "rules-earn-phone.png"))
    assert errors == []
