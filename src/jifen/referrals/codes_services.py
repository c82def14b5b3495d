"""Product codes (一物一码): batch generation and redemption.

Codes: 16 symbols of the unambiguous alphabet (80 bits). A code is
HMAC-SHA256(JIFEN_CODES_SECRET, "<batch seed>:<serial>"), its seed drawn with `secrets`;
only SHA-256(code) is stored (unique index), so the database alone yields no usable code
and the CSV export derives the codes again from the key. Changing the key breaks the
export of earlier batches, not their redemption.

Redemption is once only: a guarded UPDATE sets `redeemed_by` where it is still NULL (row
count checked) in the same transaction as the earn posting, whose reference `code:<id>` the
ledger posts once. Under concurrency exactly one member wins; the others get `code_used`.

Guessing: each attempt counts against the member and the client IP in the shared cache
before the code is looked at (a burst of concurrent guesses cannot slip under the limit);
a successful redemption gives both counts back. Limits: JIFEN_CODE_MAX_FAILURES_PER_MEMBER
(10) and JIFEN_CODE_MAX_FAILURES_PER_IP (30) per JIFEN_CODE_FAILURE_WINDOW seconds (3600).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core import clock, ratelimit
from jifen.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from jifen.ledger.models import Transaction
from jifen.ledger.services import points_earn, validate_points
from jifen.referrals.alphabet import encode, is_valid, normalize
from jifen.referrals.codes_models import CodeBatch, ProductCode
from jifen.tiers.services import tier_evaluate_after_commit

CODE_LENGTH = 16
MAX_BATCH = 100_000
BULK_SIZE = 2_000


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _key() -> bytes:
    return (getattr(settings, "JIFEN_CODES_SECRET", "") or settings.SECRET_KEY).encode()


def code_derive(*, seed: str, serial: int, key: bytes | None = None) -> str:
    """The code printed as number `serial` of the batch with `seed`."""
    digest = hmac.new(key or _key(), f"{seed}:{serial}".encode(), hashlib.sha256).digest()
    return encode(int.from_bytes(digest[:10], "big"), CODE_LENGTH)


def code_hash(code: str) -> str:
    return hashlib.sha256(f"jifen-code:{code}".encode()).hexdigest()


def code_batch_codes(batch: CodeBatch) -> Iterator[tuple[int, str]]:
    """(serial, code) for every code of the batch, derived again (for the printing export)."""
    key = _key()
    for serial in range(1, batch.quantity + 1):
        yield serial, code_derive(seed=batch.seed, serial=serial, key=key)


# --- batches ------------------------------------------------------------------------------------


@transaction.atomic
def code_batch_create(
    *,
    name: str,
    points: int,
    quantity: int,
    valid_from: dt.date,
    valid_until: dt.date,
    created_by=None,
) -> CodeBatch:
    """Generate `quantity` (1–100,000) unique codes worth `points` each, valid from
    `valid_from` to `valid_until` inclusive (business days), set-based (bulk INSERTs).

    Raises ValidationFailed naming the bad fields; nothing is written then.
    """
    errors: dict[str, str] = {}
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 100 or "\x00" in name:
        errors["name"] = "1 to 100 characters"
    try:
        validate_points(points)
    except ValidationFailed:
        errors["points"] = "whole number from 1"
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= MAX_BATCH
    ):
        errors["quantity"] = f"1 to {MAX_BATCH}"
    if not isinstance(valid_from, dt.date) or not isinstance(valid_until, dt.date):
        errors["valid_until"] = "dates required"
    elif valid_until < valid_from:
        errors["valid_until"] = "on or after valid_from"
    if errors:
        raise ValidationFailed(_("批次设置不正确。"), code="invalid_batch", fields=errors)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                batch = CodeBatch.objects.create(
                    name=name,
                    points=points,
                    quantity=quantity,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    seed=secrets.token_hex(16),
                    created_by=created_by,
                )
                ProductCode.objects.bulk_create(
                    (
                        ProductCode(batch=batch, serial=serial, code_hash=code_hash(code))
                        for serial, code in code_batch_codes(batch)
                    ),
                    batch_size=BULK_SIZE,
                )
                return batch
        except IntegrityError:  # an 80-bit collision: astronomically rare; new seed
            continue
    raise Conflict(_("生成商品码失败，请重试。"), code="code_generation_failed")


@transaction.atomic
def code_batch_void(*, batch_id: int) -> CodeBatch:
    """Stop a batch's unused codes from being redeemed (e.g. labels lost or stolen).

    Redeemed codes keep their points (reverse them in the ledger if needed).
    """
    changed = CodeBatch.objects.filter(pk=batch_id).update(is_void=True)
    if not changed:
        raise NotFound(_("批次不存在。"), code="batch_not_found")
    return CodeBatch.objects.get(pk=batch_id)


# --- redemption ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redemption:
    points: int
    batch_name: str
    transaction: Transaction
    code: ProductCode


def code_redeem(*, member_id: int, code: str, ip: str) -> Redemption:
    """Redeem a product code for the member: its points, once.

    Raises RateLimited (too many attempts), ValidationFailed `invalid_code` (not 16 symbols
    of the alphabet), NotFound `code_not_found`, Conflict `code_used` /
    `code_already_redeemed` (by this member) / `code_expired` / `code_not_yet_valid` /
    `code_void`. A refusal changes nothing but the attempt counters.
    """
    window = _setting("JIFEN_CODE_FAILURE_WINDOW", 3600)
    member_key = str(member_id)
    over_member = ratelimit.hit("codes:member", member_key, window=window) > _setting(
        "JIFEN_CODE_MAX_FAILURES_PER_MEMBER", 10
    )
    over_ip = ratelimit.hit("codes:ip", ip or "unknown", window=window) > _setting(
        "JIFEN_CODE_MAX_FAILURES_PER_IP", 30
    )
    if over_member or over_ip:
        raise RateLimited(_("尝试次数过多，请稍后再试。"), code="too_many_code_attempts")
    redemption = _redeem(member_id=member_id, code=normalize(code))
    ratelimit.undo("codes:member", member_key)
    ratelimit.undo("codes:ip", ip or "unknown")
    return redemption


@transaction.atomic
def _redeem(*, member_id: int, code: str) -> Redemption:
    if not is_valid(code, CODE_LENGTH):
        raise ValidationFailed(
            _("请输入 16 位商品码（字母和数字）。"),
            code="invalid_code",
            fields={"code": "16 characters"},
        )
    row = ProductCode.objects.filter(code_hash=code_hash(code)).select_related("batch").first()
    if row is None:
        raise NotFound(_("商品码不存在，请核对后重新输入。"), code="code_not_found")
    batch = row.batch
    today = clock.business_date()
    if row.redeemed_by_id is not None:
        if row.redeemed_by_id == member_id:
            raise Conflict(_("你已使用过这个商品码。"), code="code_already_redeemed")
        raise Conflict(_("该商品码已被使用。"), code="code_used")
    if batch.is_void:
        raise Conflict(_("该商品码已失效。"), code="code_void")
    if today < batch.valid_from:
        raise Conflict(
            _("该商品码 %(date)s 起可用。") % {"date": batch.valid_from.isoformat()},
            code="code_not_yet_valid",
        )
    if today > batch.valid_until:
        raise Conflict(
            _("该商品码已于 %(date)s 过期。") % {"date": batch.valid_until.isoformat()},
            code="code_expired",
        )
    won = ProductCode.objects.filter(pk=row.pk, redeemed_by__isnull=True).update(
        redeemed_by_id=member_id, redeemed_at=timezone.now()
    )
    if won != 1:  # someone redeemed it between our read and our update
        raise Conflict(_("该商品码已被使用。"), code="code_used")
    txn = points_earn(
        member_id=member_id,
        points=batch.points,
        source="product_code",
        reference=f"code:{row.pk}",
        explanation=_("扫码积分：%(batch)s") % {"batch": batch.name},
        details={"batch": batch.pk, "serial": row.serial},
    )
    tier_evaluate_after_commit(member_id=member_id)
    row.refresh_from_db()
    return Redemption(points=batch.points, batch_name=batch.name, transaction=txn, code=row)
