"""Review M1 on PostgreSQL: a member's cancel and an operator's refund-only approval of the
same order, released together. Both lock the order row first, so no deadlock reaches a
caller, exactly one of them wins, and the books hold (the ledger verification runs after)."""

import datetime as dt
from collections import Counter

import pytest

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale
from jifen.catalog import services as catalog
from jifen.catalog.models import Sku
from jifen.core.errors import Conflict
from jifen.ledger.services import balances_of, points_earn
from jifen.members.services import address_create
from jifen.orders import services as orders
from jifen.orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_cancels_and_aftersale_approval_never_deadlock(
    make_member, operator, run_concurrently, settings
):
    """Per round, one member, two paid orders of the same SKU: X with an open refund-only
    request for 1 of 2, Y without. Released together: cancel X (refused: its after-sale),
    cancel Y (locks Y, the SKU, the wallet) and approve X (locks X, the after-sale, the SKU,
    the wallet) — the review's deadlock needed the ledger before the SKU in one of them."""
    settings.JIFEN_SHIPPING_FEE = "10.00"
    settings.JIFEN_FREE_SHIPPING_OVER = "1.00"  # points only: paid at once
    category = catalog.category_save(name="生活")
    mug = catalog.item_save(kind="physical", name="马克杯", category_id=category.pk)
    sku = catalog.sku_create(item_id=mug.pk, points=300, stock_initial=4)
    outcomes = Counter()
    for round_ in range(10):
        member = make_member()
        points_earn(
            member_id=member.pk,
            points=2000,
            source="test",
            reference=f"race:{round_}",
            expires_on=dt.date(2099, 12, 31),
        )
        address = address_create(
            member=member,
            data={
                "recipient": "张三",
                "phone": "13800138000",
                "province": "上海市",
                "city": "上海市",
                "district": "浦东新区",
                "detail": "世纪大道 100 号",
                "is_default": True,
            },
        )
        x, y = (
            orders.order_place(
                member_id=member.pk, lines=[(sku.pk, 2)], address_id=address.pk, checkout_token=t
            )
            for t in ("x", "y")
        )
        assert (x.status, y.status) == ("paid", "paid")
        a = services.aftersale_request(
            member_id=member.pk,
            order_number=x.number,
            kind="refund_only",
            lines=[{"order_line": x.lines.get().pk, "quantity": 1}],
            reason="other",
        )
        remaining = Sku.objects.get(pk=sku.pk).remaining

        def go(i, x=x, y=y, a=a, member=member):
            if i == 0:
                return orders.order_cancel(order_id=x.pk, member_id=member.pk).status
            if i == 1:
                return orders.order_cancel(order_id=y.pk, member_id=member.pk).status
            return services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator).status

        cancel_x, cancel_y, approve = run_concurrently(go, 3)
        # never a deadlock (or any other error) reaching a caller
        assert cancel_x[0] == "error" and isinstance(cancel_x[1], Conflict), cancel_x
        assert cancel_x[1].code == "aftersale_open"
        assert cancel_y == ("ok", "cancelled") and approve == ("ok", "refunded"), (
            cancel_y,
            approve,
        )
        a = AfterSale.objects.get(pk=a.pk)
        assert Order.objects.get(pk=x.pk).status == "paid"
        assert Order.objects.get(pk=y.pk).status == "cancelled"
        assert dict(balances_of(member.pk))["available"] == (
            2000 - x.points_total + a.points_to_refund
        )
        assert Sku.objects.get(pk=sku.pk).remaining == remaining + 2 + 1
        outcomes["ok"] += 1
        catalog.stock_adjust(sku_id=sku.pk, delta=1, reason="refill")
    assert outcomes == Counter({"ok": 10})
