"""Test helpers: earnings at a chosen moment, and a member put on a level with a review date."""

import datetime as dt
import itertools

from jifen.core import clock
from jifen.ledger.models import Transaction
from jifen.ledger.services import points_earn
from jifen.tiers.models import Level, MemberTier

_refs = itertools.count(1)


def earn(member, points, *, at: dt.datetime | None = None, source="purchase", reference=None):
    """A ledger earning; `at` moves its timestamp (test data: the ledger stamps `now`)."""
    txn = points_earn(
        member_id=member.pk,
        points=points,
        source=source,
        reference=reference or f"test-earn-{next(_refs)}",
    )
    if at is not None:
        Transaction.objects.filter(pk=txn.pk).update(created_at=at)
        txn.refresh_from_db()
    return txn


def level(code) -> Level:
    return Level.objects.get(code=code)


def put_on(member, code, *, review_on=None, since=None) -> MemberTier:
    """Place the member on a level directly (test set-up, not a service)."""
    today = clock.business_date()
    row, _created = MemberTier.objects.update_or_create(
        member=member,
        defaults={
            "level": level(code),
            "since": since or today,
            "review_on": review_on,
        },
    )
    return row


def at_business(day: dt.date, hour=12, minute=0, second=0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=clock.business_tz())


def purchase(member, amount, *, at: dt.datetime, refunded="0", order=None):
    """A Purchase row of the integrations app (test set-up; its services are not under test)."""
    from decimal import Decimal

    from jifen.integrations.models import ApiClient, Event, Purchase

    client, _created = ApiClient.objects.get_or_create(
        key_id="tiers-test", defaults={"name": "shop", "salt": "x"}
    )
    number = order or f"order-{next(_refs)}"
    event = Event.objects.create(client=client, event_id=number, type="purchase", payload={})
    return Purchase.objects.create(
        member=member,
        client=client,
        event=event,
        order_id=number,
        amount=Decimal(amount),
        refunded_amount=Decimal(refunded),
        currency="CNY",
        occurred_at=at,
    )
