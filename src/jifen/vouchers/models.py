"""Virtual goods and coupons (卡券): code pools and "my coupons and cards" (我的卡券).

- A `CodePool` holds the codes of one SKU whose item is fulfilled by "code" (卡密). Its
  codes are stock: importing N new codes adds N units to the SKU by
  `catalog.services.stock_adjust(kind="received")`, so a reserved unit always has a code
  waiting. A `PoolCode` goes available → issued (to exactly one `MemberVoucher`, claimed by
  a guarded UPDATE) or available → revoked; it never goes back.
- A `MemberVoucher` is what a member owns after redeeming: a card code, a link, a coupon or
  a service voucher, with its validity. unused → used | expired | revoked, each by a guarded
  UPDATE from "unused". Vouchers of one fulfilment share an `issue_reference` (the order
  line's reference); (issue_reference, index) is unique, so issuing twice is impossible.
- `LowPoolAlert`: available codes fell to the pool's threshold, one open alert per crossing.

Codes are stored as issued (not hashed): their owner must be able to read them again. The
back-office shows them masked (last 4 characters).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CodePool(models.Model):
    """The card codes (卡密) of one SKU."""

    sku = models.OneToOneField(
        "catalog.Sku", on_delete=models.PROTECT, related_name="code_pool", verbose_name=_("SKU")
    )
    name = models.CharField(_("名称"), max_length=80, blank=True)
    low_pool_threshold = models.PositiveIntegerField(
        _("低库存提醒"), default=0, help_text=_("可用卡密不多于此数时提醒；0 为不提醒")
    )
    # Codes with status "available", kept by guarded UPDATEs in the same transaction as the
    # codes change (import: +n; issue: -n WHERE available >= n). Issuing locks this row, so
    # the low-pool check after it reads a current count.
    available = models.PositiveIntegerField(_("可用卡密"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("卡密池")
        verbose_name_plural = _("卡密池")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="codepool_available_gte_0")
        ]

    def __str__(self) -> str:
        return self.name or str(self.sku)


class PoolCode(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", _("可用")
        ISSUED = "issued", _("已发放")
        REVOKED = "revoked", _("已作废")

    pool = models.ForeignKey(
        CodePool, on_delete=models.PROTECT, related_name="codes", verbose_name=_("卡密池")
    )
    code = models.CharField(_("卡密"), max_length=100)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.AVAILABLE
    )
    issued_to = models.OneToOneField(
        "vouchers.MemberVoucher",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pool_code",
        verbose_name=_("发放给"),
    )
    code_import = models.ForeignKey(
        "vouchers.CodeImport",
        on_delete=models.PROTECT,
        related_name="codes",
        verbose_name=_("导入批次"),
    )
    issued_at = models.DateTimeField(_("发放时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("卡密")
        verbose_name_plural = _("卡密")
        ordering = ["pk"]
        indexes = [models.Index(fields=["pool", "status"], name="poolcode_pool_status")]
        constraints = [
            models.UniqueConstraint(fields=["pool", "code"], name="poolcode_pool_code_unique"),
            # The claim (available → issued) comes first, its voucher a moment later in the
            # same transaction; only an issued code may point at a voucher.
            models.CheckConstraint(
                condition=Q(issued_to__isnull=True) | Q(status="issued"),
                name="poolcode_voucher_only_when_issued",
            ),
        ]

    def __str__(self) -> str:
        return mask(self.code)


def mask(code: str) -> str:
    """The code as operators see it: all but the last 4 characters hidden."""
    if len(code) <= 4:
        return "•" * len(code)
    return "•" * min(len(code) - 4, 8) + code[-4:]


class CodeImport(models.Model):
    """One CSV (or pasted text) imported into a pool: how many codes were new, how many
    were already there (or repeated in the file). Imports with an invalid line are refused
    whole, so `invalid` is the count of blank lines skipped."""

    pool = models.ForeignKey(
        CodePool, on_delete=models.PROTECT, related_name="imports", verbose_name=_("卡密池")
    )
    file_name = models.CharField(_("文件名"), max_length=200, blank=True)
    imported = models.PositiveIntegerField(_("导入"), default=0)
    duplicates = models.PositiveIntegerField(_("重复"), default=0)
    invalid = models.PositiveIntegerField(_("空行"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("卡密导入")
        verbose_name_plural = _("卡密导入")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.file_name or self.pk} (+{self.imported})"

    @property
    def stock_reference(self) -> str:
        return f"codeimport:{self.pk}"


class MemberVoucher(models.Model):
    """A card, link, coupon or service voucher a member owns (我的卡券)."""

    class Kind(models.TextChoices):
        CODE = "code", _("卡密")
        LINK = "link", _("兑换链接")
        COUPON = "coupon", _("优惠券")
        VOUCHER = "voucher", _("服务凭证")

    class Status(models.TextChoices):
        UNUSED = "unused", _("未使用")
        USED = "used", _("已使用")
        EXPIRED = "expired", _("已过期")
        REVOKED = "revoked", _("已作废")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="vouchers",
        verbose_name=_("会员"),
    )
    item = models.ForeignKey(
        "catalog.Item", on_delete=models.PROTECT, related_name="+", verbose_name=_("商品")
    )
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU")
    )
    item_name = models.CharField(_("商品名称"), max_length=80)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    code = models.CharField(_("券码"), max_length=100, blank=True)
    link = models.URLField(_("兑换链接"), blank=True)
    value = models.DecimalField(_("面额"), max_digits=10, decimal_places=2, null=True, blank=True)
    threshold = models.DecimalField(
        _("使用门槛"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    valid_from = models.DateTimeField(_("生效时间"))
    valid_until = models.DateTimeField(_("有效期至"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.UNUSED
    )
    issue_reference = models.CharField(_("发放单号"), max_length=100)
    index = models.PositiveIntegerField(_("序号"))
    # The orders app's line, by id only: vouchers stay independent of orders.
    order_line_id = models.BigIntegerField(_("订单行"), null=True, blank=True, db_index=True)
    used_at = models.DateTimeField(_("使用时间"), null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("核销人"),
    )
    used_note = models.CharField(_("核销说明"), max_length=200, blank=True)
    # Who redeemed it and for what (the shop's order number): a retry of that redemption is a
    # replay; any other redemption of a used voucher is refused (services.voucher_mark_used).
    used_client = models.ForeignKey(
        "integrations.ApiClient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("核销系统"),
    )
    used_reference = models.CharField(_("核销单号"), max_length=100, blank=True)
    revoked_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    revoke_reason = models.CharField(_("作废原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("发放时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("会员卡券")
        verbose_name_plural = _("会员卡券")
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["member", "status", "-id"], name="voucher_member_status"),
            models.Index(fields=["status", "valid_until"], name="voucher_status_expiry"),
            models.Index(fields=["code"], name="voucher_code"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["issue_reference", "index"], name="voucher_reference_index_unique"
            ),
            # Generated codes are looked up by the shop when redeemed: unique among them.
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(kind__in=["coupon", "voucher"]),
                name="voucher_generated_code_unique",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="voucher_valid_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_name} {mask(self.code) if self.code else ''}".strip()

    @property
    def is_past_validity(self) -> bool:
        return self.valid_until is not None and self.valid_until <= timezone.now()

    @property
    def display_status(self) -> str:
        """The status a member sees: an unused voucher past its validity is expired even
        before the expiry job has marked it."""
        if self.status == self.Status.UNUSED and self.is_past_validity:
            return self.Status.EXPIRED
        return self.status

    @property
    def display_status_label(self) -> str:
        return self.Status(self.display_status).label


class LowPoolAlert(models.Model):
    """A pool's available codes fell to its threshold: one open alert per crossing, resolved
    when an import lifts them above it again (like catalog.LowStockAlert)."""

    pool = models.ForeignKey(
        CodePool, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("卡密池")
    )
    available = models.PositiveIntegerField(_("触发时可用"))
    threshold = models.PositiveIntegerField(_("提醒阈值"))
    created_at = models.DateTimeField(_("提醒时间"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("解除时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("卡密不足提醒")
        verbose_name_plural = _("卡密不足提醒")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["pool"], condition=Q(resolved_at__isnull=True), name="lowpool_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pool} ≤ {self.threshold}"
