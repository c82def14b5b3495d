"""Writes to payments (docs/payments.md; statuses in jifen.payments.models).

What other apps call:
- `payment_start(...)`: one Payment per (purpose, reference); a retry returns it.
- `payment_close(purpose, reference)`: an unpaid payment can no longer be paid.
- `payment_refund(payment_id, amount, reference, reason)`: through the provider, once per
  reference, never more than was paid.

What the gateway drives:
- `payment_callback_handle(provider, body, headers)`: the signed "paid" callback. Signature
  first (nothing changes without it), then amount and currency, then one guarded UPDATE
  created → paid and, in the same transaction, the purpose's `on_paid`. A replay has no
  second effect. Money that arrives for a closed payment, or that `on_paid` refuses, is
  refunded in full after commit.
- `sandbox_trade_confirm`, `payment_callback_resend`: the sandbox gateway's side.

Guarantees, kept by the database: the (purpose, reference), `number` and refund `reference`
are unique; status moves and `refunded_amount` change by guarded single UPDATEs (row count
checked; a CHECK keeps 0 <= refunded_amount <= amount). Lock order: the payment row (taken by
the guarded UPDATE) before anything `on_paid` locks. No provider call inside a transaction:
they run after commit (`transaction.on_commit`).

Errors raised: ValidationFailed, NotFound, Conflict.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.http.request import validate_host
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.payments.models import Payment, PaymentCallback, Refund, SandboxTrade
from jifen.payments.providers import default_provider_name, get_provider, provider_known
from jifen.payments.providers.base import (
    CallbackMalformed,
    CallbackReply,
    CallbackResult,
    ProviderError,
    SignatureInvalid,
)
from jifen.payments.registry import purpose_handler, purpose_registered

logger = logging.getLogger(__name__)

MAX_AMOUNT = Decimal("99999999.99")
CENT = Decimal("0.01")
OPEN_STATUSES = (Payment.Status.CREATED, Payment.Status.PAID)
REFUNDABLE_STATUSES = (Payment.Status.PAID, Payment.Status.PARTIALLY_REFUNDED)
# Headers worth keeping with a logged callback (never cookies or credentials).
LOGGED_HEADER_PREFIXES = ("x-sandbox-", "wechatpay-", "x-alipay-", "content-type", "user-agent")


# --- validation -------------------------------------------------------------------------------


def _amount(value, field_name: str = "amount") -> Decimal:
    """A positive cash amount with at most two decimals (floats are refused: money)."""
    error = ValidationFailed(
        _("金额须为大于 0 的数字，最多两位小数。"),
        code="invalid_amount",
        fields={field_name: str(value)},
    )
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise error
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise error from None
    if (
        not amount.is_finite()
        or amount <= 0
        or amount > MAX_AMOUNT
        or amount != amount.quantize(CENT)
    ):
        raise error
    return amount.quantize(CENT)


def _text(value, field_name: str, *, max_length: int, required: bool = True) -> str:
    value = "" if value is None else value
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > max_length:
        raise ValidationFailed(
            _("%(field)s 不能超过 %(n)s 个字符。") % {"field": field_name, "n": max_length},
            code="invalid_text",
            fields={field_name: value if isinstance(value, str) else str(value)},
        )
    value = value.strip()
    if required and not value:
        raise ValidationFailed(
            _("请填写%(field)s。") % {"field": field_name}, code="required", fields={field_name: ""}
        )
    return value


def _reference(value, field_name: str = "reference") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100 or "\x00" in value:
        raise ValidationFailed(
            _("业务单号须为 1 到 100 个字符。"),
            code="invalid_reference",
            fields={field_name: value if isinstance(value, str) else str(value)},
        )
    return value


def _currency(value) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ValidationFailed(
            _("币种须为 3 位字母代码，如 CNY。"),
            code="invalid_currency",
            fields={"currency": value},
        )
    return value.upper()


def _return_url(value) -> str:
    """Where the gateway sends the member back: a path on this site ("/mall/orders/J1/", not
    "//host" nor "/\\host"), or an http(s) URL whose host is one of ALLOWED_HOSTS (the "*"
    wildcard does not count). Anything else would make the gateway an open redirect."""
    value = _text(value, "return_url", max_length=500)
    if not _return_url_allowed(value):
        raise ValidationFailed(
            _("返回地址须为本站路径或本站域名下的 http(s) 地址。"),
            code="invalid_return_url",
            fields={"return_url": value},
        )
    return value


def _return_url_allowed(value: str) -> bool:
    if "\\" in value or any(ord(char) < 32 or ord(char) == 127 for char in value):
        return False  # browsers read a backslash as "/": "/" + backslash + "evil" is "//evil"
    if value.startswith("/"):
        return not value.startswith("//")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not hostname or "@" in parts.netloc:
        return False
    if not url_has_allowed_host_and_scheme(
        value, allowed_hosts={parts.netloc}, require_https=False
    ):
        return False
    host = f"[{hostname}]" if ":" in hostname else hostname
    patterns = [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"]
    return validate_host(host, patterns)


def _new_number() -> str:
    """Our merchant order number at the gateway (out_trade_no): 19 characters, letters and
    digits, as WeChat Pay (6–32) and Alipay (up to 64) accept."""
    return f"P{timezone.localtime():%y%m%d}{secrets.token_hex(6).upper()}"


# --- starting and closing ---------------------------------------------------------------------


def payment_start(
    *,
    purpose: str,
    reference: str,
    member_id: int,
    amount,
    currency: str,
    description: str,
    return_url: str,
    expires_at: dt.datetime | None = None,
    provider: str | None = None,
) -> Payment:
    """The payment collecting `amount` for (purpose, reference), created once.

    A repeat returns the existing payment while it is open or paid; with another member,
    amount or currency it is a Conflict `reference_reused`; once closed or refunded it is a
    Conflict `payment_closed`. Raises ValidationFailed for an unknown purpose
    (`unknown_purpose`) or provider (`unknown_provider`), amount <= 0 or with more than two
    decimals, and NotFound `member_not_found`. Safe inside the caller's transaction.
    """
    if not isinstance(purpose, str) or not purpose_registered(purpose):
        raise ValidationFailed(
            _("未知的支付用途。"), code="unknown_purpose", fields={"purpose": str(purpose)}
        )
    reference = _reference(reference)
    amount = _amount(amount)
    currency = _currency(currency)
    description = _text(description, "description", max_length=128)
    return_url = _return_url(return_url)
    provider = provider or default_provider_name()
    if not provider_known(provider):
        raise ValidationFailed(
            _("未知的支付渠道。"), code="unknown_provider", fields={"provider": provider}
        )
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ValidationFailed(
            _("时间须带时区。"), code="invalid_datetime", fields={"expires_at": str(expires_at)}
        )
    if not get_user_model().objects.filter(pk=member_id).exists():
        raise NotFound(_("会员不存在。"), code="member_not_found", fields={"member_id": member_id})
    try:
        with transaction.atomic():
            return Payment.objects.create(
                number=_new_number(),
                purpose=purpose,
                reference=reference,
                member_id=member_id,
                amount=amount,
                currency=currency,
                description=description,
                return_url=return_url,
                expires_at=expires_at,
                provider=provider,
            )
    except IntegrityError:
        existing = Payment.objects.filter(purpose=purpose, reference=reference).first()
        if existing is None:  # a number collision (48 random bits a day): try once more
            return payment_start(
                purpose=purpose,
                reference=reference,
                member_id=member_id,
                amount=amount,
                currency=currency,
                description=description,
                return_url=return_url,
                expires_at=expires_at,
                provider=provider,
            )
    if (
        existing.member_id != member_id
        or existing.amount != amount
        or existing.currency != currency
    ):
        raise Conflict(
            _("该业务单号已用于其他支付。"),
            code="reference_reused",
            fields={"reference": reference},
        )
    if existing.status not in OPEN_STATUSES:
        raise Conflict(
            _("该支付单已关闭。"), code="payment_closed", fields={"reference": reference}
        )
    return existing


def payment_close(*, purpose: str, reference: str) -> Payment | None:
    """Make the unpaid payment of (purpose, reference) unpayable (created → closed).

    Returns None when there is none, the payment unchanged when it is already paid, closed
    or refunded (callers' retries are harmless). A paid callback that still arrives for a
    closed payment is refunded in full. Call it after the purpose's own commit (orders:
    transaction.on_commit) so that no order lock is held while the payment row is locked.
    """
    payment = Payment.objects.filter(purpose=purpose, reference=reference).first()
    if payment is None:
        return None
    moved = Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(
        status=Payment.Status.CLOSED, closed_at=timezone.now(), updated_at=timezone.now()
    )
    payment.refresh_from_db()
    if moved:
        transaction.on_commit(lambda: _provider_close(payment))
    return payment


def _provider_close(payment: Payment) -> None:
    try:
        get_provider(payment.provider).close(payment)
    except ProviderError:  # the gateway's own expiry closes it too; a late payment is refunded
        logger.warning("could not close payment %s at %s", payment.number, payment.provider)


# --- callbacks --------------------------------------------------------------------------------


def _log_callback(
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    result: str,
    signature_ok: bool,
    payment: Payment | None = None,
    message: str = "",
) -> PaymentCallback:
    kept = {
        str(key): str(value)[:500]
        for key, value in headers.items()
        if str(key).lower().startswith(LOGGED_HEADER_PREFIXES)
    }
    return PaymentCallback.objects.create(
        provider=provider[:20],
        payment=payment,
        body=body[:65536].decode("utf-8", errors="replace"),
        headers=kept,
        signature_ok=signature_ok,
        result=result,
        message=message[:300],
    )


def payment_callback_handle(
    *, provider: str, body: bytes, headers: Mapping[str, str]
) -> CallbackReply:
    """Handle one provider callback and return the reply the provider expects.

    - Bad, missing or stale signature: 400, logged, nothing else changes.
    - Signed but malformed, unknown payment, or amount/currency not the payment's: a failure
      reply, logged, nothing changes.
    - "Paid" for a created payment: created → paid by one guarded UPDATE and, in the same
      transaction, the purpose's on_paid; if it returns False the payment is refunded in full
      after commit (reason "订单已关闭").
    - "Paid" for a closed payment: closed → paid, then refunded in full after commit.
    - A replay (already paid or refunded) with the stored trade number: success reply, no
      second effect. With another trade number: a failure reply, logged as
      "conflicting_replay" for the operators, nothing changes (the gateway keeps retrying,
      so the unexplained trade stays visible until someone looks at it).
    - on_paid raising: everything rolls back, logged, a 500 reply (the provider retries).
    NotFound `unknown_provider` for a provider name that is not configured.
    """
    try:
        gateway = get_provider(provider)
    except KeyError:
        raise NotFound(_("未知的支付渠道。"), code="unknown_provider") from None
    body = bytes(body)
    try:
        result = gateway.parse_callback(body, headers)
    except SignatureInvalid as error:
        _log_callback(
            provider, body, headers, result="bad_signature", signature_ok=False, message=str(error)
        )
        return gateway.reply(ok=False, message="invalid signature")
    except CallbackMalformed as error:
        _log_callback(
            provider, body, headers, result="malformed", signature_ok=True, message=str(error)
        )
        return gateway.reply(ok=False, message="malformed")

    payment = Payment.objects.filter(number=result.out_trade_no, provider=provider).first()
    if payment is None:
        _log_callback(provider, body, headers, result="unknown_payment", signature_ok=True)
        return gateway.reply(ok=False, message="unknown out_trade_no")
    if result.status != "paid":
        _log_callback(provider, body, headers, result="ignored", signature_ok=True, payment=payment)
        return gateway.reply(ok=True)
    if result.amount != payment.amount or result.currency.upper() != payment.currency:
        _log_callback(
            provider,
            body,
            headers,
            result="amount_mismatch",
            signature_ok=True,
            payment=payment,
            message=f"{result.amount} {result.currency} != {payment.amount} {payment.currency}",
        )
        return gateway.reply(ok=False, message="amount mismatch")
    try:
        with transaction.atomic():
            outcome = _mark_paid(payment, result, body)
    except Exception as error:  # on_paid failed: nothing happened, the provider will retry
        logger.exception("payment callback for %s failed", payment.number)
        _log_callback(
            provider,
            body,
            headers,
            result="error",
            signature_ok=True,
            payment=payment,
            message=f"{type(error).__name__}: {error}",
        )
        failed = gateway.reply(ok=False, message="temporary failure")
        return CallbackReply(500, failed.body, failed.content_type)
    if outcome == PaymentCallback.Result.CONFLICTING_REPLAY:
        _log_callback(
            provider,
            body,
            headers,
            result=outcome,
            signature_ok=True,
            payment=payment,
            message=f"trade_no {result.trade_no[:64]} != {payment.provider_trade_no}",
        )
        return gateway.reply(ok=False, message="trade_no mismatch")
    _log_callback(provider, body, headers, result=outcome, signature_ok=True, payment=payment)
    return gateway.reply(ok=True)


def _mark_paid(payment: Payment, result: CallbackResult, body: bytes) -> str:
    now = timezone.now()
    paid_at = result.paid_at if result.paid_at and timezone.is_aware(result.paid_at) else now
    changes = {
        "status": Payment.Status.PAID,
        "paid_at": paid_at,
        "provider_trade_no": result.trade_no[:64],
        "callback_body": body.decode("utf-8", errors="replace"),
        "updated_at": now,
    }
    # The guarded UPDATE takes the payment row's lock first; on_paid locks its own rows after.
    if Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(**changes):
        payment.refresh_from_db()
        on_paid = purpose_handler(payment.purpose)
        if on_paid is None:
            raise RuntimeError(f"no on_paid registered for purpose {payment.purpose!r}")
        if on_paid(payment) is False:
            _refund_in_full_after_commit(payment, reason=_("订单已关闭"))
            return PaymentCallback.Result.PAID_REJECTED
        return PaymentCallback.Result.PAID
    if Payment.objects.filter(pk=payment.pk, status=Payment.Status.CLOSED).update(**changes):
        # Money came in for a dead payment: it goes back, whole.
        payment.refresh_from_db()
        _refund_in_full_after_commit(payment, reason=_("支付单已关闭"))
        return PaymentCallback.Result.PAID_AFTER_CLOSE
    # Already paid (or refunded): a true replay carries the trade number we stored. Another
    # trade number for the same payment is not ours to acknowledge (a second trade at the
    # gateway, or a bug there): it changes nothing and is logged for the operators.
    payment.refresh_from_db(fields=["provider_trade_no"])
    if payment.provider_trade_no != result.trade_no[:64]:
        return PaymentCallback.Result.CONFLICTING_REPLAY
    return PaymentCallback.Result.REPLAY


def _refund_in_full_after_commit(payment: Payment, *, reason: str) -> None:
    from jifen.payments.tasks import payment_refund_full_task

    payment_id = payment.pk
    # robust: a failure here must not turn the committed payment into an error reply; the
    # retry job (refunds_retry_pending_task) finds refused money that was not refunded.
    transaction.on_commit(lambda: payment_refund_full_task.delay(payment_id, reason), robust=True)


def payment_refund_full(*, payment_id: int, reason: str) -> Refund:
    """Refund what is left of a payment, once (reference "<number>:full")."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(_("支付单不存在。"), code="payment_not_found")
    existing = Refund.objects.filter(reference=f"{payment.number}:full").first()
    if existing is not None:
        return existing
    return payment_refund(
        payment_id=payment.pk,
        amount=payment.amount - payment.refunded_amount,
        reference=f"{payment.number}:full",
        reason=reason,
    )


# --- refunds ----------------------------------------------------------------------------------


def payment_refund(*, payment_id: int, amount, reference: str, reason: str) -> Refund:
    """Refund `amount` of a paid payment through its provider, once per `reference`.

    The amount is reserved first by one guarded UPDATE (refunded_amount + amount <= amount),
    so concurrent refunds never exceed what was paid: ValidationFailed `refund_exceeds_paid`
    otherwise, and nothing changes. The provider is called after commit (never inside a
    transaction): outside one, the returned refund already carries the provider's answer;
    inside the caller's transaction it is submitted when that commits (status "pending"
    until then). A failed refund gives its amount back. A repeat with the same reference
    returns the first refund; with another payment or amount, Conflict `reference_reused`.
    NotFound `payment_not_found`; Conflict `payment_not_paid` for an unpaid payment.
    """
    amount = _amount(amount)
    reference = _reference(reference)
    reason = _text(reason, "reason", max_length=200)
    try:
        with transaction.atomic():
            payment = Payment.objects.filter(pk=payment_id).first()
            if payment is None:
                raise NotFound(
                    _("支付单不存在。"),
                    code="payment_not_found",
                    fields={"payment_id": payment_id},
                )
            refund = Refund.objects.create(
                payment=payment,
                member_id=payment.member_id,
                reference=reference,
                amount=amount,
                reason=reason,
            )
            _refund_reserve(payment, amount)
    except IntegrityError:
        existing = Refund.objects.get(reference=reference)
        if existing.payment_id != payment_id or existing.amount != amount:
            raise Conflict(
                _("该退款单号已用于其他退款。"),
                code="reference_reused",
                fields={"reference": reference},
            ) from None
        return existing
    refund_id = refund.pk
    transaction.on_commit(lambda: refund_submit(refund_id=refund_id), robust=True)
    refund.refresh_from_db()
    return refund


def _refund_reserve(payment: Payment, amount: Decimal) -> None:
    taken = Payment.objects.filter(
        pk=payment.pk,
        status__in=REFUNDABLE_STATUSES,
        refunded_amount__lte=F("amount") - amount,
    ).update(
        refunded_amount=F("refunded_amount") + amount,
        status=Case(
            When(amount=F("refunded_amount") + amount, then=Value(Payment.Status.REFUNDED)),
            default=Value(Payment.Status.PARTIALLY_REFUNDED),
        ),
        updated_at=timezone.now(),
    )
    if taken:
        return
    payment.refresh_from_db()
    if payment.status not in (*REFUNDABLE_STATUSES, Payment.Status.REFUNDED):
        raise Conflict(
            _("该支付单未支付，不能退款。"),
            code="payment_not_paid",
            fields={"payment_id": payment.pk, "status": payment.status},
        )
    raise ValidationFailed(
        _("退款金额超过可退金额（%(left)s）。") % {"left": payment.refundable_amount},
        code="refund_exceeds_paid",
        fields={"amount": str(amount), "refundable": str(payment.refundable_amount)},
    )


# A claim on a refund (Refund.submitting_at) older than this is stale: its submitter is
# presumed gone, and the refund may be sent again.
REFUND_CLAIM_MINUTES = 5


def refund_submit(*, refund_id: int) -> Refund:
    """Ask the provider for a pending refund (after commit; also for retries of ones left
    pending by a gateway timeout). Succeeded and failed are final; a failed refund gives its
    amount back to the payment by one guarded UPDATE.

    Once at a time: the refund is claimed first by a guarded UPDATE (pending, and no claim
    younger than REFUND_CLAIM_MINUTES); a caller that loses the claim returns the refund
    without calling the provider. The claim is let go when the gateway answered "unknown"
    (ProviderError), so the next retry may send it again. A "failed" answer to a resend (the
    first send may have gone through, and a gateway may refuse the duplicate) is not
    believed blindly: the provider is asked for the refund when it can be (`query_refund`),
    else the refund stays pending with its amount reserved and `needs_attention` set for an
    operator.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING or refund.needs_attention:
        return refund
    now = timezone.now()
    claimed = (
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING, needs_attention=False)
        .filter(
            Q(submitting_at__isnull=True)
            | Q(submitting_at__lt=now - dt.timedelta(minutes=REFUND_CLAIM_MINUTES))
        )
        .update(submitting_at=now, submit_attempts=F("submit_attempts") + 1)
    )
    if not claimed:  # someone else is talking to the gateway about it
        refund.refresh_from_db()
        return refund
    resend = refund.submit_attempts > 0
    mine = Refund.objects.filter(pk=refund.pk, submitting_at=now)
    provider = get_provider(refund.payment.provider)
    try:
        result = provider.refund(refund.payment, refund)
        if result.status == "failed" and resend:
            if not provider.can_query_refunds:
                mine.filter(status=Refund.Status.PENDING).update(
                    needs_attention=True, failure=result.message[:200], submitting_at=None
                )
                logger.error(
                    "refund %s: gateway refused a resend; left to an operator", refund.reference
                )
                refund.refresh_from_db()
                return refund
            result = provider.query_refund(refund.payment, refund)
            if result is None:
                raise ProviderError("the gateway cannot tell whether the refund went through")
    except ProviderError as error:  # outcome unknown: stays pending, submitted again later
        logger.warning("refund %s left pending: %s", refund.reference, error)
        mine.update(submitting_at=None)
        refund.refresh_from_db()
        return refund
    now = timezone.now()
    if result.status == "succeeded":
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED,
            provider_refund_no=result.provider_refund_no[:64],
            finished_at=now,
        )
    elif result.status == "failed":
        with transaction.atomic():
            failed = Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.FAILED, failure=result.message[:200], finished_at=now
            )
            if failed:
                Payment.objects.filter(
                    pk=refund.payment_id, refunded_amount__gte=refund.amount
                ).update(
                    refunded_amount=F("refunded_amount") - refund.amount,
                    status=Case(
                        When(refunded_amount=refund.amount, then=Value(Payment.Status.PAID)),
                        default=Value(Payment.Status.PARTIALLY_REFUNDED),
                    ),
                    updated_at=now,
                )
    else:  # the gateway accepted it and will finish later: ask again next time
        mine.update(submitting_at=None)
    refund.refresh_from_db()
    return refund


def refunds_retry(*, before: dt.datetime, limit: int = 500) -> int:
    """Finish what commits left behind, for refunds started before `before`: submit pending
    refunds again (the gateways dedupe by reference; `refund_submit`'s claim keeps two runs
    from sending one refund at once; this is the only job that re-sends refunds), and start
    the full refund of money that on_paid refused or that reached a closed payment. Returns
    how many it touched."""
    touched = 0
    pending = Refund.objects.filter(
        status=Refund.Status.PENDING, needs_attention=False, created_at__lt=before
    )
    for pk in pending.values_list("pk", flat=True)[:limit]:
        touched += refund_submit(refund_id=pk).status != Refund.Status.PENDING
    refused = (
        PaymentCallback.objects.filter(
            result__in=[
                PaymentCallback.Result.PAID_REJECTED,
                PaymentCallback.Result.PAID_AFTER_CLOSE,
            ],
            received_at__lt=before,
            payment__refunded_amount=0,
            payment__status=Payment.Status.PAID,
        )
        .values_list("payment_id", "payment__number")
        .distinct()
    )
    for payment_id, number in refused[:limit]:
        if not Refund.objects.filter(reference=f"{number}:full").exists():
            payment_refund_full(payment_id=payment_id, reason=_("订单已关闭"))
            touched += 1
    return touched


# --- the sandbox gateway's side ---------------------------------------------------------------


def sandbox_trade_confirm(*, payment_number: str) -> SandboxTrade:
    """The member pressed "确认支付" on the sandbox gateway page.

    Records the sandbox's trade once and, after commit, sends the signed callback (a Celery
    task; inline without a broker). A repeat returns the trade without a second callback.
    NotFound `payment_not_found`; Conflict `payment_closed` (closed or refunded) and
    `payment_expired` (past expires_at, still unpaid).
    """
    payment = Payment.objects.filter(number=payment_number, provider="sandbox").first()
    if payment is None:
        raise NotFound(_("支付单不存在。"), code="payment_not_found")
    trade = SandboxTrade.objects.filter(payment=payment).first()
    if trade is not None:
        return trade
    if payment.status != Payment.Status.CREATED:
        raise Conflict(_("该支付单已关闭，不能支付。"), code="payment_closed")
    if payment.expires_at is not None and payment.expires_at <= timezone.now():
        raise Conflict(_("支付已超时，请返回重新下单。"), code="payment_expired")
    try:
        with transaction.atomic():
            trade = SandboxTrade.objects.create(
                payment=payment,
                trade_no=f"SBX{timezone.localtime():%Y%m%d}{secrets.token_hex(8).upper()}",
                amount=payment.amount,
                currency=payment.currency,
            )
    except IntegrityError:  # a double click: the other request recorded it
        return SandboxTrade.objects.get(payment=payment)
    _send_sandbox_callback_after_commit(trade.pk)
    return trade


def payment_callback_resend(*, payment_id: int) -> SandboxTrade:
    """Back-office: send the sandbox callback of a payment again (tests idempotency).

    Conflict `no_sandbox_trade` unless the payment went through the sandbox gateway.
    """
    trade = SandboxTrade.objects.filter(payment_id=payment_id).first()
    if trade is None:
        raise Conflict(
            _("该支付单没有沙箱交易，无法重发回调。"),
            code="no_sandbox_trade",
            fields={"payment_id": payment_id},
        )
    _send_sandbox_callback_after_commit(trade.pk)
    return trade


def _send_sandbox_callback_after_commit(trade_id: int) -> None:
    from jifen.payments.tasks import sandbox_callback_task

    transaction.on_commit(lambda: sandbox_callback_task.delay(trade_id), robust=True)
