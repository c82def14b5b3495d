"""List pages cost a fixed number of queries, however many rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jifen.ledger.services import points_earn, points_spend, points_transfer

pytestmark = pytest.mark.django_db

PAGES = [
    "admin:ledger_transaction_changelist",
    "admin:ledger_lot_changelist",
    "admin:ledger_lotmovement_changelist",
    "admin:ledger_hold_changelist",
    "admin:ledger_account_changelist",
    "admin:ledger_adjustment_changelist",
    "admin:members_user_changelist",
]


def _activity(make_member, n):
    members = [make_member() for _ in range(n)]
    for i, member in enumerate(members):
        points_earn(member_id=member.pk, points=100, source="purchase", reference=f"q:e:{n}:{i}")
        points_spend(member_id=member.pk, points=10, purpose="mall", reference=f"q:s:{n}:{i}")
    for i in range(n - 1):
        points_transfer(
            sender_id=members[i].pk,
            recipient_id=members[i + 1].pk,
            points=10,
            reference=f"q:t:{n}:{i}",
        )


def _queries(client, name):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse(name)).status_code == 200
    return len(captured)


@pytest.mark.parametrize("name", PAGES)
def test_list_queries_do_not_grow_with_rows(boss, make_member, name):
    _activity(make_member, 3)
    few = _queries(boss, name)
    _activity(make_member, 12)
    many = _queries(boss, name)

    assert many == few, f"{name}: {few} queries with few rows, {many} with more"
