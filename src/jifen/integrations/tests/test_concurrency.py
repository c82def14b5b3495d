"""PostgreSQL under real concurrency: redeliveries, refunds, caps and first purchases."""

from decimal import Decimal

import pytest

from jifen.integrations.models import Event, Purchase, Refund
from jifen.integrations.services import api_client_create, event_process
from jifen.ledger.models import Account, Transaction
from jifen.ledger.services import points_spend
from jifen.rules.models import CapCounter
from jifen.rules.services import rule_save

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
N = 50


def _purchase(event_id, order_id, amount="100.00", member="crm-1"):
    return {
        "event_id": event_id,
        "type": "purchase",
        "order_id": order_id,
        "amount": amount,
        "member": {"external_id": member},
    }


def _wallet(member):
    return Account.objects.values("available", "pending", "held", "debt").get(member=member)


def _outcomes(results):
    return sorted("duplicate" if r[1][1] else "processed" for r in results if r[0] == "ok")


def test_one_purchase_delivered_50_times_at_once_earns_once(make_member, run_concurrently):
    member = make_member(external_id="crm-1")
    rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": 1})
    client, _secret = api_client_create(name="商城")
    results = run_concurrently(
        lambda i: event_process(client=client, raw=_purchase("p-1", "o-1")), N
    )
    assert [r[0] for r in results] == ["ok"] * N
    assert _outcomes(results) == ["duplicate"] * (N - 1) + ["processed"]
    assert {r[1][0]["points"] for r in results} == {100}
    assert Transaction.objects.filter(kind="earn").count() == 1
    assert Event.objects.count() == Purchase.objects.count() == 1
    assert _wallet(member)["available"] == 100


def test_refunds_racing_spends_follow_the_debt_policy(make_member, run_concurrently, settings):
    settings.JIFEN_REFUND_SHORTFALL = "debt"
    member = make_member(external_id="crm-1")
    rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": 1})
    client, _secret = api_client_create(name="商城")
    event_process(client=client, raw=_purchase("p-1", "o-1", amount="1000.00"))
    points_spend(member_id=member.pk, points=600, purpose="mall", reference="s-init")

    def work(i):
        if i % 2:  # 25 partial refunds of ¥40 (the whole order)
            return event_process(
                client=client,
                raw={"event_id": f"r-{i}", "type": "refund", "order_id": "o-1", "amount": "40.00"},
            )
        return points_spend(member_id=member.pk, points=10, purpose="mall", reference=f"s-{i}")

    results = run_concurrently(work, N)
    errors = [r[1] for r in results if r[0] == "error"]
    assert all(getattr(error, "code", "") == "insufficient_points" for error in errors), errors
    purchase = Purchase.objects.get()
    assert (purchase.refunded_amount, purchase.points_reversed) == (Decimal("1000.00"), 1000)
    assert Refund.objects.count() == 25
    spent = 600 + 10 * (25 - len(errors))
    wallet = _wallet(member)
    # Every point earned came back, from what was available, the rest as debt.
    assert wallet["available"] == 0
    assert wallet["debt"] == spent
    assert sum(refund.debt for refund in Refund.objects.all()) == spent


def test_refund_after_partial_spend_takes_only_what_is_available(make_member, settings):
    settings.JIFEN_REFUND_SHORTFALL = "available"
    member = make_member(external_id="crm-1")
    rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": 1})
    client, _secret = api_client_create(name="商城")
    event_process(client=client, raw=_purchase("p-1", "o-1", amount="100.00"))
    points_spend(member_id=member.pk, points=70, purpose="mall", reference="s")
    result, _dup = event_process(
        client=client, raw={"event_id": "r-1", "type": "refund", "order_id": "o-1"}
    )
    assert (result["points_reversed"], result["forgiven"], result["debt"]) == (100, 70, 0)
    assert _wallet(member) == {"available": 0, "pending": 0, "held": 0, "debt": 0}


def test_daily_cap_holds_under_50_simultaneous_purchases(make_member, run_concurrently):
    member = make_member(external_id="crm-1")
    rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": 1})
    rule_save(code="cap", data={"name": "每日上限", "kind": "cap", "points": 1234})
    rule_save(code="first", data={"name": "首单", "kind": "first_purchase_bonus", "points": 7})
    client, _secret = api_client_create(name="商城")
    results = run_concurrently(
        lambda i: event_process(client=client, raw=_purchase(f"p-{i}", f"o-{i}")), N
    )
    assert [r[0] for r in results] == ["ok"] * N
    awarded = sorted(r[1][0]["points"] for r in results)
    assert sum(awarded) == 1234
    assert _wallet(member)["available"] == 1234
    assert CapCounter.objects.get().points == 1234
    # The first-purchase bonus went to exactly one of them.
    assert sum("首单" in r[1][0]["explanation"] for r in results) == 1


def test_50_simultaneous_puts_of_one_crm_member_make_one_member(db, run_concurrently):
    from jifen.integrations.services import member_upsert
    from jifen.members.models import User

    def put(i):
        return member_upsert(external_id="crm-77", data={"phone": "13900007777", "name": f"王{i}"})

    results = run_concurrently(put, N)
    outcomes = [r[0] for r in results]
    assert outcomes == ["ok"] * N, [r[1] for r in results if r[0] == "error"][:3]
    assert sum(1 for r in results if r[1][1]) == 1  # created once
    member = User.objects.get(external_id="crm-77")
    assert member.phone == "13900007777"
    assert Account.objects.filter(member=member).count() == 1


def test_50_simultaneous_saves_of_one_rule_leave_one_open_version(db, run_concurrently):
    from jifen.rules.models import Rule

    rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": 1})

    def save(i):
        return rule_save(code="base", data={"name": "基础", "kind": "base_rate", "points": i + 1})

    results = run_concurrently(save, N)
    assert [r[0] for r in results] == ["ok"] * N, [repr(r[1]) for r in results][:3]
    saved = N
    assert Rule.objects.filter(code="base", valid_until__isnull=True).count() == 1
    assert Rule.objects.filter(code="base").count() == saved + 1
    versions = list(Rule.objects.filter(code="base").order_by("version"))
    for older, newer in zip(versions, versions[1:], strict=False):
        assert older.valid_until == newer.valid_from  # no gap, no overlap


def test_50_simultaneous_creations_of_a_new_rule_queue(db, run_concurrently):
    from jifen.rules.models import Rule

    def create(i):
        return rule_save(code="new", data={"name": "新", "kind": "base_rate", "points": i + 1})

    results = run_concurrently(create, N)
    assert [r[0] for r in results] == ["ok"] * N, [repr(r[1]) for r in results][:3]
    assert Rule.objects.filter(code="new", valid_until__isnull=True).count() == 1
    assert Rule.objects.filter(code="new").count() == N
