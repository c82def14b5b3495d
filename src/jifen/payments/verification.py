"""Payments' invariant, registered with the ledger verification (jifen.payments.apps).

For every payment: refunded_amount equals the sum of its pending and succeeded refunds, and
a payment that was ever paid carries the provider's trade number and paid_at.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, Sum

from jifen.payments.models import Payment, Refund


def check_payments(report) -> None:
    from jifen.ledger.verification import Violation

    counted = dict(
        Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED])
        .values("payment_id")
        .annotate(total=Sum("amount"))
        .values_list("payment_id", "total")
    )
    with_refunds = Payment.objects.filter(Q(refunded_amount__gt=0) | Q(pk__in=list(counted)))
    for pk, number, refunded in with_refunds.values_list("pk", "number", "refunded_amount"):
        total = counted.get(pk) or Decimal("0")
        if total != refunded:
            report.violations.append(
                Violation("P1", f"payment {number}", f"refunded {refunded} != refunds {total}")
            )
    unpaid = Payment.objects.exclude(
        status__in=[Payment.Status.CREATED, Payment.Status.CLOSED]
    ).filter(Q(paid_at__isnull=True) | Q(provider_trade_no=""))
    for number in unpaid.values_list("number", flat=True):
        report.violations.append(
            Violation("P1", f"payment {number}", "paid without paid_at or trade number")
        )
