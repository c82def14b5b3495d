"""Periodic jobs of orders (Celery; inline when no broker is configured)."""

from celery import shared_task

from jifen.orders.services import (
    orders_auto_complete,
    orders_cash_refunds_retry,
    orders_expire_unpaid,
)


@shared_task
def orders_expire_unpaid_task() -> int:
    """Cancel orders whose payment window passed; points, stock and quota come back."""
    return orders_expire_unpaid()


@shared_task
def orders_auto_complete_task() -> int:
    """Complete orders shipped JIFEN_ORDER_AUTO_COMPLETE_DAYS ago and not confirmed."""
    return orders_auto_complete()


@shared_task
def orders_cash_refunds_retry_task() -> int:
    """Retry failed cash refunds of cancelled orders; read the outcome of pending ones."""
    return orders_cash_refunds_retry()
