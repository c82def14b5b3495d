"""Periodic jobs of the integrations app (Celery; inline when no broker is configured)."""

from celery import shared_task

from jifen.integrations.holds.services import integration_holds_expire


@shared_task
def integration_holds_expire_task() -> int:
    """Release points-as-cash holds past their expires_at (the shop never captured or
    released them). Safe to run twice or beside capture and release: each hold ends once."""
    return integration_holds_expire()
