"""Refunds of virtual lines against the real vouchers app (no seam): unused vouchers are
voided, a used one blocks the refund and nothing changes."""

import datetime as dt

import pytest

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale
from jifen.aftersales.tests.conftest import earn
from jifen.core.errors import Conflict
from jifen.ledger.services import balances_of
from jifen.vouchers import services as vouchers
from jifen.vouchers.models import MemberVoucher

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_order(member, shop, make_order):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    order = make_order(member, [(shop.card_sku, 2)], status="completed")
    line = order.lines.get()
    vouchers.vouchers_issue(
        member_id=member.pk,
        order_line_id=line.pk,
        item_id=line.item_id,
        sku_id=line.sku_id,
        quantity=2,
        reference=line.stock_reference,
    )
    return order


def ask(order, quantity):
    return services.aftersale_request(
        member_id=order.member_id,
        order_number=order.number,
        kind="refund_only",
        lines=[{"order_line": order.lines.get().pk, "quantity": quantity}],
        reason="other",
    )


def statuses():
    return sorted(MemberVoucher.objects.values_list("status", flat=True))


def test_unused_vouchers_are_voided_on_refund(card_order, operator, provider):
    a = ask(card_order, 2)
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    a.refresh_from_db()
    assert a.status == "refunded"
    assert statuses() == ["revoked", "revoked"]
    assert balances_of(card_order.member_id)["available"] == 10_000
    card_order.refresh_from_db()
    assert card_order.status == "refunded"


def test_a_used_voucher_blocks_the_refund(card_order, operator, provider):
    used = MemberVoucher.objects.order_by("pk").first()
    vouchers.voucher_mark_used(voucher_id=used.pk)
    a = ask(card_order, 2)
    balance = balances_of(card_order.member_id)
    with pytest.raises(Conflict) as error:
        services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    assert error.value.code == "voucher_used"
    assert statuses() == ["unused", "used"]  # the revocation rolled back
    assert AfterSale.objects.get(pk=a.pk).status == "requested"
    assert balances_of(card_order.member_id) == balance
    # One unit (the unused one) can still be refunded.
    services.aftersale_cancel(aftersale_id=a.pk, member_id=card_order.member_id)
    b = ask(card_order, 1)
    services.aftersale_decide(aftersale_id=b.pk, approve=True, by=operator)
    assert AfterSale.objects.get(pk=b.pk).status == "refunded"
    assert sorted(statuses()) == ["revoked", "used"]
