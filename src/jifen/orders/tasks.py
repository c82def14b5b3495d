"""Periodic jobs of orders (Celery; inline when no broker is configured)."""

from celery import shared_task

from jifen.orders.services import orders_auto_complete, orders_expire_unpaid


@shared_task
def orders_expire_unpaid_task() -> int:
    """Cancel orders whose payment window passed; points, stock and quota come back."""
    return orders_expire_unpaid()


@shared_task
def orders_auto_complete_task() -> int:
    """Complete orders shipped JIFEN_ORDER_AUTO_COMPLETE_DAYS ago and not confirmed."""
    return orders_auto_complete()
