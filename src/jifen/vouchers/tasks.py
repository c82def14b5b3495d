"""Periodic jobs of the vouchers app (Celery; inline when no broker is configured)."""

from celery import shared_task

from jifen.vouchers.services import vouchers_expire


@shared_task
def vouchers_expire_task() -> int:
    """Mark unused vouchers past their validity expired. Safe to run twice."""
    return vouchers_expire()
