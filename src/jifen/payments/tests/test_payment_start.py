import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.payments import services
from jifen.payments.models import Payment
from jifen.payments.selectors import payment_for, payment_pay_url
from jifen.payments.tests.conftest import PURPOSE

pytestmark = pytest.mark.django_db


def test_start_creates_one_payment(start_payment, member):
    payment = start_payment(reference="J1", amount=Decimal("9.90"))

    assert payment.status == Payment.Status.CREATED
    assert payment.amount == Decimal("9.90")
    assert payment.currency == "CNY"
    assert payment.provider == "sandbox"
    assert payment.member_id == member.pk
    assert payment.refunded_amount == Decimal("0.00")
    assert payment.number.startswith("P") and len(payment.number) == 19
    assert payment_for(purpose=PURPOSE, reference="J1") == payment
    assert payment_for(purpose=PURPOSE, reference="nope") is None


def test_start_twice_returns_the_same_payment(start_payment):
    first = start_payment(reference="J1", amount="9.90")
    again = start_payment(reference="J1", amount=Decimal("9.9"))

    assert again.pk == first.pk
    assert Payment.objects.count() == 1


def test_start_with_other_amount_is_a_conflict(start_payment):
    start_payment(reference="J1", amount="9.90")

    with pytest.raises(Conflict) as error:
        start_payment(reference="J1", amount="10.00")

    assert error.value.code == "reference_reused"
    assert Payment.objects.count() == 1


def test_start_after_close_is_a_conflict(start_payment):
    start_payment(reference="J1")
    services.payment_close(purpose=PURPOSE, reference="J1")

    with pytest.raises(Conflict) as error:
        start_payment(reference="J1")

    assert error.value.code == "payment_closed"


@pytest.mark.parametrize(
    "amount", [0, -1, "0.00", "1.001", "abc", 1.5, True, None, "NaN", "Infinity", "100000000"]
)
def test_start_refuses_bad_amounts(start_payment, amount):
    with pytest.raises(ValidationFailed) as error:
        start_payment(amount=amount)

    assert error.value.code == "invalid_amount"
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("currency", "RMB1", "invalid_currency"),
        ("description", "", "required"),
        ("description", "x" * 129, "invalid_text"),
        ("return_url", "javascript:alert(1)", "invalid_return_url"),
        ("return_url", "//evil.example/", "invalid_return_url"),
        ("provider", "paypal", "unknown_provider"),
        ("expires_at", dt.datetime(2030, 1, 1), "invalid_datetime"),
        ("reference", "", "invalid_reference"),
    ],
)
def test_start_refuses_bad_input(start_payment, field, value, code):
    with pytest.raises(ValidationFailed) as error:
        start_payment(**{field: value})

    assert error.value.code == code
    assert Payment.objects.count() == 0


def test_start_refuses_unknown_purpose_and_member(start_payment, member):
    with pytest.raises(ValidationFailed) as error:
        services.payment_start(
            purpose="nobody_registered",
            reference="J1",
            member_id=member.pk,
            amount="1.00",
            currency="CNY",
            description="x",
            return_url="/",
        )
    assert error.value.code == "unknown_purpose"

    with pytest.raises(NotFound) as missing:
        start_payment(member_id=999_999)
    assert missing.value.code == "member_not_found"
    assert Payment.objects.count() == 0


def test_pay_url_is_the_sandbox_gateway_until_closed(start_payment):
    payment = start_payment(reference="J1")

    url = payment_pay_url(payment)

    assert url.startswith("/pay/sandbox/") and url.endswith("/")
    services.payment_close(purpose=PURPOSE, reference="J1")
    payment.refresh_from_db()
    assert payment_pay_url(payment) == ""


def test_close_is_idempotent_and_leaves_paid_payments(start_payment, send_callback, purpose):
    open_one = start_payment(reference="J1", expires_at=timezone.now())
    paid = start_payment(reference="J2")
    send_callback(paid)

    closed = services.payment_close(purpose=PURPOSE, reference="J1")
    again = services.payment_close(purpose=PURPOSE, reference="J1")
    still_paid = services.payment_close(purpose=PURPOSE, reference="J2")

    assert closed.pk == open_one.pk and closed.status == Payment.Status.CLOSED
    assert closed.closed_at is not None
    assert again.status == Payment.Status.CLOSED and again.closed_at == closed.closed_at
    assert still_paid.status == Payment.Status.PAID and still_paid.closed_at is None
    assert services.payment_close(purpose=PURPOSE, reference="none") is None


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/",
        "http://evil.example/mall/orders/J1/",
        "https://shop.example.com.evil.example/",
        "https://shop.example.com@evil.example/",
        "https://evil.example:443/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "https:/evil.example/",
        "https:evil.example",
        "ftp://shop.example.com/",
        "mall/orders/J1/",
        "/mall/\norders/",
        "https://evil.example\t/",
    ],
)
def test_start_refuses_return_urls_off_the_site(start_payment, settings, return_url):
    settings.ALLOWED_HOSTS = ["shop.example.com", ".example.org", "*"]

    with pytest.raises(ValidationFailed) as error:
        start_payment(return_url=return_url)

    assert error.value.code == "invalid_return_url"
    assert error.value.fields == {"return_url": return_url.strip()}
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    "return_url",
    [
        "/mall/orders/J1/",
        "/",
        "/mall/orders/?tab=paid#top",
        "https://shop.example.com/mall/orders/J1/",
        "http://shop.example.com:8000/mall/",
        "https://m.example.org/orders/",
    ],
)
def test_start_accepts_site_paths_and_allowed_hosts(start_payment, settings, return_url):
    settings.ALLOWED_HOSTS = ["shop.example.com", ".example.org"]

    payment = start_payment(return_url=return_url)

    assert Payment.objects.get().return_url == return_url == payment.return_url
