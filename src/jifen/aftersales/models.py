"""After-sales: a member's request to refund, return or exchange lines of a paid order.

An after-sale moves through a small transition table (services.TRANSITIONS); every move
writes an AfterSaleEvent. Amounts to refund are fixed when the request is made, from the
order lines' unit prices (docs/aftersales.md); the refund itself goes through the ledger
(points, original expiry kept), payments (cash) and catalog (stock).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AfterSale(models.Model):
    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", _("仅退款")
        RETURN_REFUND = "return_refund", _("退货退款")
        EXCHANGE = "exchange", _("换货")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待审核")
        APPROVED = "approved", _("已同意")
        REJECTED = "rejected", _("已拒绝")
        AWAITING_RETURN = "awaiting_return", _("退货寄回中")
        RECEIVED = "received", _("已收到退货")
        REFUNDED = "refunded", _("已退款")
        EXCHANGED = "exchanged", _("已换货")
        CANCELLED = "cancelled", _("已撤销")

    class Reason(models.TextChoices):
        NOT_WANTED = "not_wanted", _("不想要了")
        DAMAGED = "damaged", _("商品破损")
        WRONG_ITEM = "wrong_item", _("发错货")
        QUALITY = "quality", _("质量问题")
        NOT_AS_DESCRIBED = "not_as_described", _("与描述不符")
        NOT_RECEIVED = "not_received", _("未收到货")
        OTHER = "other", _("其他")

    class CashRefund(models.TextChoices):
        NONE = "", _("未发起")
        PENDING = "pending", _("退款中")
        SUCCEEDED = "succeeded", _("已退款")
        FAILED = "failed", _("退款失败")

    number = models.CharField(_("售后单号"), max_length=20, unique=True)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        related_name="aftersales",
        verbose_name=_("订单"),
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="aftersales",
        verbose_name=_("会员"),
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    reason = models.CharField(_("原因"), max_length=20, choices=Reason.choices)
    reason_text = models.CharField(_("问题描述"), max_length=500, blank=True)
    # The member's retry key (Idempotency-Key or the form's token): one request per key.
    request_reference = models.CharField(max_length=200, unique=True, null=True, blank=True)

    points_to_refund = models.BigIntegerField(_("应退积分"), default=0)
    cash_to_refund = models.DecimalField(
        _("应退金额"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    shipping_refund = models.DecimalField(
        _("退运费"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    # Refund-only of goods not yet shipped: the units never left, so they go back to stock.
    restock_on_refund = models.BooleanField(_("退款时回库"), default=False)

    return_carrier = models.CharField(_("退货快递公司"), max_length=40, blank=True)
    return_tracking_number = models.CharField(_("退货运单号"), max_length=40, blank=True)
    return_shipped_at = models.DateTimeField(_("退货寄出时间"), null=True, blank=True)
    received_at = models.DateTimeField(_("收货时间"), null=True, blank=True)

    exchange_carrier = models.CharField(_("换货快递公司"), max_length=40, blank=True)
    exchange_tracking_number = models.CharField(_("换货运单号"), max_length=40, blank=True)
    exchanged_at = models.DateTimeField(_("换货发出时间"), null=True, blank=True)

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审核人"),
    )
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_note = models.CharField(_("审核意见"), max_length=500, blank=True)

    refund_transaction = models.ForeignKey(
        "ledger.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("积分退还交易"),
    )
    refunded_at = models.DateTimeField(_("退款时间"), null=True, blank=True)
    # The cash leaves after the ledger and stock are settled (no lock held over the
    # provider call). `cash_refund_status` mirrors the payments Refund of the current
    # attempt (`cash_refund_reference`): "" not sent yet, pending, succeeded, failed. A
    # failed attempt is final for its reference: "refund now" and the periodic job start a
    # new one (f"aftersale:{number}:{attempt}").
    cash_refund_status = models.CharField(
        _("现金退款状态"), max_length=10, choices=CashRefund.choices, blank=True, default=""
    )
    cash_refund_reference = models.CharField(_("现金退款单号"), max_length=100, blank=True)
    cash_refund_attempts = models.PositiveSmallIntegerField(_("现金退款尝试次数"), default=0)
    cash_refund_id = models.BigIntegerField(_("现金退款单"), null=True, blank=True)
    cash_refunded_at = models.DateTimeField(_("现金退款时间"), null=True, blank=True)
    cash_refund_error = models.CharField(_("现金退款失败原因"), max_length=300, blank=True)
    cancelled_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("售后单")
        verbose_name_plural = _("售后单")
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(fields=["status", "created_at"], name="aftersale_status_idx"),
            models.Index(fields=["member", "created_at"], name="aftersale_member_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_to_refund__gte=0), name="aftersale_points_gte_0"
            ),
            models.CheckConstraint(condition=Q(cash_to_refund__gte=0), name="aftersale_cash_gte_0"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def cash_refund_pending(self) -> bool:
        """The cash still has to be (re)sent: refunded locally, money owed, and no attempt
        that is running or succeeded (not sent yet, failed, or pending with no Refund)."""
        return (
            self.status == self.Status.REFUNDED
            and self.cash_to_refund > 0
            and (
                self.cash_refund_status in ("", self.CashRefund.FAILED)
                or (self.cash_refund_status == self.CashRefund.PENDING and not self.cash_refund_id)
            )
        )


OPEN_STATUSES = (
    AfterSale.Status.REQUESTED,
    AfterSale.Status.APPROVED,
    AfterSale.Status.AWAITING_RETURN,
    AfterSale.Status.RECEIVED,
)
# Quantities these after-sales hold on their order lines (exchanged ones give them back:
# the replacement may itself be returned).
TAKING_STATUSES = (*OPEN_STATUSES, AfterSale.Status.REFUNDED)


class AfterSaleLine(models.Model):
    aftersale = models.ForeignKey(
        AfterSale, on_delete=models.CASCADE, related_name="lines", verbose_name=_("售后单")
    )
    order_line = models.ForeignKey(
        "orders.OrderLine",
        on_delete=models.PROTECT,
        related_name="aftersale_lines",
        verbose_name=_("订单行"),
    )
    quantity = models.PositiveIntegerField(_("数量"))
    points = models.BigIntegerField(_("积分"), default=0)
    cash = models.DecimalField(_("金额"), max_digits=12, decimal_places=2, default=Decimal("0"))
    restocked = models.PositiveIntegerField(_("已回库"), default=0)

    class Meta:
        verbose_name = _("售后商品")
        verbose_name_plural = _("售后商品")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="aftersale_line_qty_gt_0"),
            models.UniqueConstraint(fields=["aftersale", "order_line"], name="aftersale_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.aftersale_id}:{self.order_line_id}×{self.quantity}"


def _photo_path(instance, filename: str) -> str:
    return f"aftersales/{instance.aftersale.created_at:%Y/%m}/{filename}"


class AfterSalePhoto(models.Model):
    aftersale = models.ForeignKey(
        AfterSale, on_delete=models.CASCADE, related_name="photos", verbose_name=_("售后单")
    )
    image = models.ImageField(_("图片"), upload_to=_photo_path, max_length=200)
    thumbnail = models.ImageField(_("缩略图"), upload_to=_photo_path, max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("售后图片")
        verbose_name_plural = _("售后图片")
        ordering = ("pk",)


class AfterSaleEvent(models.Model):
    aftersale = models.ForeignKey(
        AfterSale, on_delete=models.CASCADE, related_name="events", verbose_name=_("售后单")
    )
    from_status = models.CharField(_("原状态"), max_length=16, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, choices=AfterSale.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_label = models.CharField(_("操作方"), max_length=40, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("售后记录")
        verbose_name_plural = _("售后记录")
        ordering = ("created_at", "pk")

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"
