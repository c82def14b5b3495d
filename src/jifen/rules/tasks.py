"""Periodic jobs of the rules app. Safe to run twice or concurrently."""

from celery import shared_task

from jifen.rules.services import cap_counters_prune


@shared_task
def cap_counters_prune_task() -> int:
    """Daily: forget the cap counters of periods long past."""
    return cap_counters_prune()
