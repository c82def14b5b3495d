"""Ratings and reviews (商品评价) of purchased order lines, with photos and moderation.

One review per purchased order line (a unique constraint, not a check in Python). A review
is written by the member who owns the line once the order is received (delivered or
completed), then moderated: pending → approved | rejected | hidden (and back, by an
operator). Only approved reviews are public.

`ItemRating` keeps each item's count and sum of approved ratings so the item page reads one
row. It changes only in jifen.reviews.services, by guarded F() UPDATEs made in the same
transaction as the status change that causes them (a review entering or leaving
"approved"), so it always equals the aggregate over approved reviews (checked by
`jifen.reviews.verification`).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

MAX_TEXT = 500
MAX_PHOTOS = 6


class Review(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已通过")
        REJECTED = "rejected", _("未通过")
        HIDDEN = "hidden", _("已隐藏")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name=_("会员"),
    )
    order_line = models.OneToOneField(
        "orders.OrderLine",
        on_delete=models.PROTECT,
        related_name="review",
        verbose_name=_("订单商品"),
    )
    item = models.ForeignKey(
        "catalog.Item", on_delete=models.PROTECT, related_name="reviews", verbose_name=_("商品")
    )
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.PROTECT, related_name="reviews", verbose_name=_("SKU")
    )
    rating = models.PositiveSmallIntegerField(_("评分"))
    text = models.TextField(_("评价内容"), max_length=MAX_TEXT, blank=True)
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    moderation_note = models.CharField(_("审核备注"), max_length=200, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审核人"),
    )
    moderated_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    # Set the first time the review is approved (the public date; "review_posted" fires once).
    approved_at = models.DateTimeField(_("首次通过时间"), null=True, blank=True)
    helpful_count = models.PositiveIntegerField(_("有用数"), default=0)
    created_at = models.DateTimeField(_("评价时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("商品评价")
        verbose_name_plural = _("商品评价")
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["item", "status", "-created_at"], name="review_item_public"),
            models.Index(fields=["status", "created_at"], name="review_queue"),
            models.Index(fields=["member", "-created_at"], name="review_member"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_5"
            ),
            models.CheckConstraint(condition=Q(helpful_count__gte=0), name="review_helpful_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} ★{self.rating} #{self.pk}"

    @property
    def stars(self) -> range:
        return range(self.rating)


def _photo_path(instance, filename: str) -> str:
    return f"reviews/{instance.review_id}/{filename}"


class ReviewPhoto(models.Model):
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="photos", verbose_name=_("评价")
    )
    image = models.ImageField(_("图片"), upload_to=_photo_path, max_length=200)
    thumbnail = models.ImageField(_("缩略图"), upload_to=_photo_path, max_length=200, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("评价图片")
        verbose_name_plural = _("评价图片")
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.image.name


class ReviewHelpful(models.Model):
    """A member found a review helpful: once per (member, review), by the unique pair."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("会员")
    )
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="helpful_marks", verbose_name=_("评价")
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("评价点赞")
        verbose_name_plural = _("评价点赞")
        constraints = [
            models.UniqueConstraint(fields=["member", "review"], name="reviewhelpful_once"),
        ]


class ItemRating(models.Model):
    """The approved reviews of an item: how many, the sum of their ratings and how many of
    each star (1–5). Kept by the moderation service only; see the module docstring."""

    item = models.OneToOneField(
        "catalog.Item",
        on_delete=models.CASCADE,
        related_name="rating",
        primary_key=True,
        verbose_name=_("商品"),
    )
    count = models.PositiveIntegerField(_("评价数"), default=0)
    total = models.PositiveIntegerField(_("评分合计"), default=0)
    stars_1 = models.PositiveIntegerField(default=0)
    stars_2 = models.PositiveIntegerField(default=0)
    stars_3 = models.PositiveIntegerField(default=0)
    stars_4 = models.PositiveIntegerField(default=0)
    stars_5 = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("商品评分")
        verbose_name_plural = _("商品评分")
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=0), name="itemrating_count_gte_0"),
            models.CheckConstraint(
                condition=Q(total__gte=F("count")) & Q(total__lte=F("count") * 5),
                name="itemrating_total_in_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    count=F("stars_1") + F("stars_2") + F("stars_3") + F("stars_4") + F("stars_5")
                ),
                name="itemrating_stars_sum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.count}"

    @property
    def average(self) -> float:
        return round(self.total / self.count, 1) if self.count else 0.0
