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


# --- review N3: one submitter at a time; a refused resend is not believed blindly -------------


def _left_pending(paid, refund, monkeypatch):
    """A refund whose first send timed out AFTER the gateway refunded it."""
    real = SandboxProvider.refund

    def went_through_then_timed_out(self, payment, made):
        real(self, payment, made)
        raise ProviderError("read timed out")

    with monkeypatch.context() as patch:
        patch.setattr(SandboxProvider, "refund", went_through_then_timed_out)
        pending = refund(paid, "10.00", "RF1")
    assert (pending.status, pending.submit_attempts, pending.submitting_at) == ("pending", 1, None)
    return pending


def test_a_resent_refund_the_gateway_already_made_is_answered_by_reference(
    paid, refund, monkeypatch
):
    pending = _left_pending(paid, refund, monkeypatch)
    done = services.refund_submit(refund_id=pending.pk)
    paid.refresh_from_db()
    assert (done.status, done.submit_attempts) == ("succeeded", 2)
    assert (paid.status, paid.refunded_amount) == (Payment.Status.REFUNDED, Decimal("10.00"))
    assert SandboxTrade.objects.get().refunded_amount == Decimal("10.00")


def test_a_failed_answer_to_a_resend_is_checked_with_the_gateway(paid, refund, monkeypatch):
    """A gateway that refuses the duplicate with "failed": the sandbox is asked for the
    refund by reference; it went through, so it is succeeded and the amount stays taken."""
    from jifen.payments.providers.base import RefundResult

    pending = _left_pending(paid, refund, monkeypatch)
    monkeypatch.setattr(
        SandboxProvider, "refund", lambda self, p, r: RefundResult("failed", message="重复退款")
    )
    done = services.refund_submit(refund_id=pending.pk)
    paid.refresh_from_db()
    assert (done.status, done.failure) == ("succeeded", "")
    assert (paid.status, paid.refunded_amount) == (Payment.Status.REFUNDED, Decimal("10.00"))


def test_a_failed_resend_without_a_query_is_left_to_an_operator(paid, refund, monkeypatch):
    from jifen.payments.providers.base import RefundResult

    pending = _left_pending(paid, refund, monkeypatch)
    monkeypatch.setattr(SandboxProvider, "can_query_refunds", False)
    calls = []

    def refused(self, p, r):
        calls.append(r.reference)
        return RefundResult("failed", message="重复退款")

    monkeypatch.setattr(SandboxProvider, "refund", refused)
    done = services.refund_submit(refund_id=pending.pk)
    paid.refresh_from_db()
    assert (done.status, done.needs_attention, done.failure) == ("pending", True, "重复退款")
    assert (paid.status, paid.refunded_amount) == (Payment.Status.REFUNDED, Decimal("10.00"))
    # neither the job nor a direct submit sends it again
    from django.utils import timezone

    assert services.refunds_retry(before=timezone.now()) == 0
    services.refund_submit(refund_id=pending.pk)
    assert calls == ["RF1"]


def test_a_first_send_refused_is_final_and_releases_the_amount(paid, refund, monkeypatch):
    from jifen.payments.providers.base import RefundResult

    monkeypatch.setattr(SandboxProvider, "can_query_refunds", False)
    monkeypatch.setattr(
        SandboxProvider, "refund", lambda self, p, r: RefundResult("failed", message="维护")
    )
    failed = refund(paid, "10.00", "RF1")
    assert (failed.status, failed.needs_attention) == ("failed", False)
    assert (paid.status, paid.refunded_amount) == (Payment.Status.PAID, Decimal("0.00"))


def test_a_claimed_refund_is_not_sent_again_until_the_claim_is_stale(paid, refund, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    def timeout(self, payment, made):
        raise ProviderError("timed out")

    monkeypatch.setattr(SandboxProvider, "refund", timeout)
    pending = refund(paid, "10.00", "RF1")
    monkeypatch.undo()
    claimed_at = timezone.now()
    Refund.objects.filter(pk=pending.pk).update(submitting_at=claimed_at)  # someone sending
    calls = []
    real = SandboxProvider.refund

    def counting(self, p, r):
        calls.append(r.reference)
        return real(self, p, r)

    monkeypatch.setattr(SandboxProvider, "refund", counting)
    assert services.refund_submit(refund_id=pending.pk).status == "pending"
    assert calls == []
    Refund.objects.filter(pk=pending.pk).update(
        submitting_at=claimed_at - dt.timedelta(minutes=services.REFUND_CLAIM_MINUTES + 1)
    )
    assert services.refund_submit(refund_id=pending.pk).status == "succeeded"
    assert calls == ["RF1"]
