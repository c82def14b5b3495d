"""Referrals and product codes in the JSON API.

GET /me/referrals: the member's invite code, link and QR image address, the program's
points, totals and invitees (masked). POST /me/codes: redeem a product code.
GET /me/codes: the member's redeemed codes.
"""

import datetime as dt

from django.urls import reverse
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from jifen.core.pagination import page_bounds
from jifen.core.ratelimit import client_ip
from jifen.members.api import ErrorOut, Text, local
from jifen.members.auth import member_auth
from jifen.referrals import codes_selectors, codes_services, selectors, services

router = Router(tags=["referrals"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


# --- referrals ----------------------------------------------------------------------------------


class ProgramOut(Schema):
    enabled: bool
    referrer_points: int
    invitee_points: int
    trigger: str = Field(description='"register" or "purchase" (first qualifying purchase)')


class ReferralStats(Schema):
    invited: int
    rewarded: int
    waiting: int
    points: int


class ReferralItem(Schema):
    invitee: str = Field(description="masked: *小明 or 138****0001")
    status: str = Field(description="pending, review, rewarded, rejected or refused")
    status_label: str
    points: int = Field(description="what the referrer got for this invitee")
    created_at: dt.datetime
    rewarded_at: dt.datetime | None


class ReferralsOut(Schema):
    invite_code: str
    invite_url: str
    qr_url: str
    program: ProgramOut
    stats: ReferralStats
    items: list[ReferralItem]
    count: int


@router.get("/me/referrals", auth=member_auth, response={200: ReferralsOut, **ERRORS})
def referral_list(request, page: int = 1, page_size: int = 20):
    offset, limit = page_bounds(page, page_size)
    invite = services.invite_code_ensure(member_id=request.auth.pk)
    program = selectors.referral_program()
    rows, count = selectors.referral_rows(referrer_id=request.auth.pk, offset=offset, limit=limit)
    return Status(
        200,
        {
            "invite_code": invite.code,
            "invite_url": request.build_absolute_uri(
                reverse("referrals:landing", args=[invite.code])
            ),
            "qr_url": request.build_absolute_uri(
                reverse("referrals:qr", args=[invite.code, "svg"])
            ),
            "program": {
                "enabled": program.enabled,
                "referrer_points": program.referrer_points,
                "invitee_points": program.invitee_points,
                "trigger": program.trigger,
            },
            "stats": selectors.referral_stats(referrer_id=request.auth.pk),
            "items": [
                {
                    "invitee": row.invitee,
                    "status": row.status,
                    "status_label": row.status_label,
                    "points": row.points,
                    "created_at": local(row.created_at),
                    "rewarded_at": local(row.rewarded_at),
                }
                for row in rows
            ],
            "count": count,
        },
    )


# --- product codes ------------------------------------------------------------------------------


class CodeIn(StrictSchema):
    code: Text = Field(max_length=64, description="16 characters; spaces and dashes ignored")


class CodeOut(Schema):
    points: int
    batch: str
    redeemed_at: dt.datetime
    reference: str = Field(description="the ledger transaction's reference")


class CodeItem(Schema):
    batch: str
    serial: int
    points: int
    redeemed_at: dt.datetime


class CodeList(Schema):
    items: list[CodeItem]
    count: int


@router.post("/me/codes", auth=member_auth, response={201: CodeOut, **ERRORS})
def code_redeem(request, payload: CodeIn):
    """Redeem a product code printed on goods: its points, once. 429 after repeated misses."""
    done = codes_services.code_redeem(
        member_id=request.auth.pk, code=payload.code, ip=client_ip(request)
    )
    return Status(
        201,
        {
            "points": done.points,
            "batch": done.batch_name,
            "redeemed_at": local(done.code.redeemed_at),
            "reference": done.transaction.reference,
        },
    )


@router.get("/me/codes", auth=member_auth, response={200: CodeList, **ERRORS})
def code_list(request, page: int = 1, page_size: int = 20):
    offset, limit = page_bounds(page, page_size)
    rows, count = codes_selectors.code_redemptions(
        member_id=request.auth.pk, offset=offset, limit=limit
    )
    return Status(
        200,
        {
            "items": [
                {
                    "batch": row.batch.name,
                    "serial": row.serial,
                    "points": row.batch.points,
                    "redeemed_at": local(row.redeemed_at),
                }
                for row in rows
            ],
            "count": count,
        },
    )
