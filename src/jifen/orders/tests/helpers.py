import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from jifen.catalog.models import MemberItemQuota, Sku
from jifen.ledger.models import Lot
from jifen.ledger.services import balances_of
from jifen.orders.models import Order, OrderEvent

STOCK = ("reserved", "sold", "remaining", "returned")


def stock(sku) -> dict:
    return Sku.objects.filter(pk=sku.pk).values(*STOCK).get()


def balance(member) -> dict:
    return dict(balances_of(member.pk))


def quota(member, item) -> int:
    row = MemberItemQuota.objects.filter(member_id=member.pk, item_id=item.pk).first()
    return row.taken if row else 0


def events(order) -> list[tuple[str, str, str]]:
    return [
        (e.from_status, e.to_status, e.actor_label)
        for e in OrderEvent.objects.filter(order_id=order.pk).order_by("pk")
    ]


def fresh(order) -> Order:
    return Order.objects.get(pk=order.pk)


def lots(member) -> list[tuple[int, int, dt.date | None]]:
    return sorted(
        (lot.amount, lot.remaining, lot.expires_on)
        for lot in Lot.objects.filter(member_id=member.pk)
    )


def fake_payment(order, pk=1, amount=None):
    """What payments hands to on_paid: the fields order_payment_succeeded reads."""
    return SimpleNamespace(
        pk=pk,
        id=pk,
        reference=order.number,
        amount=Decimal(amount if amount is not None else order.cash_total),
        member_id=order.member_id,
        purpose="order",
    )


def snapshot(member, *skus) -> tuple:
    """Everything an order touches, to assert that a refused one changed nothing."""
    return (
        balance(member),
        [stock(sku) for sku in skus],
        Order.objects.count(),
        list(MemberItemQuota.objects.filter(member_id=member.pk).values_list("item_id", "taken")),
    )
