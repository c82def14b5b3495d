import json
from decimal import Decimal

import pytest
from django.test import Client

from jifen.payments import services
from jifen.payments.models import Payment, PaymentCallback, SandboxTrade
from jifen.payments.selectors import payment_pay_url
from jifen.payments.tests.conftest import callback_body, signed

pytestmark = pytest.mark.django_db


def test_gateway_page_shows_the_payment(start_payment, member):
    payment = start_payment(amount=Decimal("9.90"), description="蓝牙耳机 加钱购")

    response = Client().get(payment_pay_url(payment))

    assert response.status_code == 200
    html = response.content.decode()
    assert "沙箱支付" in html and "不会产生真实扣款" in html
    assert 'data-testid="pay-amount">9.90<' in html
    assert "蓝牙耳机 加钱购" in html and payment.number in html
    assert "确认支付" in html and "支付失败/取消" in html


def test_gateway_page_with_a_tampered_token_is_404(start_payment):
    url = payment_pay_url(start_payment())

    assert Client().get(url.replace("/pay/sandbox/", "/pay/sandbox/x")).status_code == 404
    assert Client().get("/pay/sandbox/P123/").status_code == 404


def test_confirm_on_gateway_pays_and_returns(
    start_payment, purpose, django_capture_on_commit_callbacks
):
    payment = start_payment(return_url="/mall/orders/J1/")
    client = Client(enforce_csrf_checks=False)
    url = payment_pay_url(payment)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "confirm"})

    assert response.status_code == 302 and response["Location"] == "/mall/orders/J1/"
    payment.refresh_from_db()
    trade = SandboxTrade.objects.get()
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no == trade.trade_no
    assert purpose.calls == [payment.pk]
    assert PaymentCallback.objects.get().result == "paid"
    # The page of a paid payment offers no second payment.
    page = client.get(url).content.decode()
    assert "已支付" in page and 'value="confirm"' not in page


def test_cancel_on_gateway_changes_nothing(start_payment, purpose):
    payment = start_payment(return_url="/mall/orders/J1/")

    response = Client().post(payment_pay_url(payment), {"action": "cancel"})

    assert response.status_code == 302 and response["Location"] == "/mall/orders/J1/"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert SandboxTrade.objects.count() == 0 and purpose.calls == []


def test_confirm_of_a_closed_payment_shows_the_error(start_payment, purpose):
    payment = start_payment()
    url = payment_pay_url(payment)
    services.payment_close(purpose=payment.purpose, reference=payment.reference)

    response = Client().post(url, {"action": "confirm"})

    assert response.status_code == 409
    assert "该支付单已关闭，不能支付。" in response.content.decode()
    assert SandboxTrade.objects.count() == 0


def test_callback_endpoint_needs_no_session_or_csrf(start_payment, purpose):
    payment = start_payment()
    body = callback_body(payment)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed(body).items()}
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/pay/callback/sandbox/", body, content_type="application/json", **headers
    )
    replay = client.post("/pay/callback/sandbox/", body, content_type="application/json", **headers)

    assert response.status_code == replay.status_code == 200
    assert response.json() == {"code": "SUCCESS"}
    assert Payment.objects.get().status == Payment.Status.PAID
    assert purpose.calls == [payment.pk]


def test_callback_endpoint_refuses_bad_signature(start_payment, purpose):
    payment = start_payment()
    body = callback_body(payment)

    response = Client().post(
        "/pay/callback/sandbox/",
        body,
        content_type="application/json",
        HTTP_X_SANDBOX_TIMESTAMP="1",
        HTTP_X_SANDBOX_SIGNATURE="00",
    )

    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "FAIL"
    assert Payment.objects.get().status == Payment.Status.CREATED


def test_callback_endpoint_methods_and_unknown_provider():
    assert Client().get("/pay/callback/sandbox/").status_code == 405
    assert Client().post("/pay/callback/paypal/", b"{}", content_type="x").status_code == 404


def test_api_payment_status(start_payment, member, make_member, send_callback):
    payment = start_payment(amount=Decimal("9.90"))
    client = Client()
    client.force_login(member)

    body = client.get(f"/api/v1/me/payments/{payment.pk}").json()

    assert body["status"] == "created" and body["amount"] == "9.90"
    assert body["pay_url"].startswith("/pay/sandbox/")
    assert body["number"] == payment.number and body["currency"] == "CNY"
    send_callback(payment)
    paid = client.get(f"/api/v1/me/payments/{payment.pk}").json()
    assert paid["status"] == "paid" and paid["pay_url"] == "" and paid["paid_at"]

    other = Client()
    other.force_login(make_member())
    response = other.get(f"/api/v1/me/payments/{payment.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "payment_not_found"
    assert Client().get(f"/api/v1/me/payments/{payment.pk}").status_code == 401
    assert client.get(f"/api/v1/me/payments/{2**63}").status_code == 404
