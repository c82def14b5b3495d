"""Points in the JSON API: balances, history, transfers, and operators' adjustments.

Points move only through jifen.ledger.services. Where a call posts to the ledger, the
posting's reference is derived from the caller's Idempotency-Key, so a retry can never post
twice even if the stored API response were lost (docs/adr/0002-idempotency.md).
"""

import datetime as dt
import hashlib
import uuid
from typing import Annotated, Literal

from django.db import connection
from django.utils.translation import gettext as _
from ninja import Field, Header, Router, Schema, Status
from pydantic import BaseModel, ConfigDict, StrictInt

from jifen.core.errors import NotFound
from jifen.core.pagination import page_bounds
from jifen.ledger import selectors, services
from jifen.ledger.models import Adjustment
from jifen.members.api import ErrorOut, Text, local
from jifen.members.auth import member_auth, staff_auth
from jifen.members.models import User
from jifen.members.selectors import member_find_by_login, normalize_phone

router = Router(tags=["points"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


# Documented in the OpenAPI schema; jifen.core.idempotency acts on it before the view runs.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retry with the same key: the first result is replayed, never posted twice.",
    ),
]


def reference_for(request, scope: str, key: str | None) -> str:
    """`<scope>:<user id>:<Idempotency-Key>` when the header is sent, else a fresh uuid.

    Long keys are hashed so the reference stays within the ledger's 200 characters.
    """
    if not key:
        return f"{scope}:{uuid.uuid4().hex}"
    if len(key) > 100:
        key = "sha256-" + hashlib.sha256(key.encode()).hexdigest()
    return f"{scope}:{request.user.pk}:{key}"


_MEMBER_SQL: tuple[str, list[str]] | None = None


def _member_sql() -> tuple[str, list[str]]:
    global _MEMBER_SQL
    if _MEMBER_SQL is None:
        fields = User._meta.concrete_fields
        select = ", ".join(f'"{f.column}"' for f in fields)
        # Names from the model's metadata, never from input; values are parameters.
        sql = (
            f"SELECT {select} FROM {User._meta.db_table} "  # noqa: S608
            "WHERE phone = %s OR member_number = %s "
            "ORDER BY CASE WHEN phone = %s THEN 0 ELSE 1 END LIMIT 1"
        )
        _MEMBER_SQL = (sql, [f.attname for f in fields])
    return _MEMBER_SQL


def _simple_login(identifier: str) -> str | None:
    """On PostgreSQL, the normalised phone / member number that `identifier` names, if it is
    one (not an e-mail, not empty or too long); else None."""
    text = (identifier or "").strip()
    if (
        connection.vendor != "postgresql"
        or "@" in text
        or not text
        or "\x00" in text
        or len(text) > 254
    ):
        return None
    return normalize_phone(text)


def _member_by_login(identifier: str) -> User | None:
    """members.selectors.member_find_by_login, in one statement for a phone or member number.

    Same answer: a phone number wins over a member number with the same digits. Both
    requests of the load benchmark name a member, so on PostgreSQL this is one hand-written
    statement (the selector asks twice, through the ORM); the posting functions of ADR 0006
    do the same lookup inside their own statement.
    """
    phone = _simple_login(identifier)
    if phone is None:
        return member_find_by_login(identifier)
    sql, names = _member_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [phone, phone, phone])
        row = cursor.fetchone()
    return None if row is None else User.from_db("default", names, row)


# --- balances and history ---------------------------------------------------------------------


# Response models fed dicts are plain pydantic models: ninja.Schema would wrap each (nested)
# input in its attribute getter first, which only objects need (the transfer's hot path).
class NextExpiry(BaseModel):
    points: int
    date: dt.date


class PointsOut(BaseModel):
    available: int
    pending: int
    held: int
    debt: int = Field(0, description="points owed after a refund of spent points")
    next_expiry: NextExpiry | None


class HistoryItem(Schema):
    id: int
    kind: str
    points: int = Field(description="signed change to available + pending points")
    title: str
    explanation: str
    created_at: dt.datetime
    reference: str


class HistoryOut(Schema):
    items: list[HistoryItem]
    count: int


@router.get("/me/points", auth=member_auth, response={200: PointsOut, **ERRORS})
def my_points(request):
    return Status(200, selectors.points_summary(member_id=request.auth.pk))


@router.get("/me/points/history", auth=member_auth, response={200: HistoryOut, **ERRORS})
def my_points_history(request, kind: str | None = None, page: int = 1, page_size: int = 20):
    """Postings newest first; `kind` is one of earn, spend, expire, transfer, adjust, refund."""
    rows, count = selectors.points_history(
        member_id=request.auth.pk, kind=kind or None, page=page, page_size=page_size
    )
    items = [
        {
            "id": row.transaction_id,
            "kind": row.kind,
            "points": row.points,
            "title": row.title,
            "explanation": row.explanation,
            "created_at": local(row.created_at),
            "reference": row.reference,
        }
        for row in rows
    ]
    return Status(200, {"items": items, "count": count})


# --- transfers --------------------------------------------------------------------------------


class TransferIn(StrictSchema):
    to: Text = Field(max_length=254, description="phone, e-mail or member number")
    points: StrictInt
    note: Text = Field("", max_length=500)


class Counterparty(BaseModel):
    member_number: str
    name: str


class TransferOut(BaseModel):
    id: int
    points: int
    to: Counterparty
    balance: PointsOut


@router.post("/me/transfers", auth=member_auth, response={201: TransferOut, **ERRORS})
def transfer_create(request, payload: TransferIn, idempotency_key: IdempotencyKey = None):
    """Give points to another member. Send an Idempotency-Key so a retry never pays twice."""
    reference = reference_for(request, "transfer", idempotency_key)
    note = payload.note.strip()
    login = _simple_login(payload.to)
    # The load benchmark's path: lookup and posting in one statement (ADR 0006); when that
    # cannot answer, nothing was written and the usual lookup + service answer as before.
    done = login and services.points_transfer_to_login(
        sender_id=request.auth.pk,
        login=login,
        points=payload.points,
        reference=reference,
        note=note,
    )
    if done:
        txn, recipient = done
    else:
        recipient = _member_by_login(payload.to)
        if recipient is None:
            raise NotFound(
                _("收款会员不存在。"), code="recipient_not_found", fields={"to": "unknown"}
            )
        txn = services.points_transfer(
            sender_id=request.auth.pk,
            recipient_id=recipient.pk,
            points=payload.points,
            reference=reference,
            note=note,
        )
    return Status(
        201,
        {
            "id": txn.pk,
            "points": payload.points,
            "to": {"member_number": recipient.member_number, "name": recipient.display_name},
            # Read by the posting itself on PostgreSQL (one statement fewer); else a read.
            "balance": getattr(txn, "sender_summary", None)
            or selectors.points_summary(member_id=request.auth.pk),
        },
    )


# --- operators: adjustments -------------------------------------------------------------------


class AdjustmentIn(StrictSchema):
    member: Text = Field(max_length=254, description="member number, phone or e-mail")
    points: StrictInt = Field(description="non-zero; negative removes points")
    reason: Text = Field(max_length=500)


class AdjustmentCreated(BaseModel):  # fed dicts: see NextExpiry
    id: int
    status: str
    points: int
    member_number: str
    transaction_id: int | None


class AdjustmentOut(AdjustmentCreated):
    reason: str
    requested_by: str
    decided_by: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class AdjustmentList(BaseModel):
    items: list[AdjustmentOut]
    count: int


def adjustment_out(adjustment: Adjustment) -> dict:
    """Needs member, requested_by and decided_by loaded (select_related)."""
    return {
        "id": adjustment.pk,
        "status": adjustment.status,
        "points": adjustment.points,
        "member_number": adjustment.member.member_number,
        "transaction_id": adjustment.transaction_id,
        "reason": adjustment.reason,
        "requested_by": adjustment.requested_by.member_number,
        "decided_by": adjustment.decided_by.member_number if adjustment.decided_by else None,
        "created_at": local(adjustment.created_at),
        "decided_at": local(adjustment.decided_at),
    }


@router.post("/admin/adjustments", auth=staff_auth, response={201: AdjustmentCreated, **ERRORS})
def adjustment_create(request, payload: AdjustmentIn, idempotency_key: IdempotencyKey = None):
    """Add (points > 0) or remove (points < 0) a member's points, with a reason.

    Beyond JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD the adjustment waits for another operator
    (status pending_approval, transaction_id null). Hot path of the load benchmark: on
    PostgreSQL the member lookup and the posting are one statement.
    """
    reference = reference_for(request, "api-adjustment", idempotency_key)
    login = _simple_login(payload.member)
    # As for transfers: lookup and posting in one statement when it can answer (ADR 0006).
    done = login and services.adjustment_request_to_login(
        login=login,
        points=payload.points,
        reason=payload.reason,
        reference=reference,
        requested_by=request.auth,
    )
    if done:
        adjustment, member_number = done
    else:
        member = _member_by_login(payload.member)
        if member is None:
            raise NotFound(_("会员不存在。"), code="member_not_found", fields={"member": "unknown"})
        adjustment = services.adjustment_request(
            member_id=member.pk,
            points=payload.points,
            reason=payload.reason,
            reference=reference,
            requested_by=request.auth,
        )
        member_number = member.member_number
    return Status(
        201,
        {
            "id": adjustment.pk,
            "status": adjustment.status,
            "points": adjustment.points,
            "member_number": member_number,
            "transaction_id": adjustment.transaction_id,
        },
    )


@router.get("/admin/adjustments", auth=staff_auth, response={200: AdjustmentList, **ERRORS})
def adjustment_list(
    request,
    status: Literal["pending_approval", "applied", "rejected"] | None = None,
    page: int = 1,
    page_size: int = 20,
):
    """Adjustments, newest first; `status` filters."""
    offset, limit = page_bounds(page, page_size)
    adjustments = Adjustment.objects.select_related("member", "requested_by", "decided_by")
    if status:
        adjustments = adjustments.filter(status=status)
    return Status(
        200,
        {
            "items": [
                adjustment_out(a) for a in adjustments.order_by("-pk")[offset : offset + limit]
            ],
            "count": adjustments.count(),
        },
    )


def _decide(request, adjustment_id: int, approve: bool) -> dict:
    adjustment = services.adjustment_decide(
        adjustment_id=adjustment_id, approve=approve, decided_by=request.auth
    )
    adjustment = Adjustment.objects.select_related("member", "requested_by", "decided_by").get(
        pk=adjustment.pk
    )
    return adjustment_out(adjustment)


@router.post(
    "/admin/adjustments/{adjustment_id}/approve",
    auth=staff_auth,
    response={200: AdjustmentOut, **ERRORS},
)
def adjustment_approve(request, adjustment_id: int):
    """Approve (and so apply) another operator's pending adjustment."""
    return Status(200, _decide(request, adjustment_id, approve=True))


@router.post(
    "/admin/adjustments/{adjustment_id}/reject",
    auth=staff_auth,
    response={200: AdjustmentOut, **ERRORS},
)
def adjustment_reject(request, adjustment_id: int):
    return Status(200, _decide(request, adjustment_id, approve=False))


class MemberPointsOut(PointsOut):
    member_number: str
    name: str


@router.get(
    "/admin/members/{member_number}/points",
    auth=staff_auth,
    response={200: MemberPointsOut, **ERRORS},
)
def member_points(request, member_number: str):
    member = (
        User.objects.filter(member_number=member_number).first()
        if member_number.isdigit()
        else None
    )
    if member is None:
        raise NotFound(_("会员不存在。"), code="member_not_found")
    return Status(
        200,
        {
            "member_number": member.member_number,
            "name": member.name,
            **selectors.points_summary(member_id=member.pk),
        },
    )
