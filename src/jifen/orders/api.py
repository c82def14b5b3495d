"""Redemption orders and the cart in the JSON API (API.md: /me/orders, /me/cart).

Placing an order is once per Idempotency-Key twice over: the idempotency middleware replays
the stored response, and the key (hashed) is the order's checkout token, so even a lost
response or a concurrent duplicate makes one order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from ninja import Field, Header, Query, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from jifen.core.pagination import page_bounds
from jifen.members.api import ErrorOut, Text, local
from jifen.members.auth import member_auth
from jifen.orders import selectors, services
from jifen.orders.models import Order

router = Router(tags=["orders"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
PositiveId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
StatusName = Literal[
    "pending_payment", "paid", "shipped", "delivered", "completed", "cancelled", "refunded"
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retry with the same key: one order, the first result replayed.",
    ),
]


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


def _money(value) -> str:
    return f"{value:.2f}"


# --- schemas -----------------------------------------------------------------------------------


class LineIn(StrictSchema):
    sku: PositiveId
    quantity: Annotated[StrictInt, Field(ge=1, le=999)]


class OrderIn(StrictSchema):
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    address_id: PositiveId | None = None


class CancelIn(StrictSchema):
    reason: Text = Field("", max_length=200)


class LineOut(Schema):
    id: int
    item_id: int
    sku: int
    item_name: str
    sku_label: str
    kind: str
    fulfilment: str
    quantity: int
    unit_points: int
    unit_cash: str
    points_paid: int
    cash_paid: str


class EventOut(Schema):
    from_status: str
    to_status: str
    actor: str
    reason: str
    created_at: dt.datetime


class AddressOut(Schema):
    name: str
    phone: str
    region: str
    detail: str


class TrackingEventOut(Schema):
    status: str
    description: str
    location: str
    occurred_at: dt.datetime


class ShipmentOut(Schema):
    carrier: str
    tracking_number: str
    tracking_url: str
    status: str
    status_label: str
    shipped_at: dt.datetime
    delivered_at: dt.datetime | None
    events: list[TrackingEventOut]


class OrderSummary(Schema):
    number: str
    status: str
    status_label: str
    points_total: int
    cash_total: str
    currency: str
    needs_shipping: bool
    created_at: dt.datetime
    lines: list[LineOut]


class OrderOut(OrderSummary):
    points_subtotal: int
    points_discount: int
    cash_subtotal: str
    shipping_fee: str
    address: AddressOut | None
    expires_at: dt.datetime | None
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    refunded_at: dt.datetime | None
    cancel_reason: str
    pay_url: str | None
    payment_id: int | None = Field(
        None, description="the payment to poll at GET /me/payments/{id} (cash orders)"
    )
    shipment: ShipmentOut | None
    events: list[EventOut]


class OrderList(Schema):
    items: list[OrderSummary]
    count: int


def _line(line) -> dict:
    return {
        "id": line.pk,
        "item_id": line.item_id,
        "sku": line.sku_id,
        "item_name": line.item_name,
        "sku_label": line.sku_label,
        "kind": line.kind,
        "fulfilment": line.fulfilment,
        "quantity": line.quantity,
        "unit_points": line.unit_points,
        "unit_cash": _money(line.unit_cash),
        "points_paid": line.points_paid,
        "cash_paid": _money(line.cash_paid),
    }


def _summary(order: Order) -> dict:
    return {
        "number": order.number,
        "status": order.status,
        "status_label": str(order.get_status_display()),
        "points_total": order.points_total,
        "cash_total": _money(order.cash_total),
        "currency": order.currency,
        "needs_shipping": order.needs_shipping,
        "created_at": local(order.created_at),
        "lines": [_line(line) for line in order.lines.all()],
    }


def _shipment(order: Order) -> dict | None:
    from jifen.shipping.selectors import shipment_for_order

    shipment = shipment_for_order(order_id=order.pk) if order.needs_shipping else None
    if shipment is None:
        return None
    return {
        "carrier": shipment.carrier.name,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "status": shipment.status,
        "status_label": str(shipment.get_status_display()),
        "shipped_at": local(shipment.shipped_at),
        "delivered_at": local(shipment.delivered_at),
        "events": [
            {
                "status": event.status,
                "description": event.description,
                "location": event.location,
                "occurred_at": local(event.occurred_at),
            }
            for event in shipment.events.all()
        ],
    }


def _payment_id(order: Order) -> int | None:
    if order.paid_payment_id:
        return order.paid_payment_id
    if order.cash_total <= 0:
        return None
    from jifen.payments.selectors import payment_for

    payment = payment_for(purpose="order", reference=order.number)
    return payment.pk if payment else None


def _detail(order: Order) -> dict:
    return {
        **_summary(order),
        "points_subtotal": order.points_subtotal,
        "points_discount": order.points_discount,
        "cash_subtotal": _money(order.cash_subtotal),
        "shipping_fee": _money(order.shipping_fee),
        "address": {
            "name": order.ship_name,
            "phone": order.ship_phone,
            "region": order.ship_region,
            "detail": order.ship_detail,
        }
        if order.needs_shipping
        else None,
        "expires_at": local(order.expires_at),
        "paid_at": local(order.paid_at),
        "shipped_at": local(order.shipped_at),
        "delivered_at": local(order.delivered_at),
        "completed_at": local(order.completed_at),
        "cancelled_at": local(order.cancelled_at),
        "refunded_at": local(order.refunded_at),
        "cancel_reason": order.cancel_reason,
        "pay_url": selectors.order_pay_url(order),
        "payment_id": _payment_id(order),
        "shipment": _shipment(order),
        "events": [
            {
                "from_status": event.from_status,
                "to_status": event.to_status,
                "actor": event.actor_label,
                "reason": event.reason,
                "created_at": local(event.created_at),
            }
            for event in order.events.order_by("created_at", "pk")
        ],
    }


def _token(request, key: str | None) -> str | None:
    if not key:
        return None
    return "api:" + hashlib.sha256(key.encode()).hexdigest()[:56]


# --- orders ------------------------------------------------------------------------------------


@router.post("/me/orders", auth=member_auth, response={201: OrderOut, **ERRORS})
def order_create(request, payload: OrderIn, idempotency_key: IdempotencyKey = None):
    """Place an order: points held and stock reserved at once. A points-only order is paid
    (and completed, when nothing ships) right away; with cash it waits for payment at
    `pay_url` for JIFEN_ORDER_PAYMENT_MINUTES. Send an Idempotency-Key: a retry makes no
    second order."""
    order = services.order_place(
        member_id=request.auth.pk,
        lines=[(line.sku, line.quantity) for line in payload.lines],
        address_id=payload.address_id,
        checkout_token=_token(request, idempotency_key),
    )
    return Status(201, _detail(order))


@router.get("/me/orders", auth=member_auth, response={200: OrderList, **ERRORS})
def order_list(
    request,
    status: StatusName | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
):
    """The member's orders, newest first; filter by `status`."""
    offset, limit = page_bounds(page, page_size)
    orders = selectors.orders_for_member(member_id=request.auth.pk, status=status)
    return Status(
        200,
        {
            "items": [_summary(order) for order in orders[offset : offset + limit]],
            "count": orders.count(),
        },
    )


@router.get("/me/orders/{number}", auth=member_auth, response={200: OrderOut, **ERRORS})
def order_get(request, number: str):
    """One order with its lines, every event and, while unpaid, where to pay."""
    return Status(
        200, _detail(selectors.order_get_for_member(number=number, member_id=request.auth.pk))
    )


@router.post("/me/orders/{number}/cancel", auth=member_auth, response={200: OrderOut, **ERRORS})
def order_cancel(request, number: str, payload: CancelIn | None = None):
    """Cancel before shipment: points and stock come back at once, paid cash is refunded."""
    order = selectors.order_get_for_member(number=number, member_id=request.auth.pk)
    reason = (payload.reason.strip() if payload else "") or None
    services.order_cancel(
        order_id=order.pk,
        member_id=request.auth.pk,
        by=request.auth,
        actor_label="member",
        reason=reason or "",
    )
    order.refresh_from_db()
    return Status(200, _detail(order))


@router.post(
    "/me/orders/{number}/confirm-receipt", auth=member_auth, response={200: OrderOut, **ERRORS}
)
def order_confirm_receipt(request, number: str):
    """The parcel arrived: a shipped or delivered order completes (a repeat returns it).
    409 `invalid_transition` before shipment."""
    order = selectors.order_get_for_member(number=number, member_id=request.auth.pk)
    order = services.order_confirm_receipt(order_id=order.pk, member_id=request.auth.pk)
    return Status(200, _detail(order))


# --- cart --------------------------------------------------------------------------------------


class CartLineIn(StrictSchema):
    sku: PositiveId
    quantity: Annotated[StrictInt, Field(ge=1, le=999)] = 1


class CartQuantityIn(StrictSchema):
    quantity: Annotated[StrictInt, Field(ge=1, le=999)]


class CartLineOut(Schema):
    id: int
    sku: int
    item_id: int
    item_name: str
    sku_label: str
    quantity: int
    points: int
    cash: str
    problem: str


class CartOut(Schema):
    items: list[CartLineOut]
    count: int
    points_total: int
    cash_total: str
    currency: str


def _cart(member_id: int) -> dict:
    cart = selectors.cart_get(member_id=member_id)
    return {
        "items": [
            {
                "id": row.line.pk,
                "sku": row.sku.pk,
                "item_id": row.item.pk,
                "item_name": row.item.name,
                "sku_label": row.sku.label,
                "quantity": row.line.quantity,
                "points": row.sku.points,
                "cash": _money(row.sku.cash),
                "problem": row.problem,
            }
            for row in cart.rows
        ],
        "count": cart.count,
        "points_total": cart.points_total,
        "cash_total": _money(cart.cash_total),
        "currency": cart.currency,
    }


@router.get("/me/cart", auth=member_auth, response={200: CartOut, **ERRORS})
def cart_get(request):
    """The cart; `problem` says why a line cannot be ordered now (totals leave it out)."""
    return Status(200, _cart(request.auth.pk))


@router.post("/me/cart", auth=member_auth, response={201: CartOut, **ERRORS})
def cart_add(request, payload: CartLineIn):
    """Add units of a SKU (added to a line already there)."""
    services.cart_add(member_id=request.auth.pk, sku_id=payload.sku, quantity=payload.quantity)
    return Status(201, _cart(request.auth.pk))


@router.put("/me/cart/{line_id}", auth=member_auth, response={200: CartOut, **ERRORS})
def cart_update(request, line_id: int, payload: CartQuantityIn):
    services.cart_line_update(member_id=request.auth.pk, line_id=line_id, quantity=payload.quantity)
    return Status(200, _cart(request.auth.pk))


@router.delete("/me/cart/{line_id}", auth=member_auth, response={200: CartOut, **ERRORS})
def cart_remove(request, line_id: int):
    services.cart_line_remove(member_id=request.auth.pk, line_id=line_id)
    return Status(200, _cart(request.auth.pk))
