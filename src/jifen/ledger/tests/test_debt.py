"""Refunds after the points were spent: the shortfall policies and the debt they leave."""

import pytest

from jifen.core.errors import InsufficientPoints, ValidationFailed
from jifen.ledger.models import Account, Lot, Transaction
from jifen.ledger.selectors import points_history, points_summary
from jifen.ledger.services import (
    balances_of,
    points_earn,
    points_spend,
    transaction_reverse,
)
from jifen.ledger.verification import ledger_verify

pytestmark = pytest.mark.django_db


def earn(member, points, ref):
    return points_earn(member_id=member.pk, points=points, source="purchase", reference=ref)


def wallet(member):
    return Account.objects.filter(member=member).values("available", "debt").get()


def test_debt_policy_takes_what_is_there_and_earnings_repay_the_rest(member):
    e1 = earn(member, 100, "e1")
    points_spend(member_id=member.pk, points=80, purpose="mall", reference="s1")
    reversal = transaction_reverse(transaction_id=e1.pk, reference="refund-1", shortfall="debt")
    assert wallet(member) == {"available": 0, "debt": 80}
    assert reversal.details["debt"] == 80
    assert Transaction.objects.get(pk=reversal.pk).details["debt"] == 80
    rows, _count = points_history(member_id=member.pk)
    assert [(r.kind, r.points) for r in rows][:1] == [("refund", -100)]

    earn(member, 50, "e2")
    assert wallet(member) == {"available": 0, "debt": 30}
    e3 = earn(member, 50, "e3")
    assert wallet(member) == {"available": 20, "debt": 0}
    assert Transaction.objects.get(pk=e3.pk).details["debt_repaid"] == 30
    assert Lot.objects.get(transaction=e3).amount == 20
    assert points_summary(member_id=member.pk)["debt"] == 0
    summary = ledger_verify().summary
    assert (summary["issued"], summary["outstanding"], summary["redeemed"]) == (100, 20, 80)


def test_debt_policy_takes_other_available_points_first(member):
    e1 = earn(member, 100, "e1")
    earn(member, 50, "e2")
    points_spend(member_id=member.pk, points=120, purpose="mall", reference="s1")
    transaction_reverse(transaction_id=e1.pk, reference="refund-1", shortfall="debt")
    assert wallet(member) == {"available": 0, "debt": 70}


def test_available_policy_forgives_what_was_spent(member):
    e1 = earn(member, 100, "e1")
    points_spend(member_id=member.pk, points=80, purpose="mall", reference="s1")
    reversal = transaction_reverse(
        transaction_id=e1.pk, reference="refund-1", shortfall="available"
    )
    assert wallet(member) == {"available": 0, "debt": 0}
    assert Transaction.objects.get(pk=reversal.pk).details["forgiven"] == 80
    summary = ledger_verify().summary
    assert (summary["issued"], summary["redeemed"]) == (80, 80)


def test_nothing_left_to_take_is_recorded_without_entries(member):
    e1 = earn(member, 100, "e1")
    points_spend(member_id=member.pk, points=100, purpose="mall", reference="s1")
    reversal = transaction_reverse(
        transaction_id=e1.pk, reference="refund-1", shortfall="available"
    )
    assert reversal.entries.count() == 0
    assert wallet(member) == {"available": 0, "debt": 0}
    again = transaction_reverse(transaction_id=e1.pk, reference="refund-1", shortfall="available")
    assert again.pk == reversal.pk


def test_refuse_policy_changes_nothing(member):
    e1 = earn(member, 100, "e1")
    points_spend(member_id=member.pk, points=80, purpose="mall", reference="s1")
    with pytest.raises(InsufficientPoints):
        transaction_reverse(transaction_id=e1.pk, reference="refund-1")
    assert wallet(member) == {"available": 20, "debt": 0}
    assert not Transaction.objects.filter(kind="reversal").exists()


def test_refunding_an_earn_that_repaid_debt_owes_it_again(member):
    e1 = earn(member, 100, "e1")
    points_spend(member_id=member.pk, points=100, purpose="mall", reference="s1")
    transaction_reverse(transaction_id=e1.pk, reference="refund-1", shortfall="debt")
    e2 = earn(member, 60, "e2")  # repays 60 of the 100 owed; no lot
    assert wallet(member) == {"available": 0, "debt": 40}
    transaction_reverse(transaction_id=e2.pk, reference="refund-2", shortfall="debt")
    assert wallet(member) == {"available": 0, "debt": 100}
    assert balances_of(member.pk)["available"] == 0


def test_unknown_shortfall_policy_is_refused(member):
    e1 = earn(member, 100, "e1")
    with pytest.raises(ValidationFailed):
        transaction_reverse(transaction_id=e1.pk, reference="r", shortfall="maybe")
