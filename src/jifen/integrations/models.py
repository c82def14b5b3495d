"""The enterprise's systems: API clients, the events they post, purchases and refunds.

Once-only facts are unique rows: (client, event_id) for an event, (client, order_id) for a
purchase. An event's row, its effect (purchase, refund, ledger posting) and its stored
result commit together, so a redelivered event finds the row and replays the result.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    """An integrating system. Its secret is never stored (docs/adr/0004-integration-signing.md).

    The secret handed to the client is HMAC-SHA256(server key, "jifen-integration:<key_id>:
    <salt>"); only the salt is kept, and the server re-derives the secret to verify a
    signature. A copy of the database alone cannot sign requests.
    """

    name = models.CharField(_("名称"), max_length=100)
    key_id = models.CharField(_("密钥编号"), max_length=40, unique=True)
    salt = models.CharField(max_length=64)
    secret_hint = models.CharField(_("密钥尾号"), max_length=8, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    disabled_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("接入系统")
        verbose_name_plural = _("接入系统")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"


class Event(models.Model):
    class Type(models.TextChoices):
        PURCHASE = "purchase", _("消费")
        REFUND = "refund", _("退款")
        CUSTOM = "custom", _("自定义行为")

    class Status(models.TextChoices):
        PROCESSED = "processed", _("已处理")

    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="events", verbose_name=_("接入系统")
    )
    event_id = models.CharField(_("事件编号"), max_length=100)
    type = models.CharField(_("类型"), max_length=16, choices=Type.choices)
    payload = models.JSONField(_("内容"))
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PROCESSED
    )
    result = models.JSONField(_("结果"), default=dict)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("会员"),
    )
    transaction = models.ForeignKey(
        "ledger.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("积分交易"),
    )
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("接入事件")
        verbose_name_plural = _("接入事件")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "event_id"], name="event_client_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.event_id}"


class Purchase(models.Model):
    """A member's purchase in the enterprise's shop; the tiers app reads spend from here.

    `refunded_amount` grows only by guarded updates (never past `amount`).
    """

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="purchases",
        verbose_name=_("会员"),
    )
    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="purchases", verbose_name=_("接入系统")
    )
    event = models.OneToOneField(
        Event, on_delete=models.PROTECT, related_name="purchase", verbose_name=_("事件")
    )
    order_id = models.CharField(_("订单号"), max_length=100)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    refunded_amount = models.DecimalField(_("已退款"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("币种"), max_length=3)
    store = models.CharField(_("门店"), max_length=100, blank=True)
    channel = models.CharField(_("渠道"), max_length=50, blank=True)
    occurred_at = models.DateTimeField(_("消费时间"))
    lines = models.JSONField(_("明细"), default=list)
    points = models.BigIntegerField(_("积分"), default=0)
    points_reversed = models.BigIntegerField(_("已退回积分"), default=0)
    earn_transaction = models.OneToOneField(
        "ledger.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("积分交易"),
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("消费记录")
        verbose_name_plural = _("消费记录")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "order_id"], name="purchase_client_order"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="purchase_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0) & Q(points_reversed__lte=F("points")),
                name="purchase_points_reversed_within_points",
            ),
        ]
        indexes = [models.Index(fields=["member", "occurred_at"], name="purchase_member_time_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} ¥{self.amount}"


class Refund(models.Model):
    purchase = models.ForeignKey(
        Purchase, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("消费记录")
    )
    event = models.OneToOneField(
        Event, on_delete=models.PROTECT, related_name="refund", verbose_name=_("事件")
    )
    amount = models.DecimalField(_("退款金额"), max_digits=14, decimal_places=2)
    points = models.BigIntegerField(_("退回积分"), default=0)
    shortfall = models.CharField(_("不足处理"), max_length=16)
    debt = models.BigIntegerField(_("记为欠款"), default=0)
    forgiven = models.BigIntegerField(_("免除"), default=0)
    reversal_transaction = models.OneToOneField(
        "ledger.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("冲正交易"),
    )
    occurred_at = models.DateTimeField(_("退款时间"))
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("退款记录")
        verbose_name_plural = _("退款记录")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
        ]


class CustomAction(models.Model):
    """A named action a member did in another system (survey_completed, review_posted…).

    Stored for the tasks and rules that reward it; read through jifen.integrations.selectors.
    """

    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="+", verbose_name=_("接入系统")
    )
    event = models.OneToOneField(
        Event, on_delete=models.PROTECT, related_name="custom_action", verbose_name=_("事件")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("会员"),
    )
    name = models.CharField(_("行为"), max_length=50)
    attributes = models.JSONField(_("属性"), default=dict)
    occurred_at = models.DateTimeField(_("发生时间"))
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("自定义行为")
        verbose_name_plural = _("自定义行为")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["member", "name", "occurred_at"], name="custom_member_name_idx"),
            models.Index(fields=["id", "name"], name="custom_id_name_idx"),
        ]


class IntegrationHold(models.Model):
    """Points a member offers as cash in the enterprise's own checkout (points as cash).

    One hold per (client, order_id): the unique row is the once-only fact, so a retried
    create finds it. The points themselves sit in the ledger's Hold (`ledger_hold`); this
    row's `status` changes only by guarded updates under its row lock, in the same database
    transaction as the ledger's capture or release (services_holds.py).
    """

    class Status(models.TextChoices):
        HELD = "held", _("冻结中")
        CAPTURED = "captured", _("已抵现")
        RELEASED = "released", _("已释放")
        EXPIRED = "expired", _("已过期")

    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="holds", verbose_name=_("接入系统")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("会员"),
    )
    order_id = models.CharField(_("外部订单号"), max_length=100)
    order_amount = models.DecimalField(_("订单金额"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("币种"), max_length=3)
    points = models.BigIntegerField(_("积分"))
    cash_value = models.DecimalField(_("抵现金额"), max_digits=14, decimal_places=2)
    ledger_hold = models.OneToOneField(
        "ledger.Hold",
        on_delete=models.PROTECT,
        related_name="integration_hold",
        verbose_name=_("积分冻结"),
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.HELD)
    expires_at = models.DateTimeField(_("过期时间"))
    settled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("积分抵现")
        verbose_name_plural = _("积分抵现")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "order_id"], name="int_hold_client_order"),
            models.CheckConstraint(condition=Q(points__gt=0), name="int_hold_points_gt_0"),
            models.CheckConstraint(
                condition=Q(cash_value__gte=0) & Q(cash_value__lte=F("order_amount")),
                name="int_hold_cash_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="int_hold_status_exp_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.points} ({self.get_status_display()})"
