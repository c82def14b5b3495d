import pytest
from django.test import Client

from jifen.payments import services
from jifen.payments.models import PaymentCallback

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def paid(start_payment, purpose, django_capture_on_commit_callbacks):
    payment = start_payment()
    with django_capture_on_commit_callbacks(execute=True):
        services.sandbox_trade_confirm(payment_number=payment.number)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_refund(payment_id=payment.pk, amount="1.00", reference="RF1", reason="x")
    return payment


def test_pages_load(boss, paid):
    callback = PaymentCallback.objects.get()
    for path in (
        "/admin/payments/payment/",
        "/admin/payments/payment/?status__exact=partially_refunded&provider__exact=sandbox",
        f"/admin/payments/payment/?q={paid.number}",
        f"/admin/payments/payment/?q={paid.provider_trade_no}",
        f"/admin/payments/payment/{paid.pk}/change/",
        "/admin/payments/refund/",
        "/admin/payments/paymentcallback/",
        f"/admin/payments/paymentcallback/{callback.pk}/change/",
        "/admin/payments/sandboxtrade/",
    ):
        response = boss.get(path)
        assert response.status_code == 200, path
    assert paid.number in boss.get(f"/admin/payments/payment/?q={paid.reference}").content.decode()
    assert boss.get("/admin/payments/payment/add/").status_code == 403


def test_resend_action_replays_the_callback(
    boss, paid, purpose, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = boss.post(
            f"/admin/payments/payment/{paid.pk}/resend_callback/", {"_form_submitted": "on"}
        )

    assert response.status_code == 302
    assert purpose.calls == [paid.pk]
    assert list(PaymentCallback.objects.order_by("pk").values_list("result", flat=True)) == [
        "paid",
        "replay",
    ]
