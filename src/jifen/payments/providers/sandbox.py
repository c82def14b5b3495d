"""The sandbox provider: a pretend gateway for development, tests and the demo.

It is NOT a real payment gateway and moves no money. It plays one so that the whole flow
runs end to end: `create` sends the member to our own page /pay/sandbox/<signed token>/,
which shows the merchant, amount and description with "确认支付" and "支付失败/取消". On
confirmation the sandbox records its trade (SandboxTrade) and sends a signed asynchronous
callback to /pay/callback/sandbox/, exactly as a real gateway would:

    POST /pay/callback/sandbox/
    X-Sandbox-Timestamp: <unix seconds>
    X-Sandbox-Signature: <hex HMAC-SHA256(key, "<timestamp>.<raw body>")>
    {"event": "payment.succeeded", "out_trade_no": "P…", "trade_no": "SBX…",
     "amount": "9.90", "currency": "CNY", "paid_at": "…"}

The key is JIFEN_SANDBOX_PAY_KEY, else derived from SECRET_KEY; a timestamp more than 300 s
from now is refused. The expected reply is {"code": "SUCCESS"}. Refunds succeed at once
(never more than the trade's amount, kept by a guarded UPDATE on the sandbox's own book).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse

from jifen.payments.providers.base import (
    CallbackMalformed,
    CallbackReply,
    CallbackResult,
    PayAction,
    PaymentProvider,
    RefundResult,
    SignatureInvalid,
    lower_headers,
)

TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
SIGNATURE_HEADER = "X-Sandbox-Signature"
MAX_SKEW_SECONDS = 300
TOKEN_SALT = "jifen.payments.sandbox.gateway"


TRUE_WORDS = {"1", "true", "yes", "on"}


def sandbox_allowed_explicitly() -> bool:
    """JIFEN_ALLOW_SANDBOX_PAY (the setting when it exists, else the environment variable)."""
    value = getattr(settings, "JIFEN_ALLOW_SANDBOX_PAY", None)
    if value is None:
        value = os.environ.get("JIFEN_ALLOW_SANDBOX_PAY", "")
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value)


def sandbox_enabled() -> bool:
    """Whether the sandbox gateway page and callback may be used: in development (DEBUG),
    under the test runner (TESTING), or when the deployment allows it on purpose
    (JIFEN_ALLOW_SANDBOX_PAY=1: a demo). A production site must never have it: anyone could
    mark any payment paid (system check payments.E001)."""
    return bool(
        getattr(settings, "DEBUG", False)
        or getattr(settings, "TESTING", False)
        or sandbox_allowed_explicitly()
    )


def sandbox_key() -> bytes:
    """JIFEN_SANDBOX_PAY_KEY (setting or environment), else a key derived from SECRET_KEY."""
    own = getattr(settings, "JIFEN_SANDBOX_PAY_KEY", "") or os.environ.get(
        "JIFEN_SANDBOX_PAY_KEY", ""
    )
    if own:
        return own.encode()
    return hmac.new(
        settings.SECRET_KEY.encode(), b"jifen-sandbox-pay-callback", hashlib.sha256
    ).digest()


def sandbox_sign(*, body: bytes, timestamp: int | str, key: bytes | None = None) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(key if key is not None else sandbox_key(), message, hashlib.sha256).hexdigest()


def sandbox_signed_headers(body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sandbox_sign(body=body, timestamp=timestamp),
        "Content-Type": "application/json",
    }


def sandbox_callback_body(trade) -> bytes:
    """The callback JSON for a SandboxTrade (the same bytes each time it is resent)."""
    return json.dumps(
        {
            "event": "payment.succeeded",
            "out_trade_no": trade.payment.number,
            "trade_no": trade.trade_no,
            "amount": f"{trade.amount:.2f}",
            "currency": trade.currency,
            "paid_at": trade.created_at.isoformat(),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def gateway_token(payment_number: str) -> str:
    return signing.dumps(payment_number, salt=TOKEN_SALT, compress=False)


def gateway_token_number(token: str) -> str | None:
    """The payment number a gateway token was made for, or None if it was tampered with."""
    try:
        value = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, str) else None


class SandboxProvider(PaymentProvider):
    name = "sandbox"
    label = "沙箱支付"
    is_sandbox = True

    def create(self, payment) -> PayAction:
        token = gateway_token(payment.number)
        return PayAction(kind="redirect", url=reverse("payments:sandbox_gateway", args=[token]))

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> CallbackResult:
        found = lower_headers(headers)
        timestamp = found.get(TIMESTAMP_HEADER.lower(), "").strip()
        signature = found.get(SIGNATURE_HEADER.lower(), "").strip().lower()
        if not timestamp or not signature:
            raise SignatureInvalid("missing signature headers")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise SignatureInvalid("malformed timestamp")
        if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise SignatureInvalid("stale timestamp")
        expected = sandbox_sign(body=body, timestamp=timestamp)
        if not hmac.compare_digest(expected, signature):
            raise SignatureInvalid("signature mismatch")
        try:
            data = json.loads(body)
            amount = Decimal(str(data["amount"]))
            paid_at = data.get("paid_at")
            return CallbackResult(
                out_trade_no=str(data["out_trade_no"]),
                trade_no=str(data["trade_no"]),
                amount=amount,
                currency=str(data["currency"]),
                status="paid" if data.get("event") == "payment.succeeded" else "not_paid",
                paid_at=dt.datetime.fromisoformat(paid_at) if paid_at else None,
            )
        except (ValueError, KeyError, TypeError, InvalidOperation) as error:
            raise CallbackMalformed(str(error)) from None

    def reply(self, *, ok: bool, message: str = "") -> CallbackReply:
        if ok:
            return CallbackReply(200, b'{"code":"SUCCESS"}')
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode()
        return CallbackReply(400, body)

    can_query_refunds = True

    def refund(self, payment, refund) -> RefundResult:
        """Idempotent by `refund.reference`, like a gateway's out_refund_no: a resent refund
        is answered from the sandbox's book and refunds nothing twice."""
        from jifen.payments.models import SandboxRefund, SandboxTrade

        done = SandboxRefund.objects.filter(reference=refund.reference).first()
        if done is not None:
            return RefundResult(status="succeeded", provider_refund_no=done.refund_no)
        trade = SandboxTrade.objects.filter(payment_id=payment.pk).first()
        if trade is None:
            return RefundResult(status="failed", message="no sandbox trade or amount exceeded")
        refund_no = f"SBXR{refund.pk:010d}{int(time.time())}"
        try:
            with transaction.atomic():
                # The sandbox's own book refuses to give back more than it took.
                taken = SandboxTrade.objects.filter(
                    pk=trade.pk, refunded_amount__lte=F("amount") - refund.amount
                ).update(refunded_amount=F("refunded_amount") + refund.amount)
                if not taken:
                    return RefundResult(
                        status="failed", message="no sandbox trade or amount exceeded"
                    )
                SandboxRefund.objects.create(
                    trade=trade,
                    reference=refund.reference,
                    amount=refund.amount,
                    refund_no=refund_no,
                )
        except IntegrityError:  # the same refund sent twice at once: one of them refunded
            done = SandboxRefund.objects.get(reference=refund.reference)
            return RefundResult(status="succeeded", provider_refund_no=done.refund_no)
        return RefundResult(status="succeeded", provider_refund_no=refund_no)

    def query_refund(self, payment, refund) -> RefundResult | None:
        from jifen.payments.models import SandboxRefund

        done = SandboxRefund.objects.filter(reference=refund.reference).first()
        if done is None:
            return RefundResult(status="failed", message="no such refund")
        return RefundResult(status="succeeded", provider_refund_no=done.refund_no)

    def query(self, payment) -> CallbackResult | None:
        from jifen.payments.models import SandboxTrade

        trade = SandboxTrade.objects.filter(payment_id=payment.pk).first()
        if trade is None:
            return None
        return CallbackResult(
            out_trade_no=payment.number,
            trade_no=trade.trade_no,
            amount=trade.amount,
            currency=trade.currency,
            status="paid",
            paid_at=trade.created_at,
        )
