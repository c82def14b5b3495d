"""Races on PostgreSQL: many threads released at once from a barrier (conftest)."""

import random

import pytest
from django.db import connection

from jifen.core.errors import DomainError, InsufficientPoints
from jifen.ledger.models import Lot, Transaction
from jifen.ledger.services import (
    balances_of,
    points_earn,
    points_expire,
    points_hold,
    points_hold_capture,
    points_hold_release,
    points_spend,
    points_transfer,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_spends_of_the_whole_balance_one_wins(member, run_concurrently):
    points_earn(member_id=member.pk, points=100, source="purchase", reference="e1")

    results = run_concurrently(
        lambda i: points_spend(
            member_id=member.pk, points=100, purpose="mall", reference=f"spend-{i}"
        ),
        50,
    )

    ok = [r for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(ok) == 1
    assert len(errors) == 49 and all(isinstance(e, InsufficientPoints) for e in errors)
    assert balances_of(member.pk) == {"available": 0, "pending": 0, "held": 0}
    assert Transaction.objects.filter(kind="spend").count() == 1


def test_random_transfers_with_crossing_pairs_keep_the_total(
    make_member, run_concurrently, settings
):
    settings.JIFEN_TRANSFER_DAILY_LIMIT = 10**9
    settings.JIFEN_TRANSFER_MIN = 1
    members = [make_member() for _ in range(10)]
    for m in members:
        points_earn(member_id=m.pk, points=1000, source="purchase", reference=f"seed-{m.pk}")
    rng = random.Random(7)
    plan = []
    for i in range(200):
        if i % 4 == 0:  # every fourth pair also runs the other way at the same moment
            a, b = rng.sample(members, 2)
            plan.append((a, b))
            plan.append((b, a))
        else:
            plan.append(tuple(rng.sample(members, 2)))
    plan = plan[:200]

    amounts = [rng.randint(1, 400) for _ in plan]

    def four_transfers(worker):
        # 50 threads (PostgreSQL's connection limit stays clear), 4 transfers each;
        # crossing pairs (i, i+1) land in neighbouring threads at the same moment.
        refused = []
        for i in range(worker, 200, 50):
            sender, recipient = plan[i]
            try:
                points_transfer(
                    sender_id=sender.pk,
                    recipient_id=recipient.pk,
                    points=amounts[i],
                    reference=f"t-{i}",
                )
            except Exception as error:
                refused.append(error)
        return refused

    results = run_concurrently(four_transfers, 50)

    assert {r[0] for r in results} == {"ok"}
    errors = [e for r in results for e in r[1]]
    # Only business refusals may reach a caller: never a deadlock or a database error.
    assert all(isinstance(e, InsufficientPoints) for e in errors), errors[:3]
    balances = [balances_of(m.pk) for m in members]
    assert sum(b["available"] for b in balances) == 10 * 1000
    assert all(b["available"] >= 0 for b in balances)
    moved = Transaction.objects.filter(kind="transfer").count()
    assert moved == 200 - len(errors)


def test_same_reference_fifty_times_posts_once(member, run_concurrently):
    results = run_concurrently(
        lambda i: (
            points_earn(member_id=member.pk, points=10, source="purchase", reference="order-42").pk
        ),
        50,
    )
    assert {r[0] for r in results} == {"ok"}
    assert len({r[1] for r in results}) == 1
    assert balances_of(member.pk)["available"] == 10


def test_capture_and_release_race_one_wins(member, run_concurrently):
    points_earn(member_id=member.pk, points=100, source="purchase", reference="e1")
    hold = points_hold(member_id=member.pk, points=100, reference="h1")

    def settle(i):
        if i % 2:
            return points_hold_capture(hold_id=hold.pk, reference=f"cap-{i}")
        return points_hold_release(hold_id=hold.pk, reference=f"rel-{i}")

    results = run_concurrently(settle, 50)
    assert sum(1 for r in results if r[0] == "ok") == 1
    assert all(isinstance(r[1], DomainError) for r in results if r[0] == "error")
    assert Transaction.objects.filter(kind__in=["capture", "release"]).count() == 1


def test_expiry_racing_spends_never_goes_negative(make_member, run_concurrently):
    import datetime as dt

    members = [make_member() for _ in range(10)]
    for m in members:
        points_earn(
            member_id=m.pk,
            points=100,
            source="purchase",
            reference=f"old-{m.pk}",
            expires_on=dt.date(2026, 1, 31),
        )
        points_earn(
            member_id=m.pk,
            points=50,
            source="purchase",
            reference=f"new-{m.pk}",
            expires_on=dt.date(2030, 1, 31),
        )

    def work(i):
        if i < 5:
            return points_expire(today=dt.date(2026, 2, 1), batch_size=3)
        m = members[i % 10]
        return points_spend(member_id=m.pk, points=60, purpose="mall", reference=f"s-{i}")

    results = run_concurrently(work, 55)
    assert all(isinstance(r[1], InsufficientPoints) for r in results if r[0] == "error")
    assert not Lot.objects.filter(remaining__lt=0).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_account WHERE available < 0")
        assert cursor.fetchone()[0] == 0


def test_refunds_of_pending_earns_racing_maturation_keep_the_books(make_member, run_concurrently):
    import datetime as dt

    from jifen.ledger.services import points_mature, transaction_reverse

    members = [make_member() for _ in range(10)]
    earns = []
    for m in members:
        points_earn(
            member_id=m.pk,
            points=40,
            source="purchase",
            reference=f"p0-{m.pk}",
            pending_until=dt.date(2099, 1, 1),
        )
        earns.append(
            points_earn(
                member_id=m.pk,
                points=100,
                source="purchase",
                reference=f"p1-{m.pk}",
                pending_until=dt.date(2099, 1, 1),
            )
        )

    def work(i):
        if i % 5 == 0:
            return points_mature(today=dt.date(2099, 1, 1), batch_size=2)
        return transaction_reverse(transaction_id=earns[i % 10].pk, reference=f"r-{i}", points=10)

    results = run_concurrently(work, 50)
    assert {r[0] for r in results} == {"ok"}, [r for r in results if r[0] == "error"][:3]
    points_mature(today=dt.date(2099, 1, 1))
    # Member k was refunded 10 points by each worker i with i % 10 == k and i % 5 != 0.
    for k, m in enumerate(members):
        refunds = sum(1 for i in range(50) if i % 10 == k and i % 5 != 0)
        assert balances_of(m.pk) == {"available": 140 - 10 * refunds, "pending": 0, "held": 0}
