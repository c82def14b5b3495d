"""The integration API for the enterprise's systems (docs/integration.md).

Requests are signed (jifen.integrations.signing); IntegrationSignatureMiddleware checks
the signature before Idempotency-Key handling, and `integration_auth` checks it again when
that middleware is not installed. Each operation parses input, calls one service or
selector, and renders the result.
"""

import datetime as dt
import json
from typing import Annotated

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StrictStr

from jifen.core.errors import ValidationFailed
from jifen.integrations import selectors, services
from jifen.integrations.holds import selectors as holds_selectors
from jifen.integrations.holds import services as holds_services
from jifen.integrations.signing import signature_verify
from jifen.members.api import ErrorOut, Text, local

router = Router(tags=["integration"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class IntegrationAuth:
    """The signing ApiClient (set by the middleware, or verified here)."""

    def __call__(self, request):
        client = getattr(request, "integration_client", None)
        if client is None:
            client = signature_verify(request)
            request.integration_client = client
        return client


integration_auth = IntegrationAuth()


class MemberIn(Schema):
    model_config = ConfigDict(extra="forbid")

    phone: Text | None = Field(None, max_length=20)
    email: Text | None = Field(None, max_length=254)
    name: Text | None = Field(None, max_length=100)
    birthday: dt.date | None = None
    gender: Annotated[StrictStr, Field(pattern="^(|female|male|other)$")] | None = None


class PointsOut(Schema):
    available: int
    pending: int
    held: int
    debt: int


class MemberOut(Schema):
    external_id: str
    member_number: str
    phone: str | None
    email: str | None
    name: str
    birthday: dt.date | None
    gender: str
    is_active: bool
    tier: dict | None
    points: PointsOut


@router.put(
    "/integration/members/{external_id}",
    auth=integration_auth,
    response={200: MemberOut, 201: MemberOut, **ERRORS},
)
def member_put(request, external_id: str, payload: MemberIn):
    """Create (201) or update (200) the member the CRM knows as `external_id`."""
    member, created = services.member_upsert(
        external_id=external_id, data=payload.model_dump(exclude_unset=True)
    )
    return Status(201 if created else 200, selectors.member_by_external_id(external_id=external_id))


@router.get(
    "/integration/members/{external_id}", auth=integration_auth, response={200: MemberOut, **ERRORS}
)
def member_get(request, external_id: str):
    return Status(200, selectors.member_by_external_id(external_id=external_id))


EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": (
                        'One event, or {"events": [...]} with up to 1,000. Each event has '
                        "event_id (unique per client) and type: purchase, refund or custom."
                    ),
                }
            }
        },
    }
}


@router.post(
    "/integration/events",
    auth=integration_auth,
    response={200: dict, **ERRORS},
    openapi_extra=EVENTS_BODY,
)
def events_post(request):
    """Apply events once each. A batch answers 200 with one result per event; a single
    event answers its result, or its error with the error's status."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            _("请求体不是有效的 JSON。"), code="malformed_json", status=400
        ) from None
    client = request.auth
    if isinstance(body, dict) and "events" not in body:
        result, duplicate = services.event_process(client=client, raw=body)
        return Status(
            200,
            {
                "event_id": body.get("event_id"),
                "status": "duplicate" if duplicate else "processed",
                "result": result,
            },
        )
    return Status(200, services.events_ingest(client=client, body=body))


class EventOut(Schema):
    event_id: str
    type: str
    status: str
    result: dict
    received_at: dt.datetime


@router.get(
    "/integration/events/{event_id}", auth=integration_auth, response={200: EventOut, **ERRORS}
)
def event_get(request, event_id: str):
    """The stored result of an event this client posted."""
    event = selectors.event_get(client_id=request.auth.pk, event_id=event_id)
    return Status(
        200,
        {
            "event_id": event.event_id,
            "type": event.type,
            "status": event.status,
            "result": event.result,
            "received_at": local(event.received_at),
        },
    )


# --- points as cash (holds) ---------------------------------------------------------------


class CashQuoteOut(Schema):
    member: str
    order_amount: str
    currency: str
    available: int
    max_points: int
    cash_value: str
    points_per_yuan: int
    max_share: str
    min_points: int


@router.get(
    "/integration/members/{external_id}/points-cash-quote",
    auth=integration_auth,
    response={200: CashQuoteOut, **ERRORS},
)
def points_cash_quote_get(request, external_id: str, order_amount: str):
    """The most points the member may use as cash on an order of `order_amount`."""
    member = services.member_resolve({"external_id": external_id})
    amount = holds_services.order_amount_clean(order_amount)
    quote = holds_selectors.points_cash_quote(member_id=member.pk, order_amount=amount)
    return Status(
        200,
        {
            "member": external_id,
            "order_amount": str(quote.order_amount),
            "currency": settings.JIFEN_CURRENCY,
            "available": quote.available,
            "max_points": quote.max_points,
            "cash_value": str(quote.cash_value),
            "points_per_yuan": quote.terms.points_per_yuan,
            "max_share": str(quote.terms.max_share),
            "min_points": quote.terms.min_points,
        },
    )


class HoldOut(Schema):
    id: int
    order_id: str
    member: str | None
    member_number: str
    order_amount: str
    currency: str
    points: int
    cash_value: str
    status: str
    expires_at: dt.datetime
    settled_at: dt.datetime | None
    created_at: dt.datetime


def _hold_out(hold) -> dict:
    return {
        "id": hold.pk,
        "order_id": hold.order_id,
        "member": hold.member.external_id,
        "member_number": hold.member.member_number,
        "order_amount": str(hold.order_amount),
        "currency": hold.currency,
        "points": hold.points,
        "cash_value": str(hold.cash_value),
        "status": hold.status,
        "expires_at": local(hold.expires_at),
        "settled_at": local(hold.settled_at),
        "created_at": local(hold.created_at),
    }


HOLD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["member", "order_id", "order_amount", "points"],
                    "additionalProperties": False,
                    "properties": {
                        "member": {
                            "description": "external id, or {external_id|phone|member_number}"
                        },
                        "order_id": {"type": "string", "maxLength": 100},
                        "order_amount": {"type": "string", "example": "25.00"},
                        "points": {"type": "integer", "minimum": 1},
                        "currency": {"type": "string", "example": "CNY"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/integration/holds",
    auth=integration_auth,
    response={200: HoldOut, 201: HoldOut, **ERRORS},
    openapi_extra=HOLD_BODY,
)
def hold_create(request):
    """Hold a member's points as cash on an order: 201, or 200 with the same hold when the
    same order is sent again with the same body."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            _("请求体不是有效的 JSON。"), code="malformed_json", status=400
        ) from None
    hold, created = holds_services.integration_hold_create(client=request.auth, raw=body)
    return Status(201 if created else 200, _hold_out(hold))


@router.get(
    "/integration/holds/{hold_id}", auth=integration_auth, response={200: HoldOut, **ERRORS}
)
def hold_get(request, hold_id: int):
    hold = holds_selectors.integration_hold_get(client_id=request.auth.pk, hold_id=hold_id)
    return Status(200, _hold_out(hold))


@router.post(
    "/integration/holds/{hold_id}/capture",
    auth=integration_auth,
    response={200: HoldOut, **ERRORS},
)
def hold_capture(request, hold_id: int):
    """The order was paid: the held points are spent. Idempotent."""
    hold = holds_services.integration_hold_capture(client=request.auth, hold_id=hold_id)
    return Status(200, _hold_out(hold))


@router.post(
    "/integration/holds/{hold_id}/release",
    auth=integration_auth,
    response={200: HoldOut, **ERRORS},
)
def hold_release(request, hold_id: int):
    """The order was cancelled: the held points go back to the member. Idempotent."""
    hold = holds_services.integration_hold_release(client=request.auth, hold_id=hold_id)
    return Status(200, _hold_out(hold))
