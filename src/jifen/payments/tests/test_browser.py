"""The sandbox gateway page in Chromium: confirm pays through the signed callback.

Screenshots at phone (390×844) and desktop (1280×900) widths go to
var/screenshots/payments-sandbox-*.png.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from jifen.payments.models import Payment, PaymentCallback
from jifen.payments.selectors import payment_pay_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_gateway_confirm_pays(browser, live_server, start_payment, purpose, width):
    payment = start_payment(
        amount=Decimal("9.90"), description="蓝牙耳机 黑色 ×1（500 积分 + ¥9.90）", return_url="/"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[width], locale="zh-CN")
    page = context.new_page()

    page.goto(live_server.url + payment_pay_url(payment))
    assert page.get_by_test_id("pay-amount").inner_text() == "9.90"
    page.screenshot(path=str(SCREENSHOTS / f"payments-sandbox-{width}.png"))
    page.get_by_test_id("pay-confirm").click()
    page.wait_for_load_state()
    context.close()

    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert purpose.calls == [payment.pk]
    assert PaymentCallback.objects.get().result == "paid"
