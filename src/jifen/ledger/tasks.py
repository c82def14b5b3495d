"""Periodic ledger jobs. Safe to run twice or concurrently: each posting has a unique reference."""

from celery import shared_task

from jifen.ledger.services import points_expire, points_mature


@shared_task
def points_expire_task() -> int:
    return points_expire()


@shared_task
def points_mature_task() -> int:
    return points_mature()
