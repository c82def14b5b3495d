"""Referral reads: the program, a member's invite code, their invitees and totals."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from jifen.members.models import User
from jifen.referrals.alphabet import is_valid, normalize
from jifen.referrals.models import InviteCode, Referral, ReferralProgram

INVITE_CODE_LENGTH = 8


def referral_program() -> ReferralProgram:
    """The one program row, created with its defaults on first use."""
    program = ReferralProgram.objects.filter(pk=1).first()
    if program is not None:
        return program
    try:
        with transaction.atomic():
            return ReferralProgram.objects.create(pk=1)
    except IntegrityError:  # created concurrently
        return ReferralProgram.objects.get(pk=1)


def mask_identity(user: User) -> str:
    """An invitee as their referrer sees them: "*小明", else "138****0001" / "ab***@x.com"."""
    name = (user.name or "").strip()
    if name:
        return "*" + name[1:] if len(name) > 1 else "*"
    return user.masked_login or "****" + user.member_number[-4:]


def invite_code_owner(code: str) -> User | None:
    """The active member whose invite code is `code` (any case, dashes ignored), or None."""
    code = normalize(code)
    if not is_valid(code, INVITE_CODE_LENGTH):
        return None
    row = InviteCode.objects.filter(code=code).select_related("member").first()
    if row is None or row.member.is_closed:
        return None
    return row.member


@dataclass(frozen=True)
class ReferralRow:
    id: int
    invitee: str
    status: str
    status_label: str
    points: int
    created_at: object
    rewarded_at: object


def referral_rows(*, referrer_id: int, offset: int = 0, limit: int = 20) -> tuple[list, int]:
    """A referrer's invitees, newest first, masked; and how many there are.

    `points` is what the referrer got for that invitee (0 until rewarded, when capped, or
    once reversed by a refund).
    """
    query = Referral.objects.filter(referrer_id=referrer_id)
    rows = [
        ReferralRow(
            id=r.pk,
            invitee=mask_identity(r.invitee),
            status=r.status,
            status_label=r.get_status_display(),
            points=r.referrer_points if r.status == Referral.Status.REWARDED else 0,
            created_at=r.created_at,
            rewarded_at=r.rewarded_at,
        )
        for r in query.select_related("invitee").order_by("-created_at", "-pk")[
            offset : offset + limit
        ]
    ]
    return rows, query.count()


def referral_stats(*, referrer_id: int) -> dict[str, int]:
    """{"invited", "rewarded", "waiting", "points"} for one referrer, in one query."""
    Status = Referral.Status
    totals = Referral.objects.filter(referrer_id=referrer_id).aggregate(
        invited=Count("pk"),
        rewarded=Count("pk", filter=Q(status=Status.REWARDED)),
        waiting=Count("pk", filter=Q(status__in=[Status.PENDING, Status.REVIEW])),
        points=Sum("referrer_points", filter=Q(status=Status.REWARDED)),
    )
    return {key: int(value or 0) for key, value in totals.items()}


def referral_review_count() -> int:
    return Referral.objects.filter(status=Referral.Status.REVIEW).count()
