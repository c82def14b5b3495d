"""Reads of after-sales: a member's list and detail, what an order may still ask for, the
operators' queue counts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet, Sum
from django.utils.translation import gettext as _

from jifen.aftersales.models import (
    OPEN_STATUSES,
    TAKING_STATUSES,
    AfterSale,
    AfterSaleEvent,
    AfterSaleLine,
)
from jifen.core.errors import NotFound
from jifen.core.pagination import page_bounds
from jifen.orders.models import Order, OrderLine


def _with_details(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("order").prefetch_related(
        Prefetch("lines", queryset=AfterSaleLine.objects.select_related("order_line")),
        "photos",
        Prefetch("events", queryset=AfterSaleEvent.objects.order_by("created_at", "pk")),
    )


def aftersale_list_for_member(
    *, member_id: int, page: int = 1, page_size: int = 20
) -> tuple[list[AfterSale], int]:
    """The member's after-sales, newest first, with lines and photos."""
    offset, limit = page_bounds(page, page_size)
    queryset = AfterSale.objects.filter(member_id=member_id)
    return list(_with_details(queryset)[offset : offset + limit]), queryset.count()


def aftersale_get_for_member(*, number: str, member_id: int) -> AfterSale:
    """NotFound `aftersale_not_found` for unknown numbers and other members' alike."""
    aftersale = (
        _with_details(AfterSale.objects.filter(member_id=member_id))
        .filter(number=str(number or "")[:20])
        .first()
    )
    if aftersale is None:
        raise NotFound(_("售后单不存在。"), code="aftersale_not_found", fields={"number": number})
    return aftersale


def order_aftersales(*, order_id: int) -> list[AfterSale]:
    return list(_with_details(AfterSale.objects.filter(order_id=order_id)))


@dataclass
class LineChoice:
    """An order line as the request form offers it."""

    line: OrderLine
    available: int  # units not held by an open or refunded after-sale
    has_open: bool
    unit_points: int  # what one unit paid (points after the tier discount), for the preview
    unit_cash: Decimal

    @property
    def can_request(self) -> bool:
        return self.available > 0 and not self.has_open

    @property
    def physical(self) -> bool:
        return self.line.fulfilment == "shipping"


def order_line_choices(*, order: Order) -> list[LineChoice]:
    taking = {
        row["order_line_id"]: row["qty"]
        for row in AfterSaleLine.objects.filter(
            aftersale__order_id=order.pk, aftersale__status__in=TAKING_STATUSES
        )
        .values("order_line_id")
        .annotate(qty=Sum("quantity"))
    }
    open_lines = set(
        AfterSaleLine.objects.filter(
            aftersale__order_id=order.pk, aftersale__status__in=OPEN_STATUSES
        ).values_list("order_line_id", flat=True)
    )
    return [
        LineChoice(
            line=line,
            available=line.quantity - taking.get(line.pk, 0),
            has_open=line.pk in open_lines,
            unit_points=line.points_paid // line.quantity,
            unit_cash=(line.cash_paid / line.quantity).quantize(Decimal("0.01")),
        )
        for line in order.lines.all()
    ]


def order_can_request(*, order: Order) -> bool:
    """Whether the "申请售后" button shows: the window is open and some line is free."""
    from jifen.aftersales.services import order_aftersale_window_open

    if not order_aftersale_window_open(order):
        return False
    return any(choice.can_request for choice in order_line_choices(order=order))


def queue_count() -> int:
    """Requests waiting for an operator: new ones and returns that have arrived back."""
    return AfterSale.objects.filter(
        status__in=(AfterSale.Status.REQUESTED, AfterSale.Status.AWAITING_RETURN)
    ).count()


def units_refunded_before_shipment(*, order_ids) -> dict[int, int]:
    """{order line id: units} refunded by refund-only after-sales while the order had not
    shipped (those units went back on the shelf: they must not be packed)."""
    rows = AfterSaleLine.objects.filter(
        aftersale__order_id__in=list(order_ids),
        aftersale__status=AfterSale.Status.REFUNDED,
        aftersale__restock_on_refund=True,
    )
    return {
        row["order_line_id"]: row["qty"]
        for row in rows.values("order_line_id").annotate(qty=Sum("quantity"))
    }


def order_units_to_ship(*, order: Order) -> list[tuple[OrderLine, int]]:
    """[(physical line, quantity still to ship)] of an order: the line's quantity minus the
    units refunded before shipment; lines with nothing left are left out. Uses
    `order.lines.all()` (prefetch it for a list)."""
    lines = [line for line in order.lines.all() if line.fulfilment == "shipping"]
    refunded = units_refunded_before_shipment(order_ids=[order.pk]) if lines else {}
    left = [(line, line.quantity - refunded.get(line.pk, 0)) for line in lines]
    return [(line, quantity) for line, quantity in left if quantity > 0]
