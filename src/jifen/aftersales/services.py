"""Writes to after-sales: request, cancel, decide, return shipped, receive, refund, exchange.

Errors raised: ValidationFailed (bad input: `invalid_quantity`, `quantity_exceeds_available`,
`invalid_photo`, ...), NotFound (`aftersale_not_found`, `order_not_found`), Conflict
(`invalid_transition`, `order_not_eligible`, `aftersale_window_closed`, `line_has_open_aftersale`,
`voucher_used`, ...), PermissionDenied.

Invariants:
- An after-sale moves only through `_move` and the TRANSITIONS table; each move is a guarded
  UPDATE on the status read under the row lock and writes one AfterSaleEvent. A call asking for
  the status the after-sale already has (a retry) returns it unchanged.
- For each order line, the quantities of its open and refunded after-sales never exceed the
  quantity bought: requests lock the order row, so two requests of one order are serialised.
- The refund acts once: points by the ledger reference f"aftersale:{number}" (a partial
  reversal of the order's capture, restoring the lots' original expiry), stock by
  f"aftersale:{number}:{line_id}", cash by the payment refund reference f"aftersale:{number}".
- Lock order (the same as order_cancel and shipment_create): the ORDER row first, then the
  after-sale row, then vouchers, SKUs and the ledger's rows. Every write of an after-sale
  takes its order's row before anything else (`_lock`), so a cancel, a shipment, a request
  and a refund of one order are serialised and never wait for each other in a cycle. No
  payment row is locked while any of them is held: the cash refund runs after the local
  transaction commits.
- What the refund gives back is decided at refund time from the locked order: stock only
  for refund-only of an order that never shipped, the shipping fee only by the refund that
  completes the refund of an order that never shipped, and only once (Order.shipping_refunded,
  a guarded flag). The amounts stored at request time are the estimate shown meanwhile.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
import uuid
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.aftersales.models import (
    OPEN_STATUSES,
    TAKING_STATUSES,
    AfterSale,
    AfterSaleEvent,
    AfterSaleLine,
    AfterSalePhoto,
)
from jifen.catalog import services as catalog
from jifen.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from jifen.ledger import services as ledger
from jifen.orders.models import Order, OrderLine

logger = logging.getLogger(__name__)

S = AfterSale.Status
K = AfterSale.Kind

# The only moves an after-sale may make. Which of them a kind may use is checked by the
# service that asks for it (refund-only never waits for goods; exchanges never refund).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.AWAITING_RETURN, S.RECEIVED, S.REFUNDED, S.CANCELLED}),
    S.AWAITING_RETURN: frozenset({S.RECEIVED}),
    S.RECEIVED: frozenset({S.REFUNDED, S.EXCHANGED}),
    S.REFUNDED: frozenset(),
    S.EXCHANGED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

_STAMPS = {
    S.APPROVED: "decided_at",
    S.REJECTED: "decided_at",
    S.AWAITING_RETURN: "return_shipped_at",
    S.RECEIVED: "received_at",
    S.REFUNDED: "refunded_at",
    S.EXCHANGED: "exchanged_at",
    S.CANCELLED: "cancelled_at",
}

ELIGIBLE_ORDER_STATUSES = (
    Order.Status.PAID,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.COMPLETED,
)
MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_SIDE = 6000
# Checked from the header, before any pixel is decoded (a small PNG can declare 169 Mpx).
# Phone photos are about 12 Mpx; one decoded 16 Mpx RGBA image is 64 MB, and photos are
# decoded one at a time (only the thumbnails are kept).
MAX_PHOTO_PIXELS = 16_000_000
THUMBNAIL_SIZE = (240, 240)
CENT = Decimal("0.01")


def aftersale_days() -> int:
    return int(getattr(settings, "JIFEN_AFTERSALE_DAYS", 15))


# --- helpers ----------------------------------------------------------------------------------


def _text(value, field_name: str, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationFailed(_("内容无效。"), code="invalid_text", fields={field_name: "invalid"})
    value = value.strip()
    if required and not value:
        raise ValidationFailed(_("请填写此项。"), code="required", fields={field_name: "required"})
    if len(value) > max_length:
        raise ValidationFailed(
            _("内容过长（最多 %(n)s 个字）。") % {"n": max_length},
            code="too_long",
            fields={field_name: max_length},
        )
    return value


def _new_number() -> str:
    """ "S" + local date (yymmdd) + 7 random digits, e.g. S2612011234567."""
    today = timezone.localdate()
    return f"S{today:%y%m%d}{secrets.randbelow(10**7):07d}"


def _event(aftersale: AfterSale, from_status: str, to_status: str, by, label: str, note: str):
    AfterSaleEvent.objects.create(
        aftersale=aftersale,
        from_status=from_status,
        to_status=to_status,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=label[:40],
        note=str(note)[:500],
    )


def _actor_label(by, default: str) -> str:
    if by is None:
        return default
    return getattr(by, "display_name", "") or str(by)


def _lock(aftersale_id: int) -> AfterSale:
    """Lock the after-sale's ORDER row, then the after-sale row (the module's lock order);
    `aftersale.order` is the locked, fresh order."""
    order_id = AfterSale.objects.filter(pk=aftersale_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(_("售后单不存在。"), code="aftersale_not_found")
    order = Order.objects.select_for_update().get(pk=order_id)
    aftersale = AfterSale.objects.select_for_update().get(pk=aftersale_id)
    aftersale.order = order
    return aftersale


def _refuse(aftersale: AfterSale, to: str):
    raise Conflict(
        _("售后单状态为“%(status)s”，不能执行此操作。")
        % {"status": aftersale.get_status_display()},
        code="invalid_transition",
        fields={"from": aftersale.status, "to": to},
    )


def _move(
    aftersale: AfterSale, to: str, *, by=None, label: str = "", note: str = "", **changes
) -> AfterSale:
    """Move a locked after-sale to `to` (refusing moves outside TRANSITIONS) and log it."""
    if to not in TRANSITIONS.get(aftersale.status, ()):
        _refuse(aftersale, to)
    now = timezone.now()
    from_status = aftersale.status
    changes = {"status": to, "updated_at": now, **changes}
    stamp = _STAMPS.get(to)
    if stamp and stamp not in changes:
        changes[stamp] = now
    if not AfterSale.objects.filter(pk=aftersale.pk, status=from_status).update(**changes):
        _refuse(aftersale, to)  # only if the lock was bypassed: refuse rather than overwrite
    for name, value in changes.items():
        setattr(aftersale, name, value)
    _event(aftersale, from_status, to, by, label, note)
    return aftersale


def _member_aftersale(aftersale_id: int, member_id: int) -> AfterSale:
    aftersale = _lock(aftersale_id)
    if aftersale.member_id != member_id:
        raise NotFound(_("售后单不存在。"), code="aftersale_not_found")
    return aftersale


def _share(total, part: int, taken: int, quantity: int, *, cash: bool):
    """This request's share of a line's paid total: the cumulative share after it minus the
    cumulative share before it, so partial after-sales of one line add up to exactly what
    was paid (points floor, cash to the cent, rounding down)."""
    if cash:
        after = (total * (taken + part) / quantity).quantize(CENT, rounding=ROUND_DOWN)
        before = (total * taken / quantity).quantize(CENT, rounding=ROUND_DOWN)
        return after - before
    return total * (taken + part) // quantity - total * taken // quantity


def _taken_by_line(order_id: int, *, exclude_id: int | None = None) -> dict[int, int]:
    rows = AfterSaleLine.objects.filter(
        aftersale__order_id=order_id, aftersale__status__in=TAKING_STATUSES
    )
    if exclude_id:
        rows = rows.exclude(aftersale_id=exclude_id)
    return {
        row["order_line_id"]: row["qty"]
        for row in rows.values("order_line_id").annotate(qty=Sum("quantity"))
    }


def order_aftersale_window_open(order: Order, *, now: dt.datetime | None = None) -> bool:
    """Whether the order may get a new after-sale: paid, shipped, delivered or completed, and
    within JIFEN_AFTERSALE_DAYS of its delivery (or completion when never delivered)."""
    if order.status not in ELIGIBLE_ORDER_STATUSES:
        return False
    since = order.delivered_at or order.completed_at
    if since is None:
        return True
    return (now or timezone.now()) <= since + dt.timedelta(days=aftersale_days())


# --- photos -----------------------------------------------------------------------------------


def photos_from_uploads(files) -> list[tuple[bytes, str]]:
    """[(bytes, name)] of uploaded files (Django UploadedFile) for aftersale_request. The
    count and each file's size are checked BEFORE anything is read, and at most
    MAX_PHOTO_BYTES + 1 bytes of a file are read, so a request with many or huge files never
    lands in this process's memory. ValidationFailed `too_many_photos` / `invalid_photo`."""
    files = list(files or ())
    if len(files) > MAX_PHOTOS:
        raise ValidationFailed(
            _("最多上传 %(n)s 张图片。") % {"n": MAX_PHOTOS},
            code="too_many_photos",
            fields={"photos": MAX_PHOTOS},
        )
    for f in files:
        size = getattr(f, "size", None)
        if not isinstance(size, int) or size > MAX_PHOTO_BYTES:
            raise ValidationFailed(
                _("每张图片须小于 5 MB。"),
                code="invalid_photo",
                fields={"photos": str(getattr(f, "name", ""))},
            )
    return [(f.read(MAX_PHOTO_BYTES + 1), str(f.name)) for f in files]


@dataclass(frozen=True)
class _Photo:
    """A checked upload: its bytes, its file extension and its JPEG thumbnail (bytes only:
    no decoded image is kept)."""

    content: bytes
    extension: str
    thumbnail: bytes


def _invalid_photo(filename: str):
    return ValidationFailed(
        _("请上传 JPEG、PNG 或 WebP 图片。"), code="invalid_photo", fields={"photos": filename}
    )


def _check_photo(content: bytes, filename: str) -> _Photo:
    """Check one upload and make its thumbnail, or ValidationFailed `invalid_photo`. The
    format and dimensions are read from the header (Image.open is lazy) and refused before
    any pixel is decoded: at most MAX_PHOTO_SIDE a side and MAX_PHOTO_PIXELS in all. The
    decoded image is dropped before this returns, so a request's photos are decoded one at
    a time and only their thumbnails stay in memory."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not isinstance(content, bytes | bytearray) or not content:
        raise _invalid_photo(filename)
    if len(content) > MAX_PHOTO_BYTES:
        raise ValidationFailed(
            _("每张图片须小于 5 MB。"), code="invalid_photo", fields={"photos": filename}
        )
    try:
        with Image.open(io.BytesIO(content)) as probe:  # the header only
            width, height = probe.size
            image_format = probe.format
            fits = (
                image_format in {"JPEG", "PNG", "WEBP"}
                and max(width, height) <= MAX_PHOTO_SIDE
                and width * height <= MAX_PHOTO_PIXELS
            )
            if fits:
                probe.verify()
        if not fits:
            raise _invalid_photo(filename)
        with Image.open(io.BytesIO(content)) as image:
            if image_format == "JPEG":
                image.draft("RGB", (THUMBNAIL_SIZE[0] * 2, THUMBNAIL_SIZE[1] * 2))
            image.load()
            thumb = ImageOps.fit(image.convert("RGB"), THUMBNAIL_SIZE)
        out = io.BytesIO()
        thumb.save(out, "JPEG", quality=85)
        del thumb
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _invalid_photo(filename) from None
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[image_format]
    return _Photo(content=bytes(content), extension=extension, thumbnail=out.getvalue())


def _store_photo(aftersale: AfterSale, photo: _Photo) -> AfterSalePhoto:
    stem = uuid.uuid4().hex[:12]
    row = AfterSalePhoto(aftersale=aftersale)
    row.image.save(f"{stem}.{photo.extension}", ContentFile(photo.content), save=False)
    row.thumbnail.save(f"{stem}-thumb.jpg", ContentFile(photo.thumbnail), save=False)
    row.save()
    return row


# --- member: request, cancel, return shipped ----------------------------------------------------


def _clean_lines(order: Order, lines) -> list[tuple[OrderLine, int]]:
    """[(order line, quantity)] from [{"order_line"/"line": id, "quantity": n}] or [(id, n)]."""
    if not isinstance(lines, list | tuple) or not lines:
        raise ValidationFailed(
            _("请选择要售后的商品。"), code="no_lines", fields={"lines": "required"}
        )
    if len(lines) > 100:
        raise ValidationFailed(_("商品行太多。"), code="too_many_lines", fields={"lines": 100})
    by_id = {line.pk: line for line in order.lines.all()}
    picked: dict[int, int] = {}
    for entry in lines:
        if isinstance(entry, dict):
            line_id, quantity = entry.get("order_line", entry.get("line")), entry.get("quantity")
        else:
            try:
                line_id, quantity = entry
            except (TypeError, ValueError):
                line_id, quantity = None, None
        if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id not in by_id:
            raise NotFound(
                _("订单中没有这件商品。"), code="order_line_not_found", fields={"lines": line_id}
            )
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationFailed(
                _("数量须为正整数。"), code="invalid_quantity", fields={"quantity": quantity}
            )
        if line_id in picked:
            raise ValidationFailed(
                _("同一商品只能选择一次。"), code="duplicate_line", fields={"lines": line_id}
            )
        picked[line_id] = quantity
    return [(by_id[line_id], quantity) for line_id, quantity in picked.items()]


def aftersale_request(
    *,
    member_id: int,
    order_number: str,
    kind: str,
    lines,
    reason: str,
    reason_text: str = "",
    photos: list[tuple[bytes, str]] | tuple = (),
    reference: str | None = None,
) -> AfterSale:
    """A member asks for an after-sale on lines of their order.

    The order must be paid, shipped, delivered or completed, and within JIFEN_AFTERSALE_DAYS
    of delivery/completion (Conflict `order_not_eligible` / `aftersale_window_closed`). Each
    quantity must be at most what was bought minus what open and refunded after-sales already
    hold (ValidationFailed `quantity_exceeds_available`), and a line may have one open
    after-sale at a time (Conflict `line_has_open_aftersale`). Return and exchange need
    physical lines that were shipped (ValidationFailed `kind_not_allowed`). Up to 6 photos,
    JPEG/PNG/WebP under 5 MB (ValidationFailed `invalid_photo`).

    The amounts come from the lines' paid totals (points after the tier discount), pro rata;
    the shipping fee is refunded only when the request takes back every unit of an order that
    was never shipped. Once per `reference` (a replay returns the first after-sale). Nothing
    changes on any error.
    """
    if kind not in K.values:
        raise ValidationFailed(_("售后类型无效。"), code="invalid_kind", fields={"kind": kind})
    if reason not in AfterSale.Reason.values:
        raise ValidationFailed(
            _("请选择售后原因。"), code="invalid_reason", fields={"reason": reason}
        )
    reason_text = _text(reason_text, "reason_text", max_length=500)
    if reference is not None:
        reference = _text(reference, "reference", max_length=200, required=True)
        existing = AfterSale.objects.filter(request_reference=reference).first()
        if existing is not None:
            if existing.member_id != member_id:
                raise Conflict(_("该请求号已被使用。"), code="reference_conflict")
            return existing
    photos = list(photos or ())
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(
            _("最多上传 %(n)s 张图片。") % {"n": MAX_PHOTOS},
            code="too_many_photos",
            fields={"photos": MAX_PHOTOS},
        )
    # The order is checked before any photo is decoded (a member cannot make us decode
    # photos for an order that may not get an after-sale); _request checks it again under
    # the order lock.
    _request_eligible(member_id=member_id, order_number=order_number)
    checked = [_check_photo(content, name) for content, name in photos]
    try:
        with transaction.atomic():
            return _request(
                member_id=member_id,
                order_number=order_number,
                kind=kind,
                lines=lines,
                reason=reason,
                reason_text=reason_text,
                photos=checked,
                reference=reference,
            )
    except IntegrityError:
        if reference is not None:
            existing = AfterSale.objects.filter(
                request_reference=reference, member_id=member_id
            ).first()
            if existing is not None:
                return existing
        raise


def _request_eligible(*, member_id: int, order_number: str, lock: bool = False) -> Order:
    """The member's order if it may get a new after-sale: NotFound `order_not_found`,
    Conflict `order_not_eligible` / `aftersale_window_closed` otherwise."""
    orders = Order.objects.select_for_update() if lock else Order.objects
    order = orders.filter(number=str(order_number or "")[:20], member_id=member_id).first()
    if order is None:
        raise NotFound(_("订单不存在。"), code="order_not_found")
    if order.status not in ELIGIBLE_ORDER_STATUSES:
        raise Conflict(
            _("订单状态为“%(status)s”，不能申请售后。") % {"status": order.get_status_display()},
            code="order_not_eligible",
        )
    if not order_aftersale_window_open(order):
        raise Conflict(
            _("已超过 %(n)s 天售后期限。") % {"n": aftersale_days()},
            code="aftersale_window_closed",
        )
    return order


def _request(*, member_id, order_number, kind, lines, reason, reason_text, photos, reference):
    # The order row lock serialises after-sales of one order.
    order = _request_eligible(member_id=member_id, order_number=order_number, lock=True)
    picked = _clean_lines(order, lines)
    shipped = order.shipped_at is not None or order.status != Order.Status.PAID
    for line, _quantity in picked:
        physical = line.fulfilment == "shipping"
        if kind in (K.RETURN_REFUND, K.EXCHANGE) and not (physical and shipped):
            raise ValidationFailed(
                _("“%(name)s”无需寄回，请选择仅退款。") % {"name": line.item_name}
                if not physical
                else _("商品尚未发货，请选择仅退款。"),
                code="kind_not_allowed",
                fields={"kind": kind},
            )
    open_lines = set(
        AfterSaleLine.objects.filter(
            aftersale__order_id=order.pk, aftersale__status__in=OPEN_STATUSES
        ).values_list("order_line_id", flat=True)
    )
    taken = _taken_by_line(order.pk)
    aftersale = AfterSale(
        order=order,
        member_id=member_id,
        kind=kind,
        reason=reason,
        reason_text=reason_text,
        request_reference=reference,
        currency=order.currency,
        restock_on_refund=kind == K.REFUND_ONLY and not shipped,
    )
    rows = []
    for line, quantity in picked:
        if line.pk in open_lines:
            raise Conflict(
                _("“%(name)s”已有处理中的售后单。") % {"name": line.item_name},
                code="line_has_open_aftersale",
                fields={"lines": line.pk},
            )
        before = taken.get(line.pk, 0)
        left = line.quantity - before
        if quantity > left:
            raise ValidationFailed(
                _("“%(name)s”最多可申请 %(n)s 件。") % {"name": line.item_name, "n": left},
                code="quantity_exceeds_available",
                fields={"quantity": left},
            )
        refunds = kind != K.EXCHANGE
        rows.append(
            AfterSaleLine(
                order_line=line,
                quantity=quantity,
                points=_share(line.points_paid, quantity, before, line.quantity, cash=False)
                if refunds
                else 0,
                cash=_share(line.cash_paid, quantity, before, line.quantity, cash=True)
                if refunds
                else Decimal("0.00"),
            )
        )
    aftersale.points_to_refund = sum(row.points for row in rows)
    cash = sum((row.cash for row in rows), Decimal("0.00"))
    # The fee estimate: this request takes back the last physical units of an order that
    # never shipped (decided again at refund time).
    physical = {line.pk: line.quantity for line in order.lines.all() if line.needs_shipping}
    asked = {line.pk: quantity for line, quantity in picked}
    whole = any(pk in physical for pk in asked) and all(
        asked.get(pk, 0) + taken.get(pk, 0) == q for pk, q in physical.items()
    )
    if kind == K.REFUND_ONLY and not shipped and whole and order.shipping_fee > 0:
        aftersale.shipping_refund = order.shipping_fee
        cash += order.shipping_fee
    aftersale.cash_to_refund = cash
    for _attempt in range(5):
        aftersale.number = _new_number()
        try:
            with transaction.atomic():
                aftersale.save()
            break
        except IntegrityError:
            if (
                reference is not None
                and AfterSale.objects.filter(request_reference=reference).exists()
            ):
                raise
            aftersale.pk = None
    else:  # pragma: no cover - ten million numbers a day
        raise Conflict(_("请稍后再试。"), code="number_exhausted")
    for row in rows:
        row.aftersale = aftersale
    AfterSaleLine.objects.bulk_create(rows)
    for photo in photos:
        _store_photo(aftersale, photo)
    _event(aftersale, "", S.REQUESTED, aftersale.member, "member", reason_text)
    return aftersale


@transaction.atomic
def aftersale_cancel(*, aftersale_id: int, member_id: int, note: str = "") -> AfterSale:
    """The member withdraws a request (requested or approved, before the goods are sent
    back). Its quantities become available again. Conflict `invalid_transition` otherwise;
    a repeat returns it unchanged."""
    note = _text(note, "note", max_length=500)
    aftersale = _member_aftersale(aftersale_id, member_id)
    if aftersale.status == S.CANCELLED:
        return aftersale
    return _move(aftersale, S.CANCELLED, by=aftersale.member, label="member", note=note)


@transaction.atomic
def aftersale_return_shipped(
    *, aftersale_id: int, member_id: int, carrier: str, tracking_number: str
) -> AfterSale:
    """The member has sent the goods back: approved → awaiting_return with the carrier and
    tracking number. Only for return and exchange. A repeat with the same tracking number
    returns it unchanged."""
    carrier = _text(carrier, "carrier", max_length=40, required=True)
    tracking_number = _text(tracking_number, "tracking_number", max_length=40, required=True)
    aftersale = _member_aftersale(aftersale_id, member_id)
    if (
        aftersale.status == S.AWAITING_RETURN
        and aftersale.return_tracking_number == tracking_number
    ):
        return aftersale
    if aftersale.kind == K.REFUND_ONLY or aftersale.status != S.APPROVED:
        _refuse(aftersale, S.AWAITING_RETURN)
    return _move(
        aftersale,
        S.AWAITING_RETURN,
        by=aftersale.member,
        label="member",
        note=f"{carrier} {tracking_number}",
        return_carrier=carrier,
        return_tracking_number=tracking_number,
    )


# --- operator: decide, receive, refund, exchange ------------------------------------------------


def _operator(by) -> None:
    if by is None or not getattr(by, "is_staff", False):
        raise PermissionDenied(_("只有运营人员可以处理售后。"), code="operator_required")


def aftersale_decide(*, aftersale_id: int, approve: bool, by, note: str = "") -> AfterSale:
    """An operator approves or rejects a request (requested → approved | rejected), with a
    note (required to reject).

    Approving a refund-only request refunds it in the same transaction (points, stock,
    vouchers: if any of them is refused, e.g. Conflict `voucher_used`, the approval is not
    made either), then the cash after commit; returns and exchanges wait for the goods. A
    repeat of the same decision returns the after-sale unchanged; the other decision is a
    Conflict `invalid_transition`.
    """
    _operator(by)
    note = _text(note, "note", max_length=500, required=not approve)
    to = S.APPROVED if approve else S.REJECTED
    with transaction.atomic():
        aftersale = _lock(aftersale_id)
        decided_before = aftersale.decided_at is not None and aftersale.status != S.REJECTED
        if aftersale.status == to or (approve and decided_before):
            return aftersale
        if aftersale.status != S.REQUESTED:
            _refuse(aftersale, to)
        if approve:
            _require_eligible_order(aftersale.order)
        aftersale = _move(
            aftersale,
            to,
            by=by,
            label=_actor_label(by, "operator"),
            note=note,
            decided_by=by,
            decision_note=note,
        )
        if approve and aftersale.kind == K.REFUND_ONLY:
            _refund_locally(aftersale, by=by, note="")
    if aftersale.cash_refund_pending:
        _refund_cash(aftersale)
    return aftersale


@transaction.atomic
def aftersale_receive(*, aftersale_id: int, by, note: str = "") -> AfterSale:
    """The goods of a return or exchange are back (approved | awaiting_return → received):
    each line's units return to stock, once per line (stock_return with
    f"aftersale:{number}:{line_id}"). A repeat returns it unchanged."""
    _operator(by)
    note = _text(note, "note", max_length=500)
    aftersale = _lock(aftersale_id)
    if aftersale.status == S.RECEIVED:
        return aftersale
    if aftersale.kind == K.REFUND_ONLY or aftersale.status not in (S.APPROVED, S.AWAITING_RETURN):
        _refuse(aftersale, S.RECEIVED)
    _restock(aftersale)
    return _move(aftersale, S.RECEIVED, by=by, label=_actor_label(by, "operator"), note=note)


def _restock(aftersale: AfterSale) -> None:
    """Each physical line's units back to stock, once per line (`restocked`). A unit may have
    been sold under the line's own reservation or, after an exchange, under the exchange's
    reservation f"aftersale:{n}:exchange:{line}": units are returned against sold
    reservations that still have room, the original first, then the exchanges in order."""
    from jifen.catalog.models import StockReservation

    for line in aftersale.lines.select_related("order_line").order_by("order_line__sku_id", "pk"):
        if line.order_line.fulfilment != "shipping" or line.restocked:
            continue
        references = [line.order_line.stock_reference] + [
            f"aftersale:{number}:exchange:{pk}"
            for number, pk in AfterSaleLine.objects.filter(
                order_line_id=line.order_line_id,
                aftersale__kind=K.EXCHANGE,
                aftersale__status=S.EXCHANGED,
            )
            .order_by("pk")
            .values_list("aftersale__number", "pk")
        ]
        room = {
            reference: quantity - returned
            for reference, quantity, returned in StockReservation.objects.filter(
                reference__in=references, status=StockReservation.Status.SOLD
            ).values_list("reference", "quantity", "returned")
        }
        left, chunks = line.quantity, 0
        for reference in references:
            take = min(left, room.get(reference, 0))
            if take <= 0:
                continue
            # one return reference per reservation used; the first keeps the plain form
            key = f"aftersale:{aftersale.number}:{line.pk}" + (f":{chunks}" if chunks else "")
            catalog.stock_return(reference=reference, quantity=take, return_reference=key)
            left, chunks = left - take, chunks + 1
            if not left:
                break
        if left:
            raise ValidationFailed(
                _("退回数量超过已售数量。"),
                code="return_exceeds_sold",
                fields={"quantity": line.quantity},
            )
        AfterSaleLine.objects.filter(pk=line.pk, restocked=0).update(restocked=line.quantity)


def _revoke_vouchers(aftersale: AfterSale) -> None:
    """Virtual lines: only unused vouchers can be refunded. Runs inside the refund's
    transaction, after the status guard, so a retry never revokes twice."""
    for line in aftersale.lines.select_related("order_line"):
        if line.order_line.fulfilment == "shipping":
            continue
        try:
            revoked = _vouchers_revoke(
                reference=line.order_line.stock_reference,
                quantity=line.quantity,
                reason=_("售后退款 %(number)s") % {"number": aftersale.number},
            )
        except NotFound as error:
            if error.code != "vouchers_not_found":
                raise
            continue  # never fulfilled: the member holds nothing to take back
        if revoked < line.quantity:  # rolls back the revocations made so far
            raise Conflict(
                _("“%(name)s”的券码已使用，不能退款。") % {"name": line.order_line.item_name},
                code="voucher_used",
                fields={"lines": line.order_line_id},
            )


def aftersale_refund(*, aftersale_id: int, by=None, note: str = "") -> AfterSale:
    """The money step: the points, the stock (for refund-only of unshipped goods; returns
    were restocked on receipt), the vouchers of virtual lines and then the cash go back.

    Refund-only: approved → refunded; return: received → refunded. Points: a partial
    reversal of the order's capture (`transaction_reverse`, reference f"aftersale:{number}"),
    which puts them back into the lots they came from with their original expiry. When every
    unit of the order is refunded, the order moves to "refunded". Cash: after that
    transaction commits (no lock held over the provider), `payment_refund` by reference
    f"aftersale:{number}" (attempt n > 1: f"aftersale:{number}:{n}"); the Refund's status is
    recorded on the after-sale (`cash_refund_status` pending → succeeded | failed), and
    calling this again reads a pending attempt or starts a new one after a failed attempt
    ("立即退款"). Idempotent: a second call refunds nothing twice. Call it outside a
    transaction (it commits before the provider call).
    """
    if by is not None:
        _operator(by)
    note = _text(note, "note", max_length=500)
    with transaction.atomic():
        aftersale = _lock(aftersale_id)
        if aftersale.status != S.REFUNDED:
            _refund_locally(aftersale, by=by, note=note)
    if aftersale.status == S.REFUNDED and aftersale.cash_to_refund > 0:
        _refund_cash(aftersale)  # reads a pending attempt; sends a new one after a failure
    return aftersale


def _require_eligible_order(order: Order) -> None:
    """The locked order must still be one after-sales may act on (not cancelled, not
    refunded by other means meanwhile): Conflict `order_not_eligible`."""
    if order.status not in ELIGIBLE_ORDER_STATUSES:
        raise Conflict(
            _("订单状态为“%(status)s”，不能办理售后。") % {"status": order.get_status_display()},
            code="order_not_eligible",
            fields={"order_status": order.status},
        )


def _completes_physical_refund(order_id: int, lines: list[AfterSaleLine]) -> bool:
    """Whether refunding `lines` (with the order's REFUNDED after-sales) takes back the last
    physical unit of the order: `lines` hold a physical unit and, after them, every unit of
    every physical line is refunded (virtual lines do not count: they never ship)."""
    physical = dict(
        OrderLine.objects.filter(order_id=order_id, fulfilment="shipping").values_list(
            "pk", "quantity"
        )
    )
    if not any(line.order_line_id in physical for line in lines):
        return False
    refunded = _refunded_by_line(order_id)
    for line in lines:
        refunded[line.order_line_id] = refunded.get(line.order_line_id, 0) + line.quantity
    return all(refunded.get(pk, 0) >= quantity for pk, quantity in physical.items())


def _refunded_by_line(order_id: int) -> dict[int, int]:
    return {
        row["order_line_id"]: row["qty"]
        for row in AfterSaleLine.objects.filter(
            aftersale__order_id=order_id, aftersale__status=S.REFUNDED
        )
        .values("order_line_id")
        .annotate(qty=Sum("quantity"))
    }


def _return_quota(aftersale: AfterSale, lines: list[AfterSaleLine], *, restock: bool) -> None:
    """The per-member limit comes back per refunded unit when the member keeps nothing:
    refund-only before shipment (the units go back on the shelf), return-and-refund (the
    goods came back) and virtual lines (their vouchers are revoked). Not for refund-only
    after shipment: the member keeps the goods, so they still count. Once per line
    (return reference f"aftersale:{number}:{line_id}"), items in ascending id (the quota
    lock order)."""
    gives_back = restock or aftersale.kind == K.RETURN_REFUND
    for line in sorted(lines, key=lambda line: (line.order_line.item_id, line.pk)):
        if not (gives_back or line.order_line.fulfilment != "shipping"):
            continue
        try:
            catalog.item_quota_return(
                reference=line.order_line.stock_reference,
                quantity=line.quantity,
                return_reference=f"aftersale:{aftersale.number}:{line.pk}",
            )
        except NotFound as error:
            if error.code != "quota_not_found":
                raise
            # an order from before quotas were counted: nothing to give back


def _refund_locally(aftersale: AfterSale, *, by, note: str) -> None:
    """The refund's local part. The caller holds the order lock, then the after-sale lock
    (`_lock`). Restock and the shipping fee are decided here from the locked order."""
    ready = S.APPROVED if aftersale.kind == K.REFUND_ONLY else S.RECEIVED
    if aftersale.kind == K.EXCHANGE or aftersale.status != ready:
        _refuse(aftersale, S.REFUNDED)
    order = aftersale.order
    _require_eligible_order(order)
    never_shipped = order.shipped_at is None and order.status == Order.Status.PAID
    # Refund-only of goods still in the warehouse: the units go back on the shelf. Once the
    # order has shipped they are with the member (returns restock on receipt instead).
    restock = aftersale.kind == K.REFUND_ONLY and never_shipped
    lines = list(aftersale.lines.select_related("order_line"))
    # The last physical unit refunded before shipment: nothing will ship any more, so the
    # shipping fee goes back (even when virtual lines stay), and the order leaves the
    # warehouse's queue below.
    last_physical = (
        aftersale.kind == K.REFUND_ONLY
        and never_shipped
        and _completes_physical_refund(order.pk, lines)
    )
    fee = Decimal("0.00")
    if (
        last_physical
        and order.shipping_fee > 0
        # once per order, whoever gets there first
        and Order.objects.filter(pk=order.pk, shipping_refunded=False).update(
            shipping_refunded=True
        )
    ):
        fee = order.shipping_fee
    changes: dict = {
        "restock_on_refund": restock,
        "shipping_refund": fee,
        "cash_to_refund": sum((line.cash for line in lines), Decimal("0.00")) + fee,
    }
    # Vouchers, then quota, then SKUs, then the ledger: the order of order_cancel.
    _revoke_vouchers(aftersale)
    _return_quota(aftersale, lines, restock=restock)
    if restock:
        _restock(aftersale)
    if aftersale.points_to_refund:
        capture_id = order.hold.settle_transaction_id if order.hold_id else None
        if capture_id is None:
            raise Conflict(_("订单积分尚未扣除，不能退还。"), code="points_not_captured")
        txn = ledger.transaction_reverse(
            transaction_id=capture_id,
            reference=f"aftersale:{aftersale.number}",
            points=aftersale.points_to_refund,
            reason=_("售后退款 %(number)s（订单 %(order)s）")
            % {"number": aftersale.number, "order": order.number},
            created_by_id=getattr(by, "pk", None),
        )
        changes["refund_transaction"] = txn
    _move(
        aftersale,
        S.REFUNDED,
        by=by,
        label=_actor_label(by, "system"),
        note=note,
        **changes,
    )
    from jifen.orders.services import order_transition

    if _order_fully_refunded(order.pk):
        order_transition(
            order_id=order.pk,
            to=Order.Status.REFUNDED,
            by=by,
            actor_label=_actor_label(by, "system"),
            reason=_("售后 %(number)s 全部退款") % {"number": aftersale.number},
        )
    elif last_physical:
        # Only virtual lines are left, and they were fulfilled when the order was paid:
        # nothing is left to ship, so the order is done (paid → completed).
        order_transition(
            order_id=order.pk,
            to=Order.Status.COMPLETED,
            by=by,
            actor_label=_actor_label(by, "system"),
            reason=_("售后 %(number)s 已退回全部实物商品，无需发货，虚拟商品已发放")
            % {"number": aftersale.number},
        )


def _order_fully_refunded(order_id: int) -> bool:
    refunded = {
        row["order_line_id"]: row["qty"]
        for row in AfterSaleLine.objects.filter(
            aftersale__order_id=order_id, aftersale__status=S.REFUNDED
        )
        .values("order_line_id")
        .annotate(qty=Sum("quantity"))
    }
    lines = OrderLine.objects.filter(order_id=order_id).values_list("pk", "quantity")
    return all(refunded.get(pk, 0) >= quantity for pk, quantity in lines)


def _payment_refund(*, order_number: str, amount: Decimal, reference: str, reason: str):
    """payments.payment_refund of the order's payment (the one seam to the payments app)."""
    from jifen.payments import selectors as payment_selectors
    from jifen.payments import services as payments

    payment = payment_selectors.payment_for(purpose="order", reference=order_number)
    if payment is None:
        raise NotFound(_("找不到订单的支付记录。"), code="payment_not_found")
    return payments.payment_refund(
        payment_id=payment.pk, amount=amount, reference=reference, reason=reason
    )


def _vouchers_revoke(*, reference: str, quantity: int, reason: str) -> int:
    """vouchers.vouchers_revoke (the one seam to the vouchers app)."""
    from jifen.vouchers import services as vouchers

    return vouchers.vouchers_revoke(reference=reference, quantity=quantity, reason=reason)


C = AfterSale.CashRefund
MAX_AUTO_CASH_ATTEMPTS = 5


def _cash_status(refund) -> str:
    return {"succeeded": C.SUCCEEDED, "failed": C.FAILED}.get(
        getattr(refund, "status", ""), C.PENDING
    )


def _record_cash(aftersale_id: int, reference: str, refund, error: str = "") -> None:
    """Record the outcome of the attempt `reference` from its payments Refund (or, without
    one, a failure with `error`). Guarded by the attempt's reference and its pending status:
    an answer to an older attempt never overwrites a newer one."""
    if refund is not None:
        status = _cash_status(refund)
        changes = {
            "cash_refund_status": status,
            "cash_refund_id": refund.pk,
            "cash_refund_error": (refund.failure if status == C.FAILED else "")[:300],
        }
        if status == C.SUCCEEDED:
            changes["cash_refunded_at"] = refund.finished_at or timezone.now()
    else:
        changes = {"cash_refund_status": C.FAILED, "cash_refund_error": str(error)[:300]}
    AfterSale.objects.filter(
        pk=aftersale_id, cash_refund_status=C.PENDING, cash_refund_reference=reference
    ).update(**changes, updated_at=timezone.now())


def _refund_by_reference(reference: str):
    from jifen.payments.models import Refund

    return Refund.objects.filter(reference=reference).first()


def _cash_sync(aftersale: AfterSale) -> None:
    """Read the Refund of a pending attempt and record its outcome (payments' own job
    re-sends refunds the gateway left pending; this only reads)."""
    if aftersale.cash_refund_status != C.PENDING or not aftersale.cash_refund_reference:
        return
    refund = _refund_by_reference(aftersale.cash_refund_reference)
    if refund is not None and refund.status != "pending":
        _record_cash(aftersale.pk, aftersale.cash_refund_reference, refund)
    aftersale.refresh_from_db()


def _cash_claim(aftersale_id: int) -> str | None:
    """Decide the attempt to send, under the after-sale's row lock: the first (reference
    f"aftersale:{number}"), a new one after a failed attempt (f"aftersale:{number}:{n}"), or
    the same one again when it is pending with no Refund recorded (the step that sends it
    never finished). None when there is nothing to send."""
    with transaction.atomic():
        aftersale = AfterSale.objects.select_for_update().get(pk=aftersale_id)
        if not aftersale.cash_refund_pending:
            return None
        attempt = aftersale.cash_refund_attempts + 1
        if aftersale.cash_refund_status == C.PENDING:
            return aftersale.cash_refund_reference
        if aftersale.cash_refund_status == C.FAILED and aftersale.cash_refund_id is None:
            # No Refund was made under that reference (refused before): it may be used again.
            reference = aftersale.cash_refund_reference
        else:
            reference = f"aftersale:{aftersale.number}" + (f":{attempt}" if attempt > 1 else "")
        AfterSale.objects.filter(
            pk=aftersale.pk, cash_refund_attempts=aftersale.cash_refund_attempts
        ).update(
            cash_refund_status=C.PENDING,
            cash_refund_reference=reference,
            cash_refund_attempts=attempt,
            cash_refund_id=None,
            cash_refund_error="",
            updated_at=timezone.now(),
        )
        return reference


def _refund_cash(aftersale: AfterSale) -> None:
    """Cash back through the provider, once per attempt reference, recording the Refund's
    status (pending → succeeded | failed). A failed attempt is retried under a new
    reference by "refund now" (`aftersale_refund`) and `aftersales_cash_refunds_sync`;
    payments never refunds more than was paid. Never raises for the provider's sake: an
    error is recorded (shown to operators)."""
    _cash_sync(aftersale)
    reference = _cash_claim(aftersale.pk)
    if reference is None:
        aftersale.refresh_from_db()
        return
    try:
        refund = _payment_refund(
            order_number=aftersale.order.number,
            amount=aftersale.cash_to_refund,
            reference=reference,
            reason=_("售后退款 %(number)s") % {"number": aftersale.number},
        )
        if refund.status == "pending":
            # Submitted after payments' commit; when that was deferred (a caller's
            # transaction) ask once now: refund_submit's claim makes a second send of a
            # refund already being sent a no-op.
            from jifen.payments.services import refund_submit

            refund = refund_submit(refund_id=refund.pk)
    except Exception as error:  # noqa: BLE001 - recorded, never lost
        # The Refund may exist (created and reserved, then the gateway call broke): record
        # it, pending, rather than a failure that would invite a second payout.
        refund = _refund_by_reference(reference)
        if not isinstance(error, DomainError):
            logger.exception("cash refund %s of after-sale %s", reference, aftersale.number)
        message = error.message if isinstance(error, DomainError) else f"{type(error).__name__}"
        _record_cash(aftersale.pk, reference, refund, error=message)
    else:
        _record_cash(aftersale.pk, reference, refund)
    aftersale.refresh_from_db()


def aftersales_cash_refunds_sync(
    *, now: dt.datetime | None = None, min_age_minutes: int = 10, batch_size: int = 200
) -> int:
    """The periodic job for after-sale cash refunds untouched for `min_age_minutes`:
    pending attempts read their Refund's outcome (payments re-sends the ones the gateway
    left pending); failed ones get a new attempt, up to MAX_AUTO_CASH_ATTEMPTS (then they
    wait for an operator's "refund now"); ones never sent are sent. Returns how many it
    touched."""
    now = now or timezone.now()
    due = AfterSale.objects.filter(
        status=S.REFUNDED,
        cash_to_refund__gt=0,
        updated_at__lte=now - dt.timedelta(minutes=min_age_minutes),
    )
    ids = list(
        due.filter(
            Q(cash_refund_status__in=(C.NONE, C.PENDING))
            | Q(cash_refund_status=C.FAILED, cash_refund_attempts__lt=MAX_AUTO_CASH_ATTEMPTS)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    touched = 0
    for aftersale_id in ids:
        aftersale = AfterSale.objects.select_related("order").get(pk=aftersale_id)
        before = (aftersale.cash_refund_status, aftersale.cash_refund_attempts)
        _refund_cash(aftersale)
        touched += before != (aftersale.cash_refund_status, aftersale.cash_refund_attempts)
    return touched


@transaction.atomic
def aftersale_exchange_ship(
    *, aftersale_id: int, by, carrier: str, tracking_number: str
) -> AfterSale:
    """The replacement of a received exchange leaves (received → exchanged): the same SKU is
    reserved and sold for each line (stock_reserve + stock_commit, reference
    f"aftersale:{number}:exchange:{line_id}"), with the outgoing tracking number. OutOfStock
    when the SKU has run out (nothing changes). A repeat returns it unchanged."""
    _operator(by)
    carrier = _text(carrier, "carrier", max_length=40, required=True)
    tracking_number = _text(tracking_number, "tracking_number", max_length=40, required=True)
    aftersale = _lock(aftersale_id)
    if aftersale.status == S.EXCHANGED:
        return aftersale
    if aftersale.kind != K.EXCHANGE or aftersale.status != S.RECEIVED:
        _refuse(aftersale, S.EXCHANGED)
    lines = list(aftersale.lines.select_related("order_line").order_by("order_line__sku_id", "pk"))
    for line in lines:  # SKUs in ascending id order (the lock order)
        reference = f"aftersale:{aftersale.number}:exchange:{line.pk}"
        catalog.stock_reserve(
            sku_id=line.order_line.sku_id, quantity=line.quantity, reference=reference
        )
        catalog.stock_commit(reference=reference)
    return _move(
        aftersale,
        S.EXCHANGED,
        by=by,
        label=_actor_label(by, "operator"),
        note=f"{carrier} {tracking_number}",
        exchange_carrier=carrier,
        exchange_tracking_number=tracking_number,
    )
