"""The back-office in a real browser (Debian's Chromium through Playwright).

Renders the dashboard (with its Chart.js chart from unfold's static files), a transaction,
a member and a pending adjustment, checks what a person would check on them, and keeps
screenshots in var/screenshots/ for a human to look at.
"""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from jifen.backoffice.tests.factories import at, sh

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture
def month_of_postings(make_member, superuser):
    """Thirty days of earning, spending and expiry for a handful of members."""
    from jifen.ledger.services import (
        adjustment_request,
        points_earn,
        points_expire,
        points_spend,
        points_transfer,
    )
    from jifen.members.services import address_create

    names = ["王小明", "李华", "张伟", "刘芳", "陈静"]
    members = [make_member(name=name) for name in names]
    address_create(
        member=members[0],
        data={
            "recipient": "王小明",
            "phone": "13800001111",
            "province": "上海市",
            "city": "上海市",
            "district": "浦东新区",
            "detail": "世纪大道 100 号",
        },
    )
    today = dt.datetime.now(tz=sh(2026, 1, 1).tzinfo).date()
    for offset in range(29, -1, -1):
        day = today - dt.timedelta(days=offset)
        with at(sh(day.year, day.month, day.day, 10)):
            for i, member in enumerate(members):
                points = 200 + 37 * ((offset * 7 + i * 13) % 11)
                points_earn(
                    member_id=member.pk,
                    points=points,
                    source="purchase",
                    reference=f"shot:earn:{offset}:{i}",
                    explanation=f"订单 #{offset:02d}{i} 消费 ¥{points / 10:.0f}",
                    expires_on=day + dt.timedelta(days=20) if i == 4 else None,
                )
                if (offset + i) % 3 == 0:
                    points_spend(
                        member_id=member.pk,
                        points=points // 2 + 100,
                        purpose="mall",
                        reference=f"shot:spend:{offset}:{i}",
                        explanation="兑换 星巴克中杯券",
                    )
            points_expire()
    with at(sh(today.year, today.month, today.day, 9)):
        points_transfer(
            sender_id=members[0].pk,
            recipient_id=members[1].pk,
            points=120,
            reference="shot:transfer",
            note="生日快乐",
        )
        adjustment_request(
            member_id=members[2].pk,
            points=20_000,
            reason="大客户补偿（工单 #8812）",
            reference="shot:adj",
            requested_by=superuser,
        )
    return members


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
        "requestfailed",
        lambda request: errors.append(f"request failed: {request.url}"),
    )
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status}: {response.url}") if response.status >= 400 else None
        ),
    )
    return page, errors


def _shoot(page, name: str) -> None:
    """The whole page, with the viewport grown to fit it so sticky bars stay at the bottom."""
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(900, min(height, 4000))})
    page.screenshot(path=str(SCREENSHOTS / name))
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.mark.django_db(transaction=True)
def test_screenshots(browser, live_server, superuser, month_of_postings):
    from jifen.backoffice import selectors
    from jifen.ledger.models import Adjustment, Transaction

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = _page(browser, live_server, superuser)

    # Dashboard: the KPI cards and a drawn chart.
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("canvas.chart")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas.chart'))"
    )
    liability = selectors.points_liability()
    assert page.inner_text('[data-kpi="outstanding"]').replace(",", "") == str(liability.points)
    assert page.inner_text('[data-kpi="adjustments-pending"]') == "1"
    datasets = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas.chart')).data.datasets"
        ".map(d => d.data.reduce((a, b) => a + b, 0))"
    )
    totals = selectors.points_daily(days=30).totals
    assert datasets == [totals["issued"], totals["spent"], totals["expired"]]
    _shoot(page, "backoffice-dashboard.png")

    # A transfer: its entries and the lots it moved.
    transfer = Transaction.objects.get(reference="shot:transfer")
    page.goto(f"{live_server.url}/admin/ledger/transaction/{transfer.pk}/change/")
    assert "shot:transfer" in page.inner_text("body")
    assert page.locator('input[name="_save"]').count() == 0
    _shoot(page, "backoffice-transaction.png")

    # A member with wallet balances and an address.
    member = month_of_postings[0]
    page.goto(f"{live_server.url}/admin/members/user/{member.pk}/change/")
    assert "世纪大道 100 号" in page.inner_text("body")
    _shoot(page, "backoffice-member.png")

    # A pending adjustment, with its approve / reject buttons.
    adjustment = Adjustment.objects.get(reference="shot:adj")
    page.goto(f"{live_server.url}/admin/ledger/adjustment/{adjustment.pk}/change/")
    assert page.locator(f'a[href$="/adjustment/{adjustment.pk}/approve/"]').count() == 1
    _shoot(page, "backoffice-adjustment.png")

    # Approving opens unfold's confirmation dialog; the requester's own approval is refused
    # by the service, and the page says so after htmx follows the redirect.
    page.click(f'a[href$="/adjustment/{adjustment.pk}/approve/"]')
    page.wait_for_selector("#dialog button[type=submit]", state="visible")
    page.screenshot(path=str(SCREENSHOTS / "backoffice-adjustment-dialog.png"))
    page.click("#dialog button[type=submit]")
    page.wait_for_selector("text=审批人不能是申请人")
    adjustment.refresh_from_db()
    assert adjustment.status == "pending_approval"

    # The adjustment form: the service's refusal comes back as a form error.
    page.goto(f"{live_server.url}/admin/ledger/adjustment/add/")
    page.fill('input[name="member"]', member.phone)
    page.fill('input[name="points"]', "-9999")  # under the approval threshold, over the balance
    page.fill('textarea[name="reason"]', "误发积分收回")
    page.click('button[name="_save"]')
    page.wait_for_selector("text=积分不足")
    _shoot(page, "backoffice-adjustment-add.png")

    # A wallet with its lots, and the system accounts with balances from their entries.
    from jifen.ledger.models import Account

    wallet = Account.objects.get(member=member)
    page.goto(f"{live_server.url}/admin/ledger/account/{wallet.pk}/change/")
    _shoot(page, "backoffice-wallet.png")
    page.goto(f"{live_server.url}/admin/ledger/account/?scope=system")
    assert "issuance:purchase" in page.inner_text("body")
    _shoot(page, "backoffice-system-accounts.png")

    page.goto(f"{live_server.url}/admin/ledger/transaction/")
    page.screenshot(path=str(SCREENSHOTS / "backoffice-transactions.png"), full_page=False)

    assert errors == []
