"""Payment jobs. Each calls a service and is safe to run twice.

- `sandbox_callback_task`: the sandbox gateway sends its signed callback. Run inline (eager:
  tests and development without Redis), it hands the signed body and headers to the same
  handler the callback view calls, so the signature is always checked; with a worker it
  POSTs them to JIFEN_SITE_URL + /pay/callback/sandbox/ and retries until accepted.
- `payment_refund_full_task`: refund a payment in full (money for a dead order).
- `refunds_retry_pending_task`: submit refunds left pending by a gateway timeout again.
"""

from __future__ import annotations

import datetime as dt
import os
import urllib.error
import urllib.request

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django.utils import timezone


class CallbackNotAccepted(Exception):
    pass


def site_url() -> str:
    return (
        getattr(settings, "JIFEN_SITE_URL", "")
        or os.environ.get("JIFEN_SITE_URL", "")
        or "http://127.0.0.1:8000"
    ).rstrip("/")


@shared_task(
    bind=True,
    autoretry_for=(CallbackNotAccepted, urllib.error.URLError, OSError),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def sandbox_callback_task(self, trade_id: int) -> int:
    """Deliver the sandbox callback of one SandboxTrade; returns the reply's HTTP status."""
    from jifen.payments.models import SandboxTrade
    from jifen.payments.providers.sandbox import sandbox_callback_body, sandbox_signed_headers
    from jifen.payments.services import payment_callback_handle

    trade = SandboxTrade.objects.select_related("payment").get(pk=trade_id)
    body = sandbox_callback_body(trade)
    headers = sandbox_signed_headers(body)
    if self.request.is_eager:
        return payment_callback_handle(provider="sandbox", body=body, headers=headers).status
    url = site_url() + reverse("payments:callback", args=["sandbox"])
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"JIFEN_SITE_URL must be an http(s) URL: {url}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own URL)
            return response.status
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise CallbackNotAccepted(f"{url}: {error.code}") from None
        return error.code  # refused (signature, amount): retrying would not help


@shared_task
def payment_refund_full_task(payment_id: int, reason: str) -> str:
    from jifen.payments.services import payment_refund_full

    return payment_refund_full(payment_id=payment_id, reason=reason).status


@shared_task
def refunds_retry_pending_task(older_than_minutes: int = 10) -> int:
    """Submit refunds left pending again, and refund money refused by on_paid or paid to a
    closed payment whose full refund never started (a crash between commit and queueing)."""
    from jifen.payments.services import refunds_retry

    cutoff = timezone.now() - dt.timedelta(minutes=older_than_minutes)
    return refunds_retry(before=cutoff)
