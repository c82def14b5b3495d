"""Points as cash on PostgreSQL under real concurrency: one hold per order, one ending."""

import datetime as dt

import pytest
from django.utils import timezone

from jifen.integrations.holds.services import (
    integration_hold_capture,
    integration_hold_create,
    integration_hold_release,
    integration_holds_expire,
)
from jifen.integrations.models import IntegrationHold
from jifen.integrations.services import api_client_create
from jifen.ledger.models import Account, Entry, Hold, Transaction
from jifen.ledger.services import points_earn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
N = 50


def _body(order_id="o-1", points=500):
    return {"member": "crm-1", "order_id": order_id, "order_amount": "100.00", "points": points}


def _wallet(member):
    return Account.objects.values("available", "pending", "held").get(member=member)


@pytest.fixture
def setup(make_member):
    member = make_member(external_id="crm-1")
    points_earn(member_id=member.pk, points=5000, source="test", reference="seed")
    client, _secret = api_client_create(name="商城")
    return member, client


def _redeemed() -> int:
    return sum(
        Entry.objects.filter(account__code="redemption:shop_checkout").values_list(
            "amount", flat=True
        )
    )


def test_one_order_sent_50_times_at_once_holds_once(setup, run_concurrently):
    member, client = setup
    results = run_concurrently(lambda i: integration_hold_create(client=client, raw=_body()), N)
    assert [r[0] for r in results] == ["ok"] * N, [r[1] for r in results if r[0] == "error"]
    assert sorted(r[1][1] for r in results) == [False] * (N - 1) + [True]
    assert len({r[1][0].pk for r in results}) == 1
    assert IntegrationHold.objects.count() == Hold.objects.count() == 1
    assert _wallet(member) == {"available": 4500, "pending": 0, "held": 500}


def test_holds_of_many_orders_never_overdraw_the_balance(setup, run_concurrently):
    member, client = setup  # 5000 points: ten holds of 500 fit, the rest must be refused

    def work(i):
        return integration_hold_create(client=client, raw=_body(order_id=f"o-{i}"))

    results = run_concurrently(work, N)
    errors = [r[1] for r in results if r[0] == "error"]
    assert {error.code for error in errors} == {"insufficient_points"}
    assert len(errors) == N - 10
    assert IntegrationHold.objects.count() == 10
    assert _wallet(member) == {"available": 0, "pending": 0, "held": 5000}


def test_capture_racing_release_exactly_one_wins(setup, run_concurrently):
    """50 captures and 50 releases of one hold: 50 threads (PostgreSQL's 100 connections
    are shared), half capturing then releasing, half releasing then capturing, so the
    first calls race each other and the second calls meet whichever won."""
    member, client = setup
    hold, _created = integration_hold_create(client=client, raw=_body())
    calls = {
        "capture": lambda: integration_hold_capture(client=client, hold_id=hold.pk).status,
        "release": lambda: integration_hold_release(client=client, hold_id=hold.pk).status,
    }

    def work(i):
        order = ("capture", "release") if i % 2 else ("release", "capture")
        outcomes = []
        for name in order:
            try:
                outcomes.append((name, "ok", calls[name]()))
            except Exception as error:  # collected: the losing kind must be a 409
                outcomes.append((name, "error", getattr(error, "code", repr(error))))
        return outcomes

    results = run_concurrently(work, N)
    assert [r[0] for r in results] == ["ok"] * N
    outcomes = [outcome for r in results for outcome in r[1]]
    hold.refresh_from_db()
    won = "capture" if hold.status == "captured" else "release"
    lost = "release" if won == "capture" else "capture"
    # Every call of the winning kind answers the final state; every other one is a 409.
    assert sorted(o for o in outcomes if o[0] == won) == [(won, "ok", hold.status)] * N
    assert sorted(o for o in outcomes if o[0] == lost) == [(lost, "error", "hold_not_held")] * N
    assert hold.ledger_hold.status == hold.status
    assert Transaction.objects.filter(kind__in=["capture", "release"]).count() == 1
    if won == "capture":
        assert _wallet(member) == {"available": 4500, "pending": 0, "held": 0}
        assert _redeemed() == 500
    else:
        assert _wallet(member) == {"available": 5000, "pending": 0, "held": 0}
        assert _redeemed() == 0


def test_expiry_racing_capture_exactly_one_wins(setup, run_concurrently):
    member, client = setup
    holds = [
        integration_hold_create(client=client, raw=_body(order_id=f"o-{i}"))[0] for i in range(5)
    ]
    IntegrationHold.objects.update(expires_at=timezone.now() + dt.timedelta(seconds=2))
    later = timezone.now() + dt.timedelta(minutes=1)

    def work(i):
        if i % 2:
            return integration_holds_expire(now=later)
        hold = holds[(i // 2) % 5]
        return integration_hold_capture(client=client, hold_id=hold.pk).status

    results = run_concurrently(work, 20)
    errors = [r[1] for r in results if r[0] == "error"]
    assert all(error.code == "hold_not_held" for error in errors), errors
    expired = sum(r[1] for r in results if r[0] == "ok" and isinstance(r[1], int))
    statuses = list(IntegrationHold.objects.values_list("status", flat=True))
    assert sorted(set(statuses)) <= ["captured", "expired"]
    assert statuses.count("expired") == expired
    captured = statuses.count("captured")
    assert _wallet(member) == {"available": 5000 - 500 * captured, "pending": 0, "held": 0}
    assert _redeemed() == 500 * captured
