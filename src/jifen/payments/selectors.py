"""Reads of payments."""

from __future__ import annotations

from django.utils.translation import gettext as _

from jifen.core.errors import NotFound
from jifen.payments.models import Payment
from jifen.payments.providers import get_provider
from jifen.payments.providers.sandbox import gateway_token_number


def payment_for(*, purpose: str, reference: str) -> Payment | None:
    """The payment of (purpose, reference), whatever its status, or None."""
    return Payment.objects.filter(purpose=purpose, reference=reference).first()


def payment_pay_url(payment: Payment) -> str:
    """Where to send the member to pay: the provider's redirect URL (sandbox: the gateway
    page). Empty when the payment cannot be paid any more or the provider pays by form/QR
    (see the provider's PayAction; docs/payments.md)."""
    if payment.status != Payment.Status.CREATED:
        return ""
    action = get_provider(payment.provider).create(payment)
    return action.url if action.kind == "redirect" else ""


def payment_get_for_member(*, payment_id: int, member_id: int) -> Payment:
    """A member's own payment; NotFound `payment_not_found` for anyone else's."""
    payment = Payment.objects.filter(pk=payment_id, member_id=member_id).first()
    if payment is None:
        raise NotFound(_("支付单不存在。"), code="payment_not_found")
    return payment


def sandbox_payment_for_token(*, token: str) -> Payment:
    """The sandbox payment a gateway token was signed for; NotFound if tampered with."""
    number = gateway_token_number(token)
    payment = Payment.objects.filter(number=number, provider="sandbox").first() if number else None
    if payment is None:
        raise NotFound(_("支付链接无效。"), code="payment_not_found")
    return payment
