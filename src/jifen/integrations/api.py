"""The integration API for the enterprise's systems (docs/integration.md).

Requests are signed (jifen.integrations.signing); IntegrationSignatureMiddleware checks
the signature before Idempotency-Key handling, and `integration_auth` checks it again when
that middleware is not installed. Each operation parses input, calls one service or
selector, and renders the result.
"""

import datetime as dt
import json
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict, StrictStr

from jifen.core.errors import ValidationFailed
from jifen.integrations import selectors, services
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
