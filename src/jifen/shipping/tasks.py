"""Background jobs of shipping (Celery; inline when no broker is configured)."""

from celery import shared_task


@shared_task
def sandbox_callback_send(carrier_code: str, body: str) -> int:
    """Play the sandbox carrier: sign `body` now (so a queued message is never stale) and
    hand the raw bytes and headers to the callback handler, exactly as a carrier's POST
    would arrive. Safe to run twice: tracking events are once only. Returns how many
    events the callback carried."""
    from jifen.shipping.carriers import backend_for
    from jifen.shipping.models import Carrier
    from jifen.shipping.services import callback_handle

    carrier = Carrier.objects.get(code=carrier_code)
    raw = body.encode()
    headers = backend_for(carrier).signed_headers(carrier=carrier, body=raw)
    return len(callback_handle(carrier_code=carrier_code, body=raw, headers=headers))
