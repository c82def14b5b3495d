"""After-sales under real concurrency (PostgreSQL)."""

import datetime as dt
from decimal import Decimal

import pytest

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale, AfterSaleLine
from jifen.aftersales.tests.conftest import earn
from jifen.core.errors import Conflict, ValidationFailed
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_requests_never_exceed_what_was_bought(
    member, shop, make_order, run_concurrently
):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 3)])
    line = order.lines.get()

    def ask(i):
        return services.aftersale_request(
            member_id=member.pk,
            order_number=order.number,
            kind="return_refund",
            lines=[{"order_line": line.pk, "quantity": 2}],
            reason="quality",
        ).number

    results = run_concurrently(ask, 8)
    ok = [value for status, value in results if status == "ok"]
    errors = [value for status, value in results if status == "error"]
    assert len(ok) == 1
    assert all(isinstance(e, Conflict | ValidationFailed) for e in errors), errors
    assert sum(AfterSaleLine.objects.values_list("quantity", flat=True)) == 2


def test_refund_called_twice_at_once_refunds_once(
    member, shop, make_order, operator, provider, run_concurrently
):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.mug_sku, 2)])
    a = services.aftersale_request(
        member_id=member.pk,
        order_number=order.number,
        kind="return_refund",
        lines=[{"order_line": order.lines.get().pk, "quantity": 2}],
        reason="quality",
    )
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    services.aftersale_receive(aftersale_id=a.pk, by=operator)

    def refund(i):
        return services.aftersale_refund(aftersale_id=a.pk, by=operator).status

    results = run_concurrently(refund, 6)
    assert [status for status, _v in results] == ["ok"] * 6, results
    assert balances_of(member.pk)["available"] == 10_000
    assert Transaction.objects.filter(reference=f"aftersale:{a.number}").count() == 1
    assert list(provider.refunds) == [f"aftersale:{a.number}"]
    assert provider.refunds[f"aftersale:{a.number}"].amount == Decimal("19.80")
    assert AfterSale.objects.get(pk=a.pk).status == "refunded"
