from decimal import Decimal

import pytest

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.payments import services
from jifen.payments.models import Payment, Refund, SandboxTrade
from jifen.payments.providers.base import ProviderError
from jifen.payments.providers.sandbox import SandboxProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(start_payment, purpose, django_capture_on_commit_callbacks):
    """A payment of 10.00 paid through the sandbox gateway."""
    payment = start_payment(amount=Decimal("10.00"))
    with django_capture_on_commit_callbacks(execute=True):
        services.sandbox_trade_confirm(payment_number=payment.number)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    return payment


@pytest.fixture
def refund(django_capture_on_commit_callbacks):
    def make(payment, amount, reference, reason="退货"):
        with django_capture_on_commit_callbacks(execute=True):
            made = services.payment_refund(
                payment_id=payment.pk, amount=amount, reference=reference, reason=reason
            )
        made.refresh_from_db()
        payment.refresh_from_db()
        return made

    return make


def test_partial_then_full_refund(paid, refund):
    first = refund(paid, "3.33", "RF1")
    assert (first.status, first.amount) == (Refund.Status.SUCCEEDED, Decimal("3.33"))
    assert (paid.status, paid.refunded_amount) == (
        Payment.Status.PARTIALLY_REFUNDED,
        Decimal("3.33"),
    )

    refund(paid, "3.33", "RF2")
    last = refund(paid, "3.34", "RF3")

    assert last.status == Refund.Status.SUCCEEDED
    assert (paid.status, paid.refunded_amount) == (Payment.Status.REFUNDED, Decimal("10.00"))
    assert SandboxTrade.objects.get().refunded_amount == Decimal("10.00")


def test_refund_is_idempotent_by_reference(paid, refund):
    first = refund(paid, "4.00", "RF1")
    again = refund(paid, "4.00", "RF1")

    assert again.pk == first.pk
    assert Refund.objects.count() == 1
    assert paid.refunded_amount == Decimal("4.00")
    with pytest.raises(Conflict) as error:
        refund(paid, "5.00", "RF1")
    assert error.value.code == "reference_reused"


def test_refund_never_exceeds_paid(paid, refund):
    refund(paid, "8.00", "RF1")

    with pytest.raises(ValidationFailed) as error:
        refund(paid, "2.01", "RF2")

    assert error.value.code == "refund_exceeds_paid"
    assert error.value.fields["refundable"] == "2.00"
    paid.refresh_from_db()
    assert paid.refunded_amount == Decimal("8.00")
    assert paid.status == Payment.Status.PARTIALLY_REFUNDED
    assert list(Refund.objects.values_list("reference", flat=True)) == ["RF1"]


def test_refund_of_unpaid_or_missing_payment(start_payment, refund):
    payment = start_payment()

    with pytest.raises(Conflict) as error:
        refund(payment, "1.00", "RF1")
    assert error.value.code == "payment_not_paid"
    with pytest.raises(NotFound):
        services.payment_refund(payment_id=999_999, amount="1.00", reference="RF2", reason="x")
    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "reason", "code"),
    [("0", "x", "invalid_amount"), ("-1", "x", "invalid_amount"), ("1.00", "", "required")],
)
def test_refund_bad_input_changes_nothing(paid, refund, amount, reason, code):
    with pytest.raises(ValidationFailed) as error:
        refund(paid, amount, "RF1", reason=reason)

    assert error.value.code == code
    assert Refund.objects.count() == 0
    paid.refresh_from_db()
    assert paid.refunded_amount == Decimal("0.00")


def test_failed_refund_gives_the_amount_back(paid, refund, monkeypatch):
    from jifen.payments.providers.base import RefundResult

    monkeypatch.setattr(
        SandboxProvider, "refund", lambda self, p, r: RefundResult("failed", message="余额不足")
    )

    failed = refund(paid, "10.00", "RF1")

    assert (failed.status, failed.failure) == (Refund.Status.FAILED, "余额不足")
    assert (paid.status, paid.refunded_amount) == (Payment.Status.PAID, Decimal("0.00"))


def test_gateway_timeout_leaves_refund_pending_then_retry(paid, refund, monkeypatch):
    def timeout(self, payment, made):
        raise ProviderError("timed out")

    monkeypatch.setattr(SandboxProvider, "refund", timeout)
    pending = refund(paid, "10.00", "RF1")
    assert pending.status == Refund.Status.PENDING
    assert (paid.status, paid.refunded_amount) == (Payment.Status.REFUNDED, Decimal("10.00"))

    monkeypatch.undo()
    done = services.refund_submit(refund_id=pending.pk)

    assert done.status == Refund.Status.SUCCEEDED


def test_refund_inside_a_transaction_is_submitted_after_commit(paid):
    # (the test's own transaction never commits: the refund stays pending, the money reserved)
    made = services.payment_refund(payment_id=paid.pk, amount="1.00", reference="RF1", reason="x")

    assert made.status == Refund.Status.PENDING
    paid.refresh_from_db()
    assert paid.refunded_amount == Decimal("1.00")
    assert SandboxTrade.objects.get().refunded_amount == Decimal("0.00")


def test_retry_job_refunds_refused_money_whose_refund_never_started(
    start_payment, purpose, django_capture_on_commit_callbacks, monkeypatch
):
    import datetime as dt

    from django.utils import timezone

    from jifen.payments import tasks

    payment = start_payment(amount=Decimal("6.00"))
    purpose.accept = False
    # The process died between the commit and queueing the refund.
    monkeypatch.setattr(tasks.payment_refund_full_task, "delay", lambda *args: None)
    with django_capture_on_commit_callbacks(execute=True):
        services.sandbox_trade_confirm(payment_number=payment.number)
    payment.refresh_from_db()
    assert (payment.status, Refund.objects.count()) == (Payment.Status.PAID, 0)

    with django_capture_on_commit_callbacks(execute=True):
        touched = services.refunds_retry(before=timezone.now() + dt.timedelta(seconds=1))
    again = services.refunds_retry(before=timezone.now() + dt.timedelta(seconds=1))

    payment.refresh_from_db()
    assert (touched, again) == (1, 0)
    assert payment.status == Payment.Status.REFUNDED
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.reason) == (
        Decimal("6.00"),
        Refund.Status.SUCCEEDED,
        "订单已关闭",
    )
