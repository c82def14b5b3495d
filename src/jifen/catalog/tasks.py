"""Periodic jobs of the catalog (Celery; inline when no broker is configured)."""

from celery import shared_task

from jifen.catalog.services import stock_release_expired


@shared_task
def stock_release_expired_task() -> int:
    """Give back the units of reservations whose `expires_at` has passed (abandoned
    checkouts). Safe to run twice or beside checkout: each release is once only."""
    return stock_release_expired()
