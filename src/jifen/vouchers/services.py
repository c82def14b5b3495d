"""Writes for code pools and member vouchers (docs/vouchers.md).

What other apps call:
- `vouchers_issue(member_id, order_line_id, item_id, sku_id, quantity, reference)`: the
  fulfilment of a paid virtual / coupon / service line, once per reference;
- `vouchers_revoke(reference, quantity, reason)`: unused vouchers of a line become void
  (after-sales);
- `voucher_mark_used(voucher_id | code, by, note, order_amount, client_id, reference)`: a
  coupon or voucher redeemed in the enterprise's shop or at a store, once per redemption
  reference (another redemption of a used voucher is Conflict `voucher_used`);
- `vouchers_expire(now)`: the beat job.
Operators: `code_pool_save`, `code_pool_import`.

Guarantees:
- One code, one member: a pool code is claimed by one guarded UPDATE
  (`status = issued WHERE id = ? AND status = available`, row count checked); on PostgreSQL
  candidates are picked with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent issues take
  different codes instead of queueing on the same ones.
- Once per reference: vouchers carry (issue_reference, index), unique; a replay returns the
  vouchers issued the first time, a concurrent duplicate loses on the unique index and
  returns the winner's.
- All or nothing: not enough codes is a Conflict `code_pool_exhausted` and nothing changes.
- Pool codes are stock: an import of N new codes adds N units by `stock_adjust`.

Errors raised: ValidationFailed, NotFound, Conflict.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import secrets
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.catalog import services as catalog_services
from jifen.catalog.models import Item, Sku
from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.vouchers.models import (
    CodeImport,
    CodePool,
    LowPoolAlert,
    MemberVoucher,
    PoolCode,
)

logger = logging.getLogger("jifen.vouchers")

MAX_QUANTITY = 1000
MAX_IMPORT_CODES = 100_000
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_CODE_LENGTH = 100
HEADER_NAMES = {"code", "codes", "卡密", "券码", "兑换码", "激活码"}
# Generated codes: no 0/O, 1/I/L, so they can be read aloud and typed from a screen.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS = 4  # 4 groups of 4: 31^16 ≈ 7·10^23 codes, unguessable
KIND_BY_FULFILMENT = {
    Item.Fulfilment.CODE: MemberVoucher.Kind.CODE,
    Item.Fulfilment.LINK: MemberVoucher.Kind.LINK,
    Item.Fulfilment.COUPON: MemberVoucher.Kind.COUPON,
    Item.Fulfilment.VOUCHER: MemberVoucher.Kind.VOUCHER,
}


class CodePoolExhausted(Conflict):
    code = "code_pool_exhausted"
    default_message = "Not enough codes in the pool."


# --- validation -------------------------------------------------------------------------------


def _int_id(value, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ValidationFailed(
            _("编号不正确。"), code="invalid_id", fields={field_name: str(value)}
        )
    return value


def _reference(value, field_name: str = "reference") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100 or "\x00" in value:
        raise ValidationFailed(
            _("业务单号须为 1 到 100 个字符。"),
            code="invalid_reference",
            fields={field_name: value if isinstance(value, str) else str(value)},
        )
    return value


def _reason(value, *, required: bool = True) -> str:
    value = "" if value is None else value
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > 200:
        raise ValidationFailed(
            _("原因不能超过 200 个字符。"), code="invalid_text", fields={"reason": str(value)}
        )
    if required and not value.strip():
        raise ValidationFailed(_("请填写原因。"), code="required", fields={"reason": ""})
    return value.strip()


def _quantity(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise ValidationFailed(
            _("数量须为 1 到 %(max)s 之间的整数。") % {"max": MAX_QUANTITY},
            code="invalid_quantity",
            fields={"quantity": value},
        )
    return value


def code_is_valid(code: str) -> bool:
    """A pool code: 1–100 printable characters, no spaces or control characters."""
    return (
        0 < len(code) <= MAX_CODE_LENGTH
        and code.isprintable()
        and not any(ch.isspace() for ch in code)
    )


# --- pools ------------------------------------------------------------------------------------


def _code_sku(sku_id) -> Sku:
    _int_id(sku_id, "sku_id")
    sku = Sku.objects.select_related("item").filter(pk=sku_id).first()
    if sku is None:
        raise NotFound(_("SKU 不存在。"), code="sku_not_found", fields={"sku_id": sku_id})
    if sku.item.fulfilment != Item.Fulfilment.CODE:
        raise ValidationFailed(
            _("只有以卡密发放的商品才有卡密池。"),
            code="not_a_code_item",
            fields={"sku_id": sku_id},
        )
    return sku


@transaction.atomic
def code_pool_save(
    *, sku_id: int, name: str | None = None, low_pool_threshold: int | None = None
) -> CodePool:
    """The SKU's pool, created on first use (one per SKU); sets the name and threshold when
    given. ValidationFailed `not_a_code_item` for an item not fulfilled by codes."""
    sku = _code_sku(sku_id)
    if low_pool_threshold is not None and (
        isinstance(low_pool_threshold, bool)
        or not isinstance(low_pool_threshold, int)
        or not 0 <= low_pool_threshold <= 1_000_000
    ):
        raise ValidationFailed(
            _("提醒阈值须为非负整数。"),
            code="invalid_threshold",
            fields={"low_pool_threshold": low_pool_threshold},
        )
    if name is not None and (not isinstance(name, str) or len(name.strip()) > 80):
        raise ValidationFailed(_("名称不能超过 80 个字符。"), code="invalid_text")
    pool, created = CodePool.objects.get_or_create(
        sku_id=sku.pk, defaults={"name": (name or "").strip() or str(sku)[:80]}
    )
    changes = {}
    if name is not None and not created:
        changes["name"] = name.strip()
    if low_pool_threshold is not None:
        changes["low_pool_threshold"] = low_pool_threshold
    if changes:
        CodePool.objects.filter(pk=pool.pk).update(**changes)
        pool.refresh_from_db()
        _low_pool_check(pool.pk)
    return pool


def _parse_codes(text: str) -> tuple[list[str], int, list[int]]:
    """Codes in file order (first column of each CSV row, trimmed), the number of blank
    lines, and the 1-based line numbers of invalid ones. A header row is skipped."""
    codes: list[str] = []
    blank = 0
    invalid: list[int] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cell = (row[0] if row else "").strip().strip("\ufeff").strip()
        if not cell:
            blank += 1
            continue
        if number == 1 and cell.lower() in HEADER_NAMES:
            continue
        if not code_is_valid(cell):
            invalid.append(number)
            continue
        codes.append(cell)
    return codes, blank, invalid


def _import_text(csv_file=None, text: str | None = None) -> tuple[str, str]:
    if (csv_file is None) == (text is None):
        raise ValidationFailed(
            _("请上传 CSV 文件或粘贴卡密。"), code="import_source", fields={"csv_file": ""}
        )
    if text is not None:
        if not isinstance(text, str):
            raise ValidationFailed(_("卡密内容不正确。"), code="invalid_import")
        raw = text.encode("utf-8")
        name = ""
    else:
        name = str(getattr(csv_file, "name", "") or "")[-200:]
        if hasattr(csv_file, "seek"):
            csv_file.seek(0)
        raw = csv_file.read(MAX_IMPORT_BYTES + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
    if len(raw) > MAX_IMPORT_BYTES:
        raise ValidationFailed(
            _("文件不能超过 10 MB。"), code="import_too_large", fields={"csv_file": name}
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding), name
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(
        _("文件编码无法识别，请保存为 UTF-8。"), code="invalid_encoding", fields={"csv_file": name}
    )


@transaction.atomic
def code_pool_import(*, sku_id: int, csv_file=None, text: str | None = None, by=None) -> CodeImport:
    """Add the codes of a CSV file (first column) or pasted text (one a line) to the SKU's
    pool, creating the pool on first use.

    Codes are trimmed; blank lines and a header row are skipped; a code repeated in the
    file or already in the pool is counted as a duplicate and skipped. Any invalid line
    (over 100 characters, spaces or control characters inside) refuses the whole import:
    ValidationFailed `invalid_codes` with the line numbers, nothing changes. No code at
    all: ValidationFailed `empty_import`.

    The N new codes add N units to the SKU by `stock_adjust(kind="received",
    reference="codeimport:<id>")` in the same transaction; importing the same file again
    adds nothing. Imports into one pool are serialised by the pool's row lock.
    """
    sku = _code_sku(sku_id)
    content, file_name = _import_text(csv_file, text)
    codes, blank, invalid = _parse_codes(content)
    if invalid:
        shown = ", ".join(map(str, invalid[:20])) + (" …" if len(invalid) > 20 else "")
        raise ValidationFailed(
            _("第 %(lines)s 行的卡密无效（不超过 100 个字符，不能含空格）；未导入任何卡密。")
            % {"lines": shown},
            code="invalid_codes",
            fields={"lines": invalid[:100]},
        )
    if not codes:
        raise ValidationFailed(_("文件中没有卡密。"), code="empty_import", fields={"csv_file": ""})
    if len(codes) > MAX_IMPORT_CODES:
        raise ValidationFailed(
            _("一次最多导入 %(n)s 个卡密。") % {"n": MAX_IMPORT_CODES},
            code="import_too_large",
        )
    pool = code_pool_save(sku_id=sku.pk)
    # Serialise imports into this pool: two imports of one file must not both insert a code.
    CodePool.objects.select_for_update().filter(pk=pool.pk).get()
    unique = list(dict.fromkeys(codes))
    existing: set[str] = set()
    for start in range(0, len(unique), 1000):
        existing.update(
            PoolCode.objects.filter(pool=pool, code__in=unique[start : start + 1000]).values_list(
                "code", flat=True
            )
        )
    new = [code for code in unique if code not in existing]
    record = CodeImport.objects.create(
        pool=pool,
        file_name=file_name,
        imported=len(new),
        duplicates=len(codes) - len(new),
        invalid=blank,
        created_by=by if by is not None and getattr(by, "pk", None) else None,
    )
    if new:
        PoolCode.objects.bulk_create(
            [PoolCode(pool=pool, code=code, code_import=record) for code in new], batch_size=1000
        )
        CodePool.objects.filter(pk=pool.pk).update(available=F("available") + len(new))
        catalog_services.stock_adjust(
            sku_id=sku.pk,
            delta=len(new),
            kind="received",
            reason=_("导入卡密 %(n)s 个") % {"n": len(new)},
            reference=record.stock_reference,
            by=record.created_by,
        )
    _low_pool_check(pool.pk)
    return record


@transaction.atomic
def pool_code_void(*, code_id: int, reason: str, by=None) -> PoolCode:
    """Take a bad code (the supplier withdrew it) out of its pool: available → revoked, the
    pool's count and the SKU's stock each one less (`stock_adjust(-1)`, reference
    "poolcode-void:<id>"). Idempotent: a void code is returned as it is. Conflict
    `code_issued` for an issued code (void its voucher instead); OutOfStock when every
    unit is reserved by checkouts (nothing changes)."""
    code_id = _int_id(code_id, "code_id")
    reason = _reason(reason)
    code = PoolCode.objects.select_related("pool").filter(pk=code_id).first()
    if code is None:
        raise NotFound(_("卡密不存在。"), code="code_not_found")
    moved = PoolCode.objects.filter(pk=code_id, status=PoolCode.Status.AVAILABLE).update(
        status=PoolCode.Status.REVOKED
    )
    if not moved:
        code.refresh_from_db()
        if code.status == PoolCode.Status.REVOKED:
            return code
        raise Conflict(_("该卡密已发放，请作废对应的会员卡券。"), code="code_issued")
    CodePool.objects.filter(pk=code.pool_id, available__gte=1).update(available=F("available") - 1)
    catalog_services.stock_adjust(
        sku_id=code.pool.sku_id,
        delta=-1,
        kind="adjusted",
        reason=_("作废卡密：%(reason)s") % {"reason": reason},
        reference=f"poolcode-void:{code_id}",
        by=by if by is not None and getattr(by, "pk", None) else None,
    )
    _low_pool_check(code.pool_id)
    code.refresh_from_db()
    return code


def _low_pool_check(pool_id: int) -> None:
    """Open an alert when available codes are at or below the threshold and none is open;
    resolve the open one when they are above it again. One open alert per pool (partial
    unique index), so concurrent issues open it once; operators are told after commit."""
    pool = CodePool.objects.filter(pk=pool_id).values("low_pool_threshold").first()
    if pool is None:
        return
    threshold = pool["low_pool_threshold"]
    available = CodePool.objects.filter(pk=pool_id).values_list("available", flat=True).get()
    if threshold and available <= threshold:
        if LowPoolAlert.objects.filter(pool_id=pool_id, resolved_at__isnull=True).exists():
            return
        try:
            with transaction.atomic():
                alert = LowPoolAlert.objects.create(
                    pool_id=pool_id, available=available, threshold=threshold
                )
        except IntegrityError:
            return  # opened by a concurrent issue: one alert per crossing
        transaction.on_commit(lambda: _notify_low_pool(alert.pk))
    else:
        LowPoolAlert.objects.filter(pool_id=pool_id, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )


def _notify_low_pool(alert_id: int) -> None:
    """Runs after commit: log the alert and e-mail the operators who manage code pools."""
    from jifen.backoffice.tasks import operators_notify_task

    alert = LowPoolAlert.objects.select_related("pool").filter(pk=alert_id).first()
    if alert is None:
        return
    logger.warning(
        "Low code pool: pool %s (%s) has %s codes left (threshold %s)",
        alert.pool_id,
        alert.pool,
        alert.available,
        alert.threshold,
    )
    operators_notify_task.delay(
        subject=_("卡密不足：%(pool)s 剩 %(n)s 个") % {"pool": alert.pool, "n": alert.available},
        body=_("卡密池 %(pool)s 可用卡密 %(n)s 个，已到提醒线 %(threshold)s 个，请导入新卡密。")
        % {"pool": alert.pool, "n": alert.available, "threshold": alert.threshold},
        permission="vouchers.change_codepool",
        path=f"/admin/vouchers/codepool/{alert.pool_id}/change/",
    )


# --- issuing ----------------------------------------------------------------------------------


def generate_code() -> str:
    """A readable, unguessable code: XXXX-XXXX-XXXX-XXXX from CODE_ALPHABET (secrets)."""
    return "-".join(
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(CODE_GROUPS)
    )


def _claim_codes(pool_id: int, quantity: int, now: dt.datetime) -> list[PoolCode]:
    """Take `quantity` available codes of the pool, all or none (the caller's transaction
    rolls back on CodePoolExhausted).

    First the pool's counter, by one guarded UPDATE (`available >= quantity`): that refuses
    an exhausted pool and locks the pool row until commit, so claims on one pool follow one
    another like reservations on one SKU. Then each code by a guarded UPDATE
    (available → issued); SKIP LOCKED on PostgreSQL keeps a claim off codes another
    transaction holds, whatever happens upstream."""
    if not CodePool.objects.filter(pk=pool_id, available__gte=quantity).update(
        available=F("available") - quantity
    ):
        raise CodePoolExhausted(
            _("卡密已发完，请联系客服。"), fields={"pool_id": pool_id, "quantity": quantity}
        )
    claimed: list[int] = []
    skip_locked = connection.features.has_select_for_update_skip_locked
    while len(claimed) < quantity:
        candidates = PoolCode.objects.filter(
            pool_id=pool_id, status=PoolCode.Status.AVAILABLE
        ).exclude(pk__in=claimed)
        if skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        need = quantity - len(claimed)
        ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:need])
        if not ids:
            raise CodePoolExhausted(
                _("卡密已发完，请联系客服。"), fields={"pool_id": pool_id, "quantity": quantity}
            )
        for code_id in ids:
            if PoolCode.objects.filter(pk=code_id, status=PoolCode.Status.AVAILABLE).update(
                status=PoolCode.Status.ISSUED, issued_at=now
            ):
                claimed.append(code_id)
    return list(PoolCode.objects.filter(pk__in=claimed).order_by("pk"))


def _check_replay(vouchers: list[MemberVoucher], member_id, sku_id, quantity, reference):
    first = vouchers[0]
    if first.member_id != member_id or first.sku_id != sku_id or len(vouchers) != quantity:
        raise Conflict(
            _("该业务单号已用于其他发放。"),
            code="reference_reused",
            fields={"reference": reference},
        )
    return vouchers


def _issued(reference: str) -> list[MemberVoucher]:
    return list(MemberVoucher.objects.filter(issue_reference=reference).order_by("index"))


def vouchers_issue(
    *,
    member_id: int,
    order_line_id: int | None,
    item_id: int,
    sku_id: int,
    quantity: int,
    reference: str,
) -> list[MemberVoucher]:
    """Give a member `quantity` vouchers of a SKU, once per `reference`.

    By the item's fulfilment: "code" takes codes from the SKU's pool (each code to one
    member only, under concurrency too); "coupon" / "voucher" generate unique codes with the
    item's value, threshold and `valid_days`; "link" carries the item's `link_url`. Validity
    starts now and lasts `item.valid_days` days (no end when unset).

    A replay (same reference, member, SKU and quantity) returns the first vouchers; other
    arguments with a used reference: Conflict `reference_reused`. Errors, with nothing
    changed: NotFound `item_not_found` / `sku_not_found` / `member_not_found`,
    ValidationFailed (`invalid_quantity`, `not_a_voucher_item` for shipped goods,
    `sku_item_mismatch`), CodePoolExhausted (409 `code_pool_exhausted`).
    """
    from django.contrib.auth import get_user_model

    member_id = _int_id(member_id, "member_id")
    item_id = _int_id(item_id, "item_id")
    sku_id = _int_id(sku_id, "sku_id")
    if order_line_id is not None:
        order_line_id = _int_id(order_line_id, "order_line_id")
    quantity = _quantity(quantity)
    reference = _reference(reference)
    existing = _issued(reference)
    if existing:
        return _check_replay(existing, member_id, sku_id, quantity, reference)
    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise NotFound(_("商品不存在。"), code="item_not_found", fields={"item_id": item_id})
    if not Sku.objects.filter(pk=sku_id, item_id=item_id).exists():
        if Sku.objects.filter(pk=sku_id).exists():
            raise ValidationFailed(
                _("SKU 不属于该商品。"), code="sku_item_mismatch", fields={"sku_id": sku_id}
            )
        raise NotFound(_("SKU 不存在。"), code="sku_not_found", fields={"sku_id": sku_id})
    if item.fulfilment not in KIND_BY_FULFILMENT:
        raise ValidationFailed(
            _("该商品需要快递配送，不发放卡券。"),
            code="not_a_voucher_item",
            fields={"item_id": item_id},
        )
    if not get_user_model().objects.filter(pk=member_id).exists():
        raise NotFound(_("会员不存在。"), code="member_not_found", fields={"member_id": member_id})
    try:
        with transaction.atomic():
            return _issue(item, sku_id, member_id, order_line_id, quantity, reference)
    except IntegrityError:
        # A concurrent call with this reference committed first: its vouchers stand.
        existing = _issued(reference)
        if not existing:
            raise
        return _check_replay(existing, member_id, sku_id, quantity, reference)


def _issue(item: Item, sku_id, member_id, order_line_id, quantity, reference):
    now = timezone.now()
    kind = KIND_BY_FULFILMENT[item.fulfilment]
    valid_until = now + dt.timedelta(days=item.valid_days) if item.valid_days else None
    base = {
        "member_id": member_id,
        "item_id": item.pk,
        "sku_id": sku_id,
        "item_name": item.name,
        "kind": kind,
        "currency": item.currency,
        "valid_from": now,
        "valid_until": valid_until,
        "issue_reference": reference,
        "order_line_id": order_line_id,
    }
    if kind == MemberVoucher.Kind.COUPON:
        base["value"] = item.coupon_value
        base["threshold"] = item.coupon_threshold or Decimal("0")
    if kind == MemberVoucher.Kind.LINK:
        base["link"] = item.link_url
    vouchers: list[MemberVoucher] = []
    if kind == MemberVoucher.Kind.CODE:
        pool = CodePool.objects.filter(sku_id=sku_id).first()
        if pool is None:
            raise CodePoolExhausted(_("卡密已发完，请联系客服。"), fields={"sku_id": sku_id})
        codes = _claim_codes(pool.pk, quantity, now)
        vouchers = MemberVoucher.objects.bulk_create(
            [MemberVoucher(index=i, code=code.code, **base) for i, code in enumerate(codes)]
        )
        if any(v.pk is None for v in vouchers):  # backends without RETURNING
            vouchers = _issued(reference)
        for code, voucher in zip(codes, vouchers, strict=True):
            PoolCode.objects.filter(pk=code.pk).update(issued_to=voucher)
        _low_pool_check(pool.pk)
    elif kind in (MemberVoucher.Kind.COUPON, MemberVoucher.Kind.VOUCHER):
        for i in range(quantity):
            vouchers.append(_create_with_generated_code(index=i, **base))
    else:
        vouchers = MemberVoucher.objects.bulk_create(
            [MemberVoucher(index=i, **base) for i in range(quantity)]
        )
    return _issued(reference)


def _create_with_generated_code(**fields) -> MemberVoucher:
    for _attempt in range(5):
        code = generate_code()
        if MemberVoucher.objects.filter(
            code=code, kind__in=[MemberVoucher.Kind.COUPON, MemberVoucher.Kind.VOUCHER]
        ).exists():
            continue  # a collision (1 in 10^23): draw again
        return MemberVoucher.objects.create(code=code, **fields)
    raise Conflict(_("券码生成失败，请重试。"), code="code_generation_failed")


# --- after issuing ----------------------------------------------------------------------------


@transaction.atomic
def vouchers_revoke(*, reference: str, quantity: int | None = None, reason: str) -> int:
    """Void up to `quantity` (all when None) of the still-unused vouchers issued under
    `reference`, highest index first; returns how many this call voided. Used, expired and
    revoked vouchers are left as they are, so a repeat of a full revoke voids nothing more.
    A pool code of a voided voucher is never issued again (its owner has seen it).
    NotFound `vouchers_not_found` when nothing was issued under the reference."""
    reference = _reference(reference)
    reason = _reason(reason)
    if quantity is not None:
        quantity = _quantity(quantity)
    if not MemberVoucher.objects.filter(issue_reference=reference).exists():
        raise NotFound(
            _("没有以该单号发放的卡券。"),
            code="vouchers_not_found",
            fields={"reference": reference},
        )
    candidates = MemberVoucher.objects.filter(
        issue_reference=reference, status=MemberVoucher.Status.UNUSED
    ).order_by("-index")
    ids = list(candidates.values_list("pk", flat=True))
    if quantity is not None:
        ids = ids[:quantity]
    now = timezone.now()
    revoked = 0
    for voucher_id in ids:
        # Guarded: a voucher redeemed at this moment stays used.
        if MemberVoucher.objects.filter(pk=voucher_id, status=MemberVoucher.Status.UNUSED).update(
            status=MemberVoucher.Status.REVOKED, revoked_at=now, revoke_reason=reason
        ):
            revoked += 1
    return revoked


@transaction.atomic
def voucher_revoke_one(*, voucher_id: int, reason: str, by=None) -> int:
    """An operator voids one unused voucher; returns 1, or 0 when it is no longer unused
    (used, expired, already void: nothing changes). NotFound `voucher_not_found`."""
    voucher_id = _int_id(voucher_id, "voucher_id")
    reason = _reason(reason)
    if not MemberVoucher.objects.filter(pk=voucher_id).exists():
        raise NotFound(_("卡券不存在。"), code="voucher_not_found")
    label = getattr(by, "display_name", "") if by is not None else ""
    return MemberVoucher.objects.filter(pk=voucher_id, status=MemberVoucher.Status.UNUSED).update(
        status=MemberVoucher.Status.REVOKED,
        revoked_at=timezone.now(),
        revoke_reason=f"{reason}（{label}）"[:200] if label else reason,
    )


def _voucher_for_use(voucher_id, code) -> MemberVoucher:
    if (voucher_id is None) == (code is None):
        raise ValidationFailed(_("请提供券码。"), code="code_required", fields={"code": ""})
    if voucher_id is not None:
        voucher = MemberVoucher.objects.filter(pk=_int_id(voucher_id, "voucher_id")).first()
    else:
        if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE_LENGTH:
            raise ValidationFailed(_("券码不正确。"), code="invalid_code", fields={"code": ""})
        voucher = MemberVoucher.objects.filter(
            code=code.strip().upper(),
            kind__in=[MemberVoucher.Kind.COUPON, MemberVoucher.Kind.VOUCHER],
        ).first()
    if voucher is None:
        raise NotFound(_("券码不存在。"), code="voucher_not_found")
    return voucher


@transaction.atomic
def voucher_mark_used(
    *,
    voucher_id: int | None = None,
    code: str | None = None,
    by=None,
    note: str = "",
    order_amount: Decimal | None = None,
    client_id: int | None = None,
    reference: str | None = None,
) -> MemberVoucher:
    """Mark a voucher used (a coupon redeemed in the enterprise's shop, a service voucher at
    a store), by its id or, for generated codes, by the code.

    Once per redemption: `reference` names it (the shop's order number; with `client_id`,
    the integration client that redeems). Repeating the same (client, reference) on the
    voucher it used returns it unchanged (a retry); any other redemption of a used voucher,
    including one without a reference, is a Conflict `voucher_used` (one coupon never pays
    for two orders). A shop's redemption (`client_id`) of a coupon with a threshold needs
    `order_amount` (ValidationFailed `order_amount_required`); a given `order_amount` must be
    at or above the threshold (`below_threshold`). An operator's redemption (`by`, at a store)
    is the operator's judgment and is recorded as theirs. Conflict `voucher_expired`
    past its validity, `voucher_revoked` when voided; NotFound `voucher_not_found`. Nothing
    changes on any error; the move unused → used is one guarded UPDATE, so of two concurrent
    redemptions exactly one wins."""
    voucher = _voucher_for_use(voucher_id, code)
    note = _reason(note, required=False)
    if reference is not None:
        reference = _reference(reference)
    if client_id is not None:
        client_id = _int_id(client_id, "client_id")
        if reference is None:  # a shop names the order it redeems for
            raise ValidationFailed(
                _("请提供核销单号。"), code="reference_required", fields={"reference": ""}
            )
    order_amount = _order_amount(order_amount)
    if client_id is not None and voucher.threshold is not None and order_amount is None:
        raise ValidationFailed(
            _("该券有使用门槛，请提供订单金额。"),
            code="order_amount_required",
            fields={"order_amount": ""},
        )
    if (
        order_amount is not None
        and voucher.threshold is not None
        and order_amount < voucher.threshold
    ):
        raise ValidationFailed(
            _("订单金额未达到使用门槛 ¥%(t)s。") % {"t": voucher.threshold},
            code="below_threshold",
            fields={"order_amount": str(order_amount)},
        )
    now = timezone.now()
    moved = (
        MemberVoucher.objects.filter(pk=voucher.pk, status=MemberVoucher.Status.UNUSED)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .update(
            status=MemberVoucher.Status.USED,
            used_at=now,
            used_by=by if by is not None and getattr(by, "pk", None) else None,
            used_note=note,
            used_client_id=client_id,
            used_reference=reference or "",
        )
    )
    voucher.refresh_from_db()
    if moved:
        return voucher
    if voucher.status == MemberVoucher.Status.USED:
        # Used before (or by a concurrent call): a replay only if it was this redemption.
        if reference and (voucher.used_client_id, voucher.used_reference) == (
            client_id,
            reference,
        ):
            return voucher
        raise Conflict(
            _("该券已使用。"),
            code="voucher_used",
            fields={"used_at": timezone.localtime(voucher.used_at).isoformat()}
            if voucher.used_at
            else {},
        )
    if voucher.status == MemberVoucher.Status.REVOKED:
        raise Conflict(_("该券已作废。"), code="voucher_revoked")
    raise Conflict(_("该券已过期。"), code="voucher_expired")


def _order_amount(value) -> Decimal | None:
    if value is None:
        return None
    error = ValidationFailed(
        _("订单金额须为不小于 0 的数字，最多两位小数。"),
        code="invalid_amount",
        fields={"order_amount": str(value)},
    )
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise error
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        raise error from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise error
    return amount


def vouchers_expire(*, now: dt.datetime | None = None) -> int:
    """Mark unused vouchers past their validity expired (one guarded UPDATE); returns how
    many. Safe to run twice or beside redemption: only "unused" rows move."""
    now = now or timezone.now()
    return MemberVoucher.objects.filter(
        status=MemberVoucher.Status.UNUSED, valid_until__isnull=False, valid_until__lte=now
    ).update(status=MemberVoucher.Status.EXPIRED)
