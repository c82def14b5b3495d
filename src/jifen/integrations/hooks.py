"""What other apps do when an integration event arrives: tasks and referrals.

Called by jifen.integrations.services in the event's database transaction, each in its own
savepoint: an error there is logged and undone without failing the event (the purchase and
its points stand). Their own references make them once-only, like the event itself.

Lock order (why the calls sit where they do): a purchase locks its cap counters, then the
wallets (ascending), as every other flow does; these calls lock wallets, so they run after
the rules engine's counters and before the purchase's own earn posting. A refund calls the
referral reversal before reversing the purchase's points, while it holds no wallet lock.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from jifen.core.errors import DomainError

logger = logging.getLogger(__name__)


def _guarded(name: str, call, **kwargs) -> None:
    try:
        with transaction.atomic():
            call(**kwargs)
    except DomainError as error:
        logger.warning("integration hook %s refused: %s (%s)", name, error.code, error.message)


def purchase_completed(
    *, member_id: int, order_reference: str, reference: str, occurred_at: dt.datetime, details: dict
) -> None:
    """The invitee's purchase may qualify their referral; tasks on "purchase" may complete."""
    from jifen.engagement.services import task_action_record
    from jifen.referrals.services import referral_purchase_qualify

    _guarded(
        "referral_purchase_qualify",
        referral_purchase_qualify,
        member_id=member_id,
        order_reference=order_reference,
    )
    _guarded(
        "task_action_record",
        task_action_record,
        member_id=member_id,
        action="purchase",
        reference=reference,
        occurred_at=occurred_at,
        details=details,
    )


def purchase_refunded(*, member_id: int, order_reference: str) -> None:
    """A fully refunded purchase no longer qualifies a referral: its reward is taken back."""
    from jifen.referrals.services import referral_purchase_refund

    _guarded(
        "referral_purchase_refund",
        referral_purchase_refund,
        member_id=member_id,
        order_reference=order_reference,
    )


def custom_action(
    *, member_id: int, name: str, reference: str, occurred_at: dt.datetime, details: dict
) -> None:
    """A named action (survey_completed, review_posted…) completes the tasks that want it."""
    from jifen.engagement.services import task_action_record

    _guarded(
        "task_action_record",
        task_action_record,
        member_id=member_id,
        action=name,
        reference=reference,
        occurred_at=occurred_at,
        details=details,
    )
