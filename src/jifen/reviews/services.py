"""Writes for reviews: submit, moderate, mark helpful (docs/reviews.md).

- `review_submit`: the member who owns an order line reviews it once the order is received
  (delivered or completed). One review per line, kept by the unique order_line column: a
  second submission is Conflict `review_exists` and changes nothing.
- `review_moderate`: an operator approves, rejects or hides a review, with a note. Moving
  to the status it already has changes nothing (retries are harmless). The item's
  `ItemRating` changes in the same transaction, by guarded F() UPDATEs, exactly when the
  review enters or leaves "approved", so it always equals the approved reviews' aggregate.
- `review_mark_helpful`: once per (member, review), by the unique pair; the review's
  `helpful_count` rises by one F() UPDATE only when the mark is new.

With JIFEN_REVIEWS_PREMODERATED (default True) a new review waits for an operator;
without it, a review is approved (and counted) as it is submitted.

The first approval of a review reports the member action "review_posted" (with
`has_photo`) to the engagement tasks, once per review (its reference is the review).

Errors: ValidationFailed, NotFound, Conflict, PermissionDenied (jifen.core.errors).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jifen.reviews.models import (
    MAX_PHOTOS,
    MAX_TEXT,
    ItemRating,
    Review,
    ReviewHelpful,
    ReviewPhoto,
)

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_SIDE = 6000
THUMBNAIL_SIZE = (240, 240)
PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# Orders whose goods the member has received (orders.Order.Status values).
RECEIVED_STATUSES = ("delivered", "completed")
ACTIONS = {
    "approve": Review.Status.APPROVED,
    "reject": Review.Status.REJECTED,
    "hide": Review.Status.HIDDEN,
}
MAX_NOTE = 200


def reviews_premoderated() -> bool:
    return bool(getattr(settings, "JIFEN_REVIEWS_PREMODERATED", True))


# --- validation -------------------------------------------------------------------------------


def _valid_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63


def _rating(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationFailed(
            _("请选择 1 到 5 星评分。"), code="invalid_rating", fields={"rating": str(value)}
        )
    return value


def _text(value) -> str:
    value = "" if value is None else value
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationFailed(_("评价内容无效。"), code="invalid_text", fields={"text": "text"})
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise ValidationFailed(
            _("评价内容不能超过 %(n)s 个字。") % {"n": MAX_TEXT},
            code="invalid_text",
            fields={"text": f"<= {MAX_TEXT}"},
        )
    return value


class _Photo:
    """A decoded, checked upload: its bytes, extension and thumbnail."""

    def __init__(self, content: bytes, extension: str, thumbnail: bytes):
        self.content, self.extension, self.thumbnail = content, extension, thumbnail


def _thumbnail(image) -> bytes:
    from PIL import ImageOps

    thumb = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def photos_validate(photos: Sequence[tuple[str, bytes]] | None) -> list[_Photo]:
    """Check uploads, all before anything is stored: at most 6, each a JPEG, PNG or WebP
    image (decoded by Pillow, not trusted by its name) up to 5 MB and 6000 px a side.
    ValidationFailed `too_many_photos` / `invalid_photo` (fields name the file)."""
    from PIL import Image, UnidentifiedImageError

    photos = list(photos or [])
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(
            _("最多上传 %(n)s 张图片。") % {"n": MAX_PHOTOS},
            code="too_many_photos",
            fields={"photos": f"<= {MAX_PHOTOS}"},
        )
    checked = []
    for filename, content in photos:
        if not isinstance(content, bytes | bytearray) or not content:
            raise ValidationFailed(
                _("图片不能为空。"), code="invalid_photo", fields={"photos": str(filename)}
            )
        if len(content) > MAX_PHOTO_BYTES:
            raise ValidationFailed(
                _("每张图片须小于 5 MB。"), code="photo_too_large", fields={"photos": str(filename)}
            )
        try:
            with Image.open(io.BytesIO(content)) as probe:
                probe.verify()
            image = Image.open(io.BytesIO(content))
            if max(image.size) > MAX_PHOTO_SIDE:
                image = None
            else:
                image.load()
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
        ):
            image = None
        if image is None or image.format not in PHOTO_FORMATS:
            raise ValidationFailed(
                _("请上传 JPEG、PNG 或 WebP 图片（每边不超过 6000 像素）。"),
                code="invalid_photo",
                fields={"photos": str(filename)},
            )
        checked.append(_Photo(bytes(content), PHOTO_FORMATS[image.format], _thumbnail(image)))
    return checked


def _store_photos(review: Review, photos: list[_Photo]) -> None:
    for n, photo in enumerate(photos):
        stem = uuid.uuid4().hex[:12]
        row = ReviewPhoto(review=review, sort_order=n)
        row.image.save(f"{stem}.{photo.extension}", ContentFile(photo.content), save=False)
        row.thumbnail.save(f"{stem}-thumb.jpg", ContentFile(photo.thumbnail), save=False)
        row.save()


# --- aggregates -------------------------------------------------------------------------------


def _rating_add(*, item_id: int, rating: int, sign: int) -> None:
    """Count (sign=+1) or uncount (sign=-1) one approved rating on the item's aggregate, by
    one guarded UPDATE. Called only inside the transaction that moves the review into or
    out of "approved" while its row is locked, so each review is counted at most once."""
    stars = f"stars_{rating}"
    if sign > 0:
        # The row exists once per item; a concurrent first review may create it too.
        ItemRating.objects.bulk_create([ItemRating(item_id=item_id)], ignore_conflicts=True)
        changed = ItemRating.objects.filter(item_id=item_id).update(
            count=F("count") + 1, total=F("total") + rating, **{stars: F(stars) + 1}
        )
    else:
        changed = ItemRating.objects.filter(
            item_id=item_id, count__gte=1, total__gte=rating, **{f"{stars}__gte": 1}
        ).update(count=F("count") - 1, total=F("total") - rating, **{stars: F(stars) - 1})
    if changed != 1:  # the aggregate disagrees with the reviews: never paper over it
        raise Conflict(_("商品评分统计不一致。"), code="rating_out_of_sync")


def _posted(review: Review, has_photo: bool) -> None:
    """Report the first approval to the engagement tasks ("发布带图评价"), once per review."""
    from jifen.engagement.services import task_action_record

    task_action_record(
        member_id=review.member_id,
        action="review_posted",
        reference=f"review:{review.pk}",
        details={"has_photo": has_photo, "rating": review.rating, "item_id": review.item_id},
    )


# --- submit -----------------------------------------------------------------------------------


@transaction.atomic
def review_submit(
    *,
    member_id: int,
    order_line_id: int,
    rating: int,
    text: str = "",
    is_anonymous: bool = False,
    photos: Sequence[tuple[str, bytes]] | None = None,
) -> Review:
    """Review a purchased order line: `rating` 1–5, `text` up to 500 characters, up to six
    photos as (filename, bytes).

    The line must belong to one of the member's orders (NotFound `order_line_not_found`
    otherwise — another member's line looks like no line), and that order must be received
    (delivered or completed: Conflict `order_not_received`). One review per line: Conflict
    `review_exists`. Input is checked before anything is written; on any error nothing
    changes. Pending until approved when reviews are premoderated, else approved at once.
    """
    from jifen.orders.models import OrderLine

    rating = _rating(rating)
    text = _text(text)
    if not isinstance(is_anonymous, bool):
        raise ValidationFailed(code="invalid_anonymous", fields={"is_anonymous": "boolean"})
    checked = photos_validate(photos)
    line = (
        OrderLine.objects.select_related("order")
        .filter(pk=order_line_id, order__member_id=member_id)
        .first()
        if _valid_id(order_line_id)
        else None
    )
    if line is None:
        raise NotFound(
            _("找不到这件订单商品。"),
            code="order_line_not_found",
            fields={"order_line_id": str(order_line_id)},
        )
    if line.order.status not in RECEIVED_STATUSES:
        raise Conflict(
            _("确认收货后才能评价。"),
            code="order_not_received",
            fields={"status": line.order.status},
        )
    if Review.objects.filter(order_line_id=line.pk).exists():
        raise Conflict(_("这件商品已经评价过了。"), code="review_exists")
    approve_now = not reviews_premoderated()
    now = timezone.now()
    try:
        with transaction.atomic():
            review = Review.objects.create(
                member_id=member_id,
                order_line_id=line.pk,
                item_id=line.item_id,
                sku_id=line.sku_id,
                rating=rating,
                text=text,
                is_anonymous=is_anonymous,
                status=Review.Status.APPROVED if approve_now else Review.Status.PENDING,
                approved_at=now if approve_now else None,
            )
    except IntegrityError as error:  # a concurrent submission for the same line won
        raise Conflict(_("这件商品已经评价过了。"), code="review_exists") from error
    _store_photos(review, checked)
    if approve_now:
        _rating_add(item_id=review.item_id, rating=review.rating, sign=+1)
        _posted(review, bool(checked))
    return review


# --- moderation -------------------------------------------------------------------------------


@transaction.atomic
def review_moderate(*, review_id: int, action: str, by, note: str = "") -> Review:
    """Approve, reject or hide a review (`action` "approve" | "reject" | "hide") with an
    optional note (up to 200 characters). Operators (staff) only: PermissionDenied
    `not_operator`.

    The review row is locked for the change; the item's aggregate moves by one guarded
    UPDATE when the review enters or leaves "approved" (a hidden review, approved again,
    counts again — once). Asking for the status it already has changes nothing and returns
    the review (a double click, a retried request). The first approval reports
    "review_posted" to the engagement tasks. Errors: ValidationFailed `invalid_action` /
    `invalid_note`, NotFound `review_not_found`.
    """
    if by is None or not getattr(by, "is_staff", False) or not by.is_active:
        raise PermissionDenied(_("只有运营人员可以审核评价。"), code="not_operator")
    target = ACTIONS.get(action) if isinstance(action, str) else None
    if target is None:
        raise ValidationFailed(
            _("审核操作无效。"), code="invalid_action", fields={"action": "approve|reject|hide"}
        )
    if not isinstance(note, str) or "\x00" in note or len(note.strip()) > MAX_NOTE:
        raise ValidationFailed(
            _("审核备注不能超过 %(n)s 个字。") % {"n": MAX_NOTE},
            code="invalid_note",
            fields={"note": f"<= {MAX_NOTE}"},
        )
    review = (
        Review.objects.select_for_update().filter(pk=review_id).first()
        if _valid_id(review_id)
        else None
    )
    if review is None:
        raise NotFound(_("评价不存在。"), code="review_not_found")
    if review.status == target:
        return review
    was_approved = review.status == Review.Status.APPROVED
    now = timezone.now()
    first_approval = target == Review.Status.APPROVED and review.approved_at is None
    review.status = target
    review.moderation_note = note.strip()
    review.moderated_by = by
    review.moderated_at = now
    fields = ["status", "moderation_note", "moderated_by", "moderated_at"]
    if first_approval:
        review.approved_at = now
        fields.append("approved_at")
    review.save(update_fields=fields)
    if was_approved:
        _rating_add(item_id=review.item_id, rating=review.rating, sign=-1)
    elif target == Review.Status.APPROVED:
        _rating_add(item_id=review.item_id, rating=review.rating, sign=+1)
    if first_approval:
        _posted(review, review.photos.exists())
    return review


def review_moderate_many(*, review_ids: Iterable[int], action: str, by, note: str = "") -> int:
    """Moderate several reviews (the back-office's bulk approve), each in its own
    transaction so one bad row does not undo the others. Returns how many changed status;
    reviews already in the target status count as unchanged."""
    changed = 0
    for review_id in sorted(set(review_ids)):  # ascending ids: one lock order for everyone
        before = Review.objects.filter(pk=review_id).values_list("status", flat=True).first()
        review = review_moderate(review_id=review_id, action=action, by=by, note=note)
        if before is not None and before != review.status:
            changed += 1
    return changed


# --- helpful ----------------------------------------------------------------------------------


@transaction.atomic
def review_mark_helpful(*, member_id: int, review_id: int) -> bool:
    """The member finds an approved review helpful. Once per member: a repeat changes
    nothing and returns False; a new mark adds one to `helpful_count` and returns True.
    NotFound `review_not_found` unless the review is approved; Conflict `own_review` for
    the author's own review."""
    review = (
        Review.objects.filter(pk=review_id, status=Review.Status.APPROVED)
        .values("pk", "member_id")
        .first()
        if _valid_id(review_id)
        else None
    )
    if review is None:
        raise NotFound(_("评价不存在。"), code="review_not_found")
    if review["member_id"] == member_id:
        raise Conflict(_("不能给自己的评价点赞。"), code="own_review")
    try:
        with transaction.atomic():
            ReviewHelpful.objects.create(member_id=member_id, review_id=review_id)
    except IntegrityError:
        return False  # marked before (or by a concurrent request): count once
    Review.objects.filter(pk=review_id).update(helpful_count=F("helpful_count") + 1)
    return True
