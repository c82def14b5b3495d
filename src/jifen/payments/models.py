"""Cash payments (支付) for the mall's points + cash prices, and their refunds.

A Payment is what one business object (its `purpose` and `reference`, e.g. an order number
under purpose "order") asks a provider to collect. It is created once per (purpose,
reference), paid only by a signature-checked provider callback, and refunded only through
the provider. `number` is our merchant order number at the gateway (out_trade_no).

Status moves, each by one guarded UPDATE in jifen.payments.services:

    created → paid | closed;  closed → paid (money arrived for a dead payment: refunded in full
    at once);  paid → partially_refunded → refunded.

`refunded_amount` counts refunds reserved or done (pending + succeeded): it only changes by
guarded UPDATEs and a CHECK keeps it within 0..amount, so refunds never exceed what was paid.
Rows are never edited by the admin: it is read-only and its actions call the services.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Payment(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("待支付")
        PAID = "paid", _("已支付")
        CLOSED = "closed", _("已关闭")
        REFUNDED = "refunded", _("已退款")
        PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")

    number = models.CharField(_("支付单号"), max_length=32, unique=True)
    purpose = models.CharField(_("用途"), max_length=40)
    reference = models.CharField(_("业务单号"), max_length=100)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("会员"),
    )
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("币种"), max_length=3)
    refunded_amount = models.DecimalField(
        _("已退金额"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    provider = models.CharField(_("支付渠道"), max_length=20)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True
    )
    provider_trade_no = models.CharField(_("渠道交易号"), max_length=64, blank=True, db_index=True)
    description = models.CharField(_("商品描述"), max_length=128)
    return_url = models.CharField(_("支付后返回地址"), max_length=500)
    # What a real provider returns when the payment is created (prepay id, code URL, ...).
    provider_data = models.JSONField(_("渠道数据"), default=dict, blank=True)
    callback_body = models.TextField(_("支付回调原文"), blank=True)
    expires_at = models.DateTimeField(_("支付截止时间"), null=True, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("支付单")
        verbose_name_plural = _("支付单")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "reference"], name="payment_once_per_ref"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payment_refunds_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["member", "-created_at"], name="payment_member_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def refundable_amount(self) -> Decimal:
        return self.amount - self.refunded_amount


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("处理中")
        SUCCEEDED = "succeeded", _("退款成功")
        FAILED = "failed", _("退款失败")

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("支付单")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payment_refunds",
        verbose_name=_("会员"),
    )
    reference = models.CharField(_("退款单号"), max_length=100, unique=True)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    provider_refund_no = models.CharField(_("渠道退款号"), max_length=64, blank=True)
    reason = models.CharField(_("原因"), max_length=200)
    failure = models.CharField(_("失败原因"), max_length=200, blank=True)
    # The claim of whoever is talking to the gateway about this refund (refund_submit):
    # a guarded UPDATE sets it, so two submitters never call the gateway at once; a claim
    # older than REFUND_CLAIM_MINUTES is stale and may be taken again.
    submitting_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submit_attempts = models.PositiveSmallIntegerField(_("提交次数"), default=0)
    # The gateway said "failed" for a refund that may already have gone through (a resend)
    # and cannot be asked: the amount stays reserved until an operator settles it.
    needs_attention = models.BooleanField(_("需人工核对"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("退款")
        verbose_name_plural = _("退款")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.reference


class PaymentCallback(models.Model):
    """Every callback a provider sent, verified or not, and what it did: for operators."""

    class Result(models.TextChoices):
        PAID = "paid", _("已入账")
        PAID_REJECTED = "paid_rejected", _("已入账，业务拒绝，全额退款")
        PAID_AFTER_CLOSE = "paid_after_close", _("关闭后到账，全额退款")
        REPLAY = "replay", _("重复通知，已忽略")
        CONFLICTING_REPLAY = "conflicting_replay", _("重复通知但交易号不符，未确认")
        IGNORED = "ignored", _("非支付成功通知，已忽略")
        BAD_SIGNATURE = "bad_signature", _("签名错误")
        MALFORMED = "malformed", _("报文格式错误")
        UNKNOWN_PAYMENT = "unknown_payment", _("支付单不存在")
        AMOUNT_MISMATCH = "amount_mismatch", _("金额或币种不符")
        ERROR = "error", _("处理出错")

    provider = models.CharField(_("支付渠道"), max_length=20)
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="callbacks",
        verbose_name=_("支付单"),
    )
    body = models.TextField(_("报文"), blank=True)
    headers = models.JSONField(_("请求头"), default=dict, blank=True)
    signature_ok = models.BooleanField(_("签名有效"), default=False)
    result = models.CharField(_("处理结果"), max_length=20, choices=Result.choices)
    message = models.CharField(_("说明"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("支付回调")
        verbose_name_plural = _("支付回调")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.provider} #{self.pk}"


class SandboxTrade(models.Model):
    """The sandbox gateway's own book: one trade per payment the member confirmed on the
    sandbox page. It is what a real gateway would keep on its side; callbacks (and resent
    callbacks) are built from it. Not a real gateway: no money moves."""

    payment = models.OneToOneField(
        Payment, on_delete=models.PROTECT, related_name="sandbox_trade", verbose_name=_("支付单")
    )
    trade_no = models.CharField(_("沙箱交易号"), max_length=40, unique=True)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("币种"), max_length=3)
    refunded_amount = models.DecimalField(
        _("已退金额"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    created_at = models.DateTimeField(_("支付时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("沙箱交易")
        verbose_name_plural = _("沙箱交易")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="sandbox_refunds_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.trade_no


class SandboxRefund(models.Model):
    """The sandbox gateway's book of refunds, one per our refund reference (its
    out_refund_no): a resent refund is answered from here, like a real gateway, and
    `SandboxProvider.query_refund` reads it."""

    trade = models.ForeignKey(
        SandboxTrade, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("沙箱交易")
    )
    reference = models.CharField(_("退款单号"), max_length=100, unique=True)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    refund_no = models.CharField(_("沙箱退款号"), max_length=64)
    created_at = models.DateTimeField(_("退款时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("沙箱退款")
        verbose_name_plural = _("沙箱退款")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.refund_no
