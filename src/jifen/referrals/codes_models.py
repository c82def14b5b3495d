"""Product codes (一物一码): batches of unguessable codes printed on goods.

Defined here and imported by jifen.referrals.models (Django finds an app's models there).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CodeBatch(models.Model):
    """A batch of product codes printed on goods, each worth `points`.

    The codes themselves are not stored: each is derived from the batch's random `seed`
    and its serial number with an HMAC keyed by settings.JIFEN_CODES_SECRET (SECRET_KEY by
    default), and only its SHA-256 is kept, so a copy of the database reveals no usable
    code. The CSV export derives them again.
    """

    name = models.CharField(_("批次名称"), max_length=100)
    points = models.PositiveIntegerField(_("每码积分"))
    quantity = models.PositiveIntegerField(_("数量"))
    valid_from = models.DateField(_("生效日"))
    valid_until = models.DateField(_("截止日"), help_text=_("含当天（业务日）"))
    seed = models.CharField(max_length=64, editable=False)
    is_void = models.BooleanField(_("已作废"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("商品码批次")
        verbose_name_plural = _("商品码批次")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("valid_from")),
                name="code_batch_dates_ordered",
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="code_batch_points_gt_0"),
        ]

    def __str__(self) -> str:
        return self.name


class ProductCode(models.Model):
    """One printed code. Redeemed once: a guarded UPDATE sets `redeemed_by` where it is NULL."""

    batch = models.ForeignKey(
        CodeBatch, on_delete=models.PROTECT, related_name="codes", verbose_name=_("批次")
    )
    serial = models.PositiveIntegerField(_("序号"))
    code_hash = models.CharField(max_length=64, unique=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("兑换会员"),
    )
    redeemed_at = models.DateTimeField(_("兑换时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("商品码")
        verbose_name_plural = _("商品码")
        constraints = [
            models.UniqueConstraint(fields=["batch", "serial"], name="product_code_serial_unique")
        ]
        indexes = [
            models.Index(fields=["redeemed_by", "-redeemed_at"], name="product_code_member_idx"),
            # Counting a batch's redeemed codes reads only the redeemed ones (a per-batch
            # counter column would make every redemption of a promotion queue on one row).
            models.Index(
                fields=["batch"],
                condition=Q(redeemed_by__isnull=False),
                name="product_code_redeemed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}-{self.serial:06d}"
