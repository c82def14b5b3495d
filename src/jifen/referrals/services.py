"""Referral writes: invite codes, registration with a code, rewards, review, program rules.

Invariants, each kept by the database:
- An invitee has at most one referral (unique `Referral.invitee`), and a referral pays at
  most once: the move to "rewarded" is a guarded UPDATE from the expected status (row count
  checked), and the two earn postings have the deterministic references
  `referral:<id>:referrer` and `referral:<id>:invitee` (the ledger posts a reference once).
- Caps per referrer (per business month and in total) are counters raised by guarded
  UPDATEs (`rewarded < cap`), in the same transaction as the reward, so concurrent rewards
  never exceed them. A capped referrer gets nothing for that invitee; the invitee still
  gets their welcome points (the reason says "capped").
- No reward for the referrer's own code (refused with an error), a loop (A invited B, B
  invites A, or longer), a member who joined more than
  JIFEN_REFERRAL_SIGNUP_WINDOW_HOURS before the code was attached ("existing member").
  A shared IP, device or phone between invitee and referrer (or another of the referrer's
  invitees), or a device already seen on another account, sends the referral to operator
  review instead of paying.
Locks are taken in one order: the referral row, the referrer's invite-code row, their
month row, then wallets in ascending member id (inside the ledger services).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jifen.core import clock
from jifen.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jifen.ledger.models import Transaction
from jifen.ledger.services import points_earn, transaction_reverse
from jifen.members.models import Address, User
from jifen.referrals.alphabet import is_valid, normalize, random_code
from jifen.referrals.models import (
    Fingerprint,
    InviteCode,
    Referral,
    ReferralProgram,
    ReferrerMonth,
)
from jifen.referrals.selectors import INVITE_CODE_LENGTH, referral_program
from jifen.tiers.services import tier_evaluate_after_commit

Status = Referral.Status
Reason = Referral.Reason
LOOP_DEPTH = 50  # how far up the chain of referrers a loop is looked for

FLAG_LABELS = {
    "same_ip": gettext_lazy("与邀请人 IP 相同"),
    "same_device": gettext_lazy("与邀请人设备相同"),
    "same_phone": gettext_lazy("手机号出现在邀请人的收货地址中"),
    "shared_with_invitee": gettext_lazy("与该邀请人的其他被邀请人共用 IP 或设备"),
    "known_device": gettext_lazy("该设备已注册过其他账户"),
}


def _signup_window() -> dt.timedelta:
    return dt.timedelta(hours=int(getattr(settings, "JIFEN_REFERRAL_SIGNUP_WINDOW_HOURS", 24)))


# --- invite codes -------------------------------------------------------------------------------


def invite_code_ensure(*, member_id: int) -> InviteCode:
    """The member's invite code, created on first use (8 symbols, see alphabet.py).

    Concurrent first calls create one row (unique member); a code collision is retried.
    """
    existing = InviteCode.objects.filter(member_id=member_id).first()
    if existing is not None:
        return existing
    for _attempt in range(8):
        try:
            with transaction.atomic():
                return InviteCode.objects.create(
                    member_id=member_id, code=random_code(INVITE_CODE_LENGTH)
                )
        except IntegrityError:
            existing = InviteCode.objects.filter(member_id=member_id).first()
            if existing is not None:
                return existing
    raise Conflict(_("邀请码生成失败，请重试。"), code="invite_code_collision")


# --- fingerprints -------------------------------------------------------------------------------


def _fingerprint_hash(kind: str, value: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _fingerprints(ip: str | None, device: str | None) -> list[tuple[str, str]]:
    pairs = []
    if ip and ip != "unknown" and len(ip) <= 64:
        pairs.append((Fingerprint.Kind.IP, _fingerprint_hash("ip", ip)))
    if device and 8 <= len(device) <= 128 and "\x00" not in device:
        pairs.append((Fingerprint.Kind.DEVICE, _fingerprint_hash("device", device)))
    return pairs


def fingerprint_record(*, member_id: int, ip: str | None = None, device: str | None = None) -> None:
    """Remember (hashed) that this member used this IP / device. Idempotent, no reads."""
    rows = [
        Fingerprint(member_id=member_id, kind=kind, value_hash=value)
        for kind, value in _fingerprints(ip, device)
    ]
    if rows:
        Fingerprint.objects.bulk_create(rows, ignore_conflicts=True)


def _flags(*, referrer: User, invitee: User, ip: str | None, device: str | None) -> list[str]:
    flags: list[str] = []
    siblings = set(
        Referral.objects.filter(referrer=referrer).values_list("invitee_id", flat=True)[:1000]
    )
    for kind, value in _fingerprints(ip, device):
        sharers = set(
            Fingerprint.objects.filter(kind=kind, value_hash=value)
            .exclude(member_id=invitee.pk)
            .values_list("member_id", flat=True)[:1000]
        )
        if referrer.pk in sharers:
            flags.append("same_ip" if kind == Fingerprint.Kind.IP else "same_device")
        if sharers & siblings and "shared_with_invitee" not in flags:
            flags.append("shared_with_invitee")
        if kind == Fingerprint.Kind.DEVICE and sharers - siblings - {referrer.pk}:
            flags.append("known_device")
    if invitee.phone and Address.objects.filter(member=referrer, phone=invitee.phone).exists():
        flags.append("same_phone")
    return flags


def _is_loop(*, referrer_id: int, invitee_id: int) -> bool:
    """Whether the invitee is already up the referrer's chain (A→B→…→referrer)."""
    current = referrer_id
    for _step in range(LOOP_DEPTH):
        parent = (
            Referral.objects.filter(invitee_id=current)
            .values_list("referrer_id", flat=True)
            .first()
        )
        if parent is None:
            return False
        if parent == invitee_id:
            return True
        current = parent
    return True  # a chain this deep is not organic: treat it as a loop


# --- registration and qualification ------------------------------------------------------------


@transaction.atomic
def referral_register(
    *, invitee: User, invite_code: str | None, ip: str | None = None, device: str | None = None
) -> Referral | None:
    """Attach a new member to the owner of `invite_code`; reward now or at the first purchase.

    Call it in the same transaction as the registration: an unknown code or the member's
    own code raises ValidationFailed (code `invalid_invite_code` / `own_invite_code`,
    field `invite_code`), so a registration with a mistyped code is refused whole rather
    than silently losing the referral. An empty code, or a disabled program, returns None.
    A second call for the same invitee returns the first referral unchanged.
    """
    code = normalize(invite_code or "")
    if not code:
        return None
    program = referral_program()
    if not program.enabled:
        return None
    if not is_valid(code, INVITE_CODE_LENGTH):
        raise ValidationFailed(
            _("邀请码格式不正确。"), code="invalid_invite_code", fields={"invite_code": "invalid"}
        )
    owner = InviteCode.objects.filter(code=code).select_related("member").first()
    if owner is None or owner.member.is_closed:
        raise ValidationFailed(
            _("邀请码不存在，请核对后重新输入。"),
            code="invalid_invite_code",
            fields={"invite_code": "unknown"},
        )
    referrer = owner.member
    if referrer.pk == invitee.pk:
        raise ValidationFailed(
            _("不能使用自己的邀请码。"), code="own_invite_code", fields={"invite_code": "own"}
        )
    existing = Referral.objects.filter(invitee=invitee).first()
    if existing is not None:
        return existing
    fingerprint_record(member_id=invitee.pk, ip=ip, device=device)
    reason, flags = Reason.NONE, []
    if invitee.date_joined < timezone.now() - _signup_window():
        reason = Reason.EXISTING_MEMBER
    elif _is_loop(referrer_id=referrer.pk, invitee_id=invitee.pk):
        reason = Reason.LOOP
    else:
        flags = _flags(referrer=referrer, invitee=invitee, ip=ip, device=device)
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                referrer=referrer,
                invitee=invitee,
                invite_code=code,
                status=Status.REFUSED if reason else Status.PENDING,
                reason=reason,
                flags=flags,
                requires_purchase=program.trigger == ReferralProgram.Trigger.PURCHASE,
                ip=(ip or "")[:64],
                device=(device or "")[:128],
            )
    except IntegrityError:  # the same invitee registered concurrently
        return Referral.objects.get(invitee=invitee)
    if referral.status == Status.PENDING and not referral.requires_purchase:
        _settle(referral, program=program)
        referral.refresh_from_db()
    return referral


@transaction.atomic
def referral_purchase_qualify(*, member_id: int, order_reference: str) -> Referral | None:
    """The invitee `member_id` made a qualifying purchase: reward (or review) their referral.

    Call it for every completed purchase; it acts only on a referral waiting for one, once
    (a guarded status change), and returns the referral (None when the member was not
    invited). Raises ValidationFailed for an empty or over-long `order_reference`.
    """
    if not isinstance(order_reference, str) or not 0 < len(order_reference) <= 200:
        raise ValidationFailed(
            _("缺少订单参考号。"),
            code="invalid_order_reference",
            fields={"order_reference": "1 to 200 characters"},
        )
    referral = Referral.objects.filter(invitee_id=member_id).first()
    if referral is None or referral.status != Status.PENDING:
        return referral
    _settle(referral, program=referral_program(), order_reference=order_reference)
    referral.refresh_from_db()
    return referral


@transaction.atomic
def referral_purchase_refund(*, member_id: int, order_reference: str) -> Referral | None:
    """The invitee's qualifying purchase was refunded: take the referral reward back.

    Acts only when `order_reference` is the purchase that qualified the referral, once (a
    guarded status change): a paid referral becomes "reversed" and both earn postings are
    reversed (the invitee's with shortfall "debt", so spending the points first does not
    keep them; the referrer's with "available", taking back what is left); one still in
    review is refused (reason "refunded"). The referrer's cap counters keep the invitee:
    a buy-refund cycle cannot free a place. Returns the referral, or None.
    """
    if not isinstance(order_reference, str) or not 0 < len(order_reference) <= 200:
        raise ValidationFailed(
            _("缺少订单参考号。"),
            code="invalid_order_reference",
            fields={"order_reference": "1 to 200 characters"},
        )
    referral = Referral.objects.filter(
        invitee_id=member_id, requires_purchase=True, order_reference=order_reference
    ).first()
    if referral is None:
        return None
    if referral.status == Status.REVIEW:
        Referral.objects.filter(pk=referral.pk, status=Status.REVIEW).update(
            status=Status.REFUSED, reason=Reason.REFUNDED
        )
    elif referral.status == Status.REWARDED:
        changed = Referral.objects.filter(pk=referral.pk, status=Status.REWARDED).update(
            status=Status.REVERSED, reason=Reason.REFUNDED
        )
        if changed == 1:
            for role, shortfall in (("invitee", "debt"), ("referrer", "available")):
                earned = Transaction.objects.filter(
                    reference=f"referral:{referral.pk}:{role}"
                ).first()
                if earned is None:  # nothing was paid to this side (capped, or 0 points)
                    continue
                transaction_reverse(
                    transaction_id=earned.pk,
                    reference=f"referral:{referral.pk}:{role}:refund",
                    reason=_("首单退款，撤回邀请奖励"),
                    shortfall=shortfall,
                )
    referral.refresh_from_db()
    return referral


class _Capped(Exception):
    pass


def _take_cap(*, referrer_id: int, program: ReferralProgram) -> bool:
    """Count one more rewarded invitee for the referrer, unless a cap is reached."""
    month = clock.business_date().strftime("%Y-%m")
    try:
        with transaction.atomic():
            raised = InviteCode.objects.filter(
                member_id=referrer_id, rewarded_total__lt=program.lifetime_cap
            ).update(rewarded_total=F("rewarded_total") + 1)
            if raised != 1:
                raise _Capped
            ReferrerMonth.objects.bulk_create(
                [ReferrerMonth(referrer_id=referrer_id, month=month)], ignore_conflicts=True
            )
            raised = ReferrerMonth.objects.filter(
                referrer_id=referrer_id, month=month, rewarded__lt=program.monthly_cap
            ).update(rewarded=F("rewarded") + 1)
            if raised != 1:
                raise _Capped
    except _Capped:
        return False
    return True


def _settle(
    referral: Referral,
    *,
    program: ReferralProgram,
    order_reference: str = "",
    reviewed_by: User | None = None,
) -> None:
    """Move a qualified referral to review (flagged, not yet reviewed) or pay it.

    Must run inside a transaction. The status change is guarded on the status read, so two
    concurrent settlements of one referral act once; the loser changes nothing.
    """
    now = timezone.now()
    expected = Status.REVIEW if reviewed_by is not None else Status.PENDING
    extra = {"qualified_at": now} if expected == Status.PENDING else {}
    if order_reference:
        extra["order_reference"] = order_reference
    if referral.flags and reviewed_by is None:
        Referral.objects.filter(pk=referral.pk, status=expected).update(
            status=Status.REVIEW, **extra
        )
        return
    if reviewed_by is not None:
        extra.update(reviewed_by=reviewed_by, reviewed_at=now)
    claimed = Referral.objects.filter(pk=referral.pk, status=expected).update(
        status=Status.REWARDED, rewarded_at=now, **extra
    )
    if claimed != 1:
        raise Conflict(_("该邀请已处理。"), code="referral_already_settled")
    referrer = User.objects.only("pk", "is_active", "closed_at").get(pk=referral.referrer_id)
    referrer_points = program.referrer_points
    if referrer.is_closed or referrer_points <= 0:
        referrer_points = 0
    elif not _take_cap(referrer_id=referrer.pk, program=program):
        referrer_points = 0
        Referral.objects.filter(pk=referral.pk).update(reason=Reason.CAPPED)
    awards = [
        (referral.referrer_id, referrer_points, "referrer"),
        (referral.invitee_id, program.invitee_points, "invitee"),
    ]
    details = {"referral": referral.pk}
    # Wallets in ascending member id: the lock order of the ledger.
    for member_id, points, role in sorted(awards):
        if points <= 0:
            continue
        explanation = _("邀请好友奖励") if role == "referrer" else _("受邀注册奖励")
        points_earn(
            member_id=member_id,
            points=points,
            source="referral",
            reference=f"referral:{referral.pk}:{role}",
            explanation=explanation,
            details={**details, "role": role},
        )
        tier_evaluate_after_commit(member_id=member_id)
    Referral.objects.filter(pk=referral.pk).update(
        referrer_points=referrer_points, invitee_points=max(program.invitee_points, 0)
    )


# --- review -------------------------------------------------------------------------------------


@transaction.atomic
def referral_review(*, referral_id: int, approve: bool, reviewed_by: User) -> Referral:
    """An operator's decision on a flagged referral: approve → reward now, or reject.

    Raises NotFound, PermissionDenied (not staff, or a party to the referral) and
    Conflict when the referral is not waiting for review (decided already, or concurrently).
    """
    referral = Referral.objects.filter(pk=referral_id).first()
    if referral is None:
        raise NotFound(_("邀请记录不存在。"), code="referral_not_found")
    if not reviewed_by.is_staff or reviewed_by.pk in (referral.referrer_id, referral.invitee_id):
        raise PermissionDenied(_("不能审核这条邀请记录。"), code="review_not_allowed")
    if referral.status != Status.REVIEW:
        raise Conflict(_("该邀请不在待审核状态。"), code="referral_not_in_review")
    if approve:
        _settle(referral, program=referral_program(), reviewed_by=reviewed_by)
    else:
        changed = Referral.objects.filter(pk=referral.pk, status=Status.REVIEW).update(
            status=Status.REJECTED, reviewed_by=reviewed_by, reviewed_at=timezone.now()
        )
        if changed != 1:
            raise Conflict(_("该邀请已处理。"), code="referral_already_settled")
    referral.refresh_from_db()
    return referral


# --- the program --------------------------------------------------------------------------------

PROGRAM_FIELDS = (
    "enabled",
    "referrer_points",
    "invitee_points",
    "trigger",
    "monthly_cap",
    "lifetime_cap",
)


@transaction.atomic
def referral_program_update(*, data: dict, updated_by: User | None = None) -> ReferralProgram:
    """Change the referral rules. Points are whole numbers from 0 (none) to the posting limit;
    caps are whole numbers from 0. Raises ValidationFailed naming the bad fields.

    Referrals already waiting are paid with the rules in force when they qualify.
    """
    program = referral_program()
    errors: dict[str, str] = {}
    cleaned: dict = {}
    for name in PROGRAM_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if name == "enabled":
            if not isinstance(value, bool):
                errors[name] = "boolean required"
        elif name == "trigger":
            if value not in ReferralProgram.Trigger.values:
                errors[name] = "register or purchase"
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors[name] = "whole number >= 0 required"
        elif name.endswith("_points") and value > settings.JIFEN_POINTS_MAX_PER_POSTING:
            errors[name] = "too large"
        elif value > 10**9:
            errors[name] = "too large"
        cleaned[name] = value
    if errors:
        raise ValidationFailed(_("邀请规则设置不正确。"), code="invalid_program", fields=errors)
    if cleaned:
        ReferralProgram.objects.filter(pk=program.pk).update(**cleaned, updated_at=timezone.now())
        program.refresh_from_db()
    return program
