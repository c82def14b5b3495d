from decimal import Decimal

import pytest

from jifen.ledger.verification import ledger_verify
from jifen.payments.models import Payment

pytestmark = pytest.mark.django_db


def test_verification_catches_a_refunded_amount_without_refunds(start_payment, send_callback):
    payment = start_payment(amount=Decimal("9.90"))
    send_callback(payment)
    assert ledger_verify().ok

    Payment.objects.filter(pk=payment.pk).update(refunded_amount=Decimal("1.00"))
    report = ledger_verify()
    Payment.objects.filter(pk=payment.pk).update(refunded_amount=Decimal("0.00"))

    assert [v.invariant for v in report.violations] == ["P1"]
    assert "refunded 1.00 != refunds 0" in report.violations[0].message
