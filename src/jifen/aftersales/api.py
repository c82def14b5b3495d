"""After-sales in the JSON API: a member's requests (photos are uploaded on the site)."""

import datetime as dt
from typing import Literal

from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from jifen.aftersales import selectors, services
from jifen.aftersales.models import AfterSale
from jifen.ledger.api import ERRORS, IdempotencyKey, reference_for
from jifen.members.api import Text, local
from jifen.members.auth import member_auth

router = Router(tags=["aftersales"])

MAX_ID = 2**63 - 1


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class LineIn(StrictSchema):
    order_line: StrictInt = Field(ge=1, le=MAX_ID, description="the order line's id")
    quantity: StrictInt


class AfterSaleIn(StrictSchema):
    order_number: Text = Field(max_length=20)
    kind: Literal["refund_only", "return_refund", "exchange"]
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    reason: Literal[tuple(AfterSale.Reason.values)]  # type: ignore[valid-type]
    reason_text: Text = Field("", max_length=500)


class LineOut(Schema):
    order_line: int
    item_name: str
    sku_label: str
    quantity: int
    points: int
    cash: str


class EventOut(Schema):
    from_status: str
    to_status: str
    actor: str
    note: str
    created_at: dt.datetime


class AfterSaleOut(Schema):
    number: str
    order_number: str
    kind: str
    status: str
    status_label: str
    reason: str
    reason_text: str
    points_to_refund: int
    cash_to_refund: str = Field(description='decimal string, e.g. "9.90" (incl. shipping)')
    shipping_refund: str
    currency: str
    return_carrier: str
    return_tracking_number: str
    exchange_carrier: str
    exchange_tracking_number: str
    decision_note: str
    lines: list[LineOut]
    photos: list[str]
    events: list[EventOut]
    created_at: dt.datetime
    refunded_at: dt.datetime | None


class AfterSaleList(Schema):
    items: list[AfterSaleOut]
    count: int


def aftersale_out(aftersale: AfterSale) -> dict:
    return {
        "number": aftersale.number,
        "order_number": aftersale.order.number,
        "kind": aftersale.kind,
        "status": aftersale.status,
        "status_label": str(aftersale.get_status_display()),
        "reason": aftersale.reason,
        "reason_text": aftersale.reason_text,
        "points_to_refund": aftersale.points_to_refund,
        "cash_to_refund": f"{aftersale.cash_to_refund:.2f}",
        "shipping_refund": f"{aftersale.shipping_refund:.2f}",
        "currency": aftersale.currency,
        "return_carrier": aftersale.return_carrier,
        "return_tracking_number": aftersale.return_tracking_number,
        "exchange_carrier": aftersale.exchange_carrier,
        "exchange_tracking_number": aftersale.exchange_tracking_number,
        "decision_note": aftersale.decision_note,
        "lines": [
            {
                "order_line": line.order_line_id,
                "item_name": line.order_line.item_name,
                "sku_label": line.order_line.sku_label,
                "quantity": line.quantity,
                "points": line.points,
                "cash": f"{line.cash:.2f}",
            }
            for line in aftersale.lines.all()
        ],
        "photos": [photo.image.url for photo in aftersale.photos.all()],
        "events": [
            {
                "from_status": event.from_status,
                "to_status": event.to_status,
                "actor": event.actor_label,
                "note": event.note,
                "created_at": local(event.created_at),
            }
            for event in aftersale.events.all()
        ],
        "created_at": local(aftersale.created_at),
        "refunded_at": local(aftersale.refunded_at),
    }


def _detail(number: str, member_id: int) -> dict:
    return aftersale_out(selectors.aftersale_get_for_member(number=number, member_id=member_id))


@router.get("/me/aftersales", auth=member_auth, response={200: AfterSaleList, **ERRORS})
def my_aftersales(request, page: int = 1, page_size: int = 20):
    rows, count = selectors.aftersale_list_for_member(
        member_id=request.auth.pk, page=page, page_size=page_size
    )
    return Status(200, {"items": [aftersale_out(row) for row in rows], "count": count})


@router.post("/me/aftersales", auth=member_auth, response={201: AfterSaleOut, **ERRORS})
def aftersale_create(request, payload: AfterSaleIn, idempotency_key: IdempotencyKey = None):
    """Ask for a refund, a return or an exchange of lines of a paid order. Send an
    Idempotency-Key so a retry never makes two requests."""
    aftersale = services.aftersale_request(
        member_id=request.auth.pk,
        order_number=payload.order_number,
        kind=payload.kind,
        lines=[line.model_dump() for line in payload.lines],
        reason=payload.reason,
        reason_text=payload.reason_text,
        reference=reference_for(request, "aftersale", idempotency_key) if idempotency_key else None,
    )
    return Status(201, _detail(aftersale.number, request.auth.pk))


@router.get("/me/aftersales/{number}", auth=member_auth, response={200: AfterSaleOut, **ERRORS})
def aftersale_detail(request, number: str):
    return Status(200, _detail(number, request.auth.pk))


@router.post(
    "/me/aftersales/{number}/cancel", auth=member_auth, response={200: AfterSaleOut, **ERRORS}
)
def aftersale_cancel(request, number: str):
    aftersale = selectors.aftersale_get_for_member(number=number, member_id=request.auth.pk)
    services.aftersale_cancel(aftersale_id=aftersale.pk, member_id=request.auth.pk)
    return Status(200, _detail(number, request.auth.pk))
