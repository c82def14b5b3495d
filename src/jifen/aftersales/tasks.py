"""Periodic jobs of after-sales (Celery; inline when no broker is configured)."""

from celery import shared_task

from jifen.aftersales.services import aftersales_cash_refunds_sync


@shared_task
def aftersales_cash_refunds_sync_task() -> int:
    """Read the outcome of pending after-sale cash refunds; retry failed ones under a new
    reference (up to 5 attempts, then an operator's "立即退款")."""
    return aftersales_cash_refunds_sync()
