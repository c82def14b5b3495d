"""Periodic tier jobs, run once a day shortly after midnight (business time).

Each is safe to run twice or concurrently: reviews move the review date under a row lock,
notices are unique per member and review date, birthday gifts have a unique ledger
reference per member and year.
"""

from celery import shared_task

from jifen.tiers.services import tier_birthday_gifts, tier_notices_send, tiers_review_due


@shared_task
def tiers_daily_task() -> dict[str, int]:
    """Notices first (they look ahead), then the reviews due today, then birthday gifts."""
    return {
        "notices": tier_notices_send(),
        "changed": tiers_review_due(),
        "birthday_gifts": tier_birthday_gifts(),
    }


@shared_task
def tier_evaluate_task(member_id: int, after_reversal: bool = False) -> bool:
    """Upgrade check for one member, queued after a commit (tier_evaluate_after_commit)."""
    from jifen.tiers.services import tier_evaluate

    return tier_evaluate(member_id=member_id, after_reversal=after_reversal) is not None
