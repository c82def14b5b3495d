"""The payment-provider interface: what payments.services asks of a gateway.

A provider translates between our Payment/Refund rows and one gateway's API. It holds no
business rules: services decide what may happen, the provider only talks to the gateway.

- `create(payment) -> PayAction`: how the member pays (a URL to redirect to, a form to post,
  or a QR text to show). May call the gateway (prepay); never inside a transaction.
- `parse_callback(body, headers) -> CallbackResult`: verify the gateway's signature over the
  raw body (constant time) and decode it; raises `SignatureInvalid` (bad, missing or stale
  signature) or `CallbackMalformed` (signed but not understood). Changes nothing.
- `reply(ok, message) -> CallbackReply`: the answer the gateway expects (status and body).
- `refund(payment, refund) -> RefundResult`: ask the gateway to refund; idempotent by
  `refund.reference` (the gateway's out_refund_no / out_request_no). Raises `ProviderError`
  when the outcome is unknown (timeout): the refund stays pending and may be submitted again.
- `query(payment) -> CallbackResult | None` (optional): the gateway's view of a payment.
- `query_refund(payment, refund) -> RefundResult | None` (optional, `can_query_refunds`):
  the gateway's view of a refund by its reference ("succeeded"/"pending"; "failed" when the
  gateway has no such refund); None when it cannot tell. Asked before a "failed" answer to a
  resent refund is believed (the first send may have gone through).
- `close(payment)` (optional): tell the gateway the payment can no longer be paid.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from jifen.payments.models import Payment, Refund


class ProviderError(Exception):
    """The gateway could not be reached or answered something unexpected."""


class SignatureInvalid(ProviderError):
    """A callback whose signature is missing, wrong or stale: it must change nothing."""


class CallbackMalformed(ProviderError):
    """A correctly signed callback we cannot understand."""


@dataclasses.dataclass(frozen=True)
class PayAction:
    kind: Literal["redirect", "form", "qr"]
    url: str = ""
    params: dict = dataclasses.field(default_factory=dict)  # form fields to POST to `url`
    qr_text: str = ""  # e.g. WeChat Native's code_url


@dataclasses.dataclass(frozen=True)
class CallbackResult:
    out_trade_no: str  # our Payment.number
    trade_no: str  # the gateway's transaction id
    amount: Decimal
    currency: str
    status: Literal["paid", "not_paid"]
    paid_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class CallbackReply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclasses.dataclass(frozen=True)
class RefundResult:
    status: Literal["succeeded", "pending", "failed"]
    provider_refund_no: str = ""
    message: str = ""


class PaymentProvider(abc.ABC):
    name: str = ""
    label: str = ""
    is_sandbox: bool = False

    @abc.abstractmethod
    def create(self, payment: Payment) -> PayAction: ...

    @abc.abstractmethod
    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> CallbackResult: ...

    @abc.abstractmethod
    def reply(self, *, ok: bool, message: str = "") -> CallbackReply: ...

    @abc.abstractmethod
    def refund(self, payment: Payment, refund: Refund) -> RefundResult: ...

    can_query_refunds: bool = False

    def query(self, payment: Payment) -> CallbackResult | None:
        return None

    def query_refund(self, payment: Payment, refund: Refund) -> RefundResult | None:
        return None

    def close(self, payment: Payment) -> None:
        return None


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names in lower case (Django's request.headers and a plain dict alike)."""
    return {str(key).lower(): str(value) for key, value in headers.items()}
