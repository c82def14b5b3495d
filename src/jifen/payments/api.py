"""Payments in the JSON API: a member's payment status, for the order page to poll.

The providers' callbacks are not here: they are plain views under /pay/callback/<provider>/
(no session, no CSRF, no Idempotency-Key: the provider's signature authenticates them).
"""

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from jifen.core.errors import NotFound
from jifen.members.api import ERRORS, local
from jifen.members.auth import member_auth
from jifen.payments import selectors
from jifen.payments.models import Payment

router = Router(tags=["payments"])

MAX_ID = 2**63 - 1


class PaymentOut(Schema):
    id: int
    number: str = Field(description="支付单号（商户订单号 out_trade_no）")
    purpose: str
    reference: str = Field(description="业务单号，如订单号")
    status: str = Field(description="created | paid | closed | refunded | partially_refunded")
    amount: str = Field(description='金额，如 "9.90"')
    refunded_amount: str
    currency: str
    provider: str
    description: str
    pay_url: str = Field(description="待支付时的支付地址（沙箱：网关页面），否则为空")
    expires_at: dt.datetime | None
    paid_at: dt.datetime | None
    created_at: dt.datetime


def payment_out(payment: Payment) -> dict:
    return {
        "id": payment.pk,
        "number": payment.number,
        "purpose": payment.purpose,
        "reference": payment.reference,
        "status": payment.status,
        "amount": f"{payment.amount:.2f}",
        "refunded_amount": f"{payment.refunded_amount:.2f}",
        "currency": payment.currency,
        "provider": payment.provider,
        "description": payment.description,
        "pay_url": selectors.payment_pay_url(payment),
        "expires_at": local(payment.expires_at),
        "paid_at": local(payment.paid_at),
        "created_at": local(payment.created_at),
    }


@router.get("/me/payments/{payment_id}", auth=member_auth, response={200: PaymentOut, **ERRORS})
def my_payment(request, payment_id: int):
    """One of my payments (404 payment_not_found for anyone else's)."""
    if not 1 <= payment_id <= MAX_ID:
        raise NotFound(_("支付单不存在。"), code="payment_not_found")
    return payment_out(
        selectors.payment_get_for_member(payment_id=payment_id, member_id=request.auth.pk)
    )
