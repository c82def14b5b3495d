"""Redemption orders (兑换订单), the member's cart and the order's history (docs/mall.md).

An order moves only through `jifen.orders.services.order_transition`, which refuses any move
outside the transition table and writes one OrderEvent per change. Points move only through
the ledger (the order's `hold`), stock only through the catalog (each line's
`stock_reference`); the order row records what was agreed at checkout (prices, address
snapshot), never a live balance.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def _currency() -> str:
    return settings.JIFEN_CURRENCY


class Cart(models.Model):
    """One cart per member; its lines are rows so the cart follows the member across devices."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cart",
        verbose_name=_("会员"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("购物车")
        verbose_name_plural = _("购物车")

    def __str__(self) -> str:
        return f"cart:{self.member_id}"


class CartLine(models.Model):
    """A SKU in a cart; adding the same SKU again adds to its quantity (one row per SKU)."""

    cart = models.ForeignKey(
        Cart, on_delete=models.CASCADE, related_name="lines", verbose_name=_("购物车")
    )
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.CASCADE, related_name="+", verbose_name=_("SKU")
    )
    quantity = models.PositiveIntegerField(_("数量"))
    created_at = models.DateTimeField(_("加入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("购物车商品")
        verbose_name_plural = _("购物车商品")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="cartline_cart_sku_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cartline_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} x {self.quantity}"


class CashRefundStatus(models.TextChoices):
    NONE = "", _("无")
    PENDING = "pending", _("退款中")
    SUCCEEDED = "succeeded", _("已退款")
    FAILED = "failed", _("退款失败")


class Order(models.Model):
    """A member's redemption order. Status changes only through `order_transition`."""

    CashRefund = CashRefundStatus

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("待支付")
        PAID = "paid", _("待发货")
        SHIPPED = "shipped", _("已发货")
        DELIVERED = "delivered", _("已签收")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已取消")
        REFUNDED = "refunded", _("已退款")

    number = models.CharField(_("订单号"), max_length=20, unique=True)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("会员"),
    )
    status = models.CharField(
        _("状态"),
        max_length=20,
        choices=Status.choices,
        default=Status.PENDING_PAYMENT,
        db_index=True,
    )
    # Points: the lines' list price, then what the member pays after the tier discount
    # (floored per line; points_total = sum of the lines' points_paid).
    points_subtotal = models.PositiveIntegerField(_("积分原价"), default=0)
    points_total = models.PositiveIntegerField(_("应付积分"), default=0)
    discount_factor = models.DecimalField(
        _("会员折扣"), max_digits=5, decimal_places=4, default=Decimal(1)
    )
    cash_subtotal = models.DecimalField(
        _("商品现金"), max_digits=12, decimal_places=2, default=Decimal(0)
    )
    shipping_fee = models.DecimalField(
        _("运费"), max_digits=10, decimal_places=2, default=Decimal(0)
    )
    cash_total = models.DecimalField(
        _("应付现金"), max_digits=12, decimal_places=2, default=Decimal(0)
    )
    currency = models.CharField(_("币种"), max_length=3, default=_currency)
    needs_shipping = models.BooleanField(_("需配送"), default=False)
    hold = models.ForeignKey(
        "ledger.Hold",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("积分冻结"),
    )
    # The address snapshot: later edits of the member's address book do not change it.
    ship_name = models.CharField(_("收件人"), max_length=50, blank=True)
    ship_phone = models.CharField(_("电话"), max_length=20, blank=True)
    ship_region = models.CharField(_("地区"), max_length=100, blank=True)
    ship_detail = models.CharField(_("详细地址"), max_length=200, blank=True)
    # The one-time token of the checkout form: a double submit finds the order it made.
    checkout_token = models.CharField(_("下单令牌"), max_length=64, null=True, blank=True)
    # The payment that paid the cash part (payments.Payment id), so a replayed callback is
    # recognised. An id rather than a foreign key keeps orders migratable on its own.
    paid_payment_id = models.BigIntegerField(_("支付单"), null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    # A hash of what the checkout form sent (lines, address): a replay of its token with
    # other content is refused instead of silently returning the first order.
    checkout_fingerprint = models.CharField(_("下单内容指纹"), max_length=64, blank=True)
    # Set once, by a guarded UPDATE, by whichever refund gives the shipping fee back (the
    # after-sale that completes the refund of an unshipped order, or the cancel): the fee
    # can never be refunded twice.
    shipping_refunded = models.BooleanField(_("运费已退"), default=False)
    # The cash refund of a cancelled paid order (payments.payment_refund after commit): its
    # outcome is recorded so a failure is visible and retried, never silently kept.
    cash_refund_status = models.CharField(
        _("取消退款状态"),
        max_length=12,
        choices=CashRefundStatus.choices,
        blank=True,
        default="",
        db_index=True,
    )
    # The reference of the current attempt ("order:<number>:cancel", then ":cancel:<n>").
    cash_refund_reference = models.CharField(_("退款单号"), max_length=100, blank=True)
    cash_refund_id = models.BigIntegerField(_("退款单"), null=True, blank=True)
    cash_refund_error = models.CharField(_("退款失败原因"), max_length=300, blank=True)
    cash_refund_attempts = models.PositiveSmallIntegerField(_("退款尝试次数"), default=0)
    expires_at = models.DateTimeField(_("支付截止"), null=True, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("发货时间"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("退款时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("下单时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("兑换订单")
        verbose_name_plural = _("兑换订单")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="order_member_recent"),
            models.Index(fields=["status", "expires_at"], name="order_status_expiry"),
            models.Index(fields=["status", "shipped_at"], name="order_status_shipped"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "checkout_token"],
                condition=Q(checkout_token__isnull=False),
                name="order_member_checkout_token_unique",
            ),
            models.CheckConstraint(
                condition=Q(points_total__lte=models.F("points_subtotal")),
                name="order_points_total_lte_subtotal",
            ),
            models.CheckConstraint(condition=Q(cash_total__gte=0), name="order_cash_total_gte_0"),
            models.CheckConstraint(
                condition=Q(shipping_fee__gte=0), name="order_shipping_fee_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(cash_subtotal__gte=0), name="order_cash_subtotal_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def ship_address(self) -> str:
        return f"{self.ship_region} {self.ship_detail}".strip()

    @property
    def points_discount(self) -> int:
        return self.points_subtotal - self.points_total

    @property
    def is_open_for_payment(self) -> bool:
        return self.status == self.Status.PENDING_PAYMENT


class OrderLine(models.Model):
    """One SKU of an order, with the price and names as they were at checkout."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("订单")
    )
    item = models.ForeignKey(
        "catalog.Item", on_delete=models.PROTECT, related_name="+", verbose_name=_("商品")
    )
    sku = models.ForeignKey(
        "catalog.Sku", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU")
    )
    quantity = models.PositiveIntegerField(_("数量"))
    unit_points = models.PositiveIntegerField(_("单价积分"))
    unit_cash = models.DecimalField(_("单价现金"), max_digits=10, decimal_places=2)
    # This line's share of the order: points after the tier discount, cash as listed.
    points_paid = models.PositiveIntegerField(_("实付积分"), default=0)
    cash_paid = models.DecimalField(
        _("实付现金"), max_digits=12, decimal_places=2, default=Decimal(0)
    )
    item_name = models.CharField(_("商品名称"), max_length=80)
    sku_label = models.CharField(_("规格"), max_length=200, blank=True)
    kind = models.CharField(_("类型"), max_length=16)
    fulfilment = models.CharField(_("发放方式"), max_length=16)
    # The catalog StockReservation reference ("order:<number>:<n>"), also the quota and
    # voucher-issue reference of this line.
    stock_reference = models.CharField(_("库存单号"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("订单商品")
        verbose_name_plural = _("订单商品")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_gt_0"),
            models.CheckConstraint(condition=Q(cash_paid__gte=0), name="orderline_cash_gte_0"),
            models.CheckConstraint(condition=Q(unit_cash__gte=0), name="orderline_unit_cash_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item_name} {self.sku_label} x {self.quantity}".strip()

    @property
    def needs_shipping(self) -> bool:
        return self.fulfilment == "shipping"

    @property
    def fulfilment_label(self) -> str:
        from jifen.catalog.models import Item

        return str(dict(Item.Fulfilment.choices).get(self.fulfilment, self.fulfilment))


class OrderEvent(models.Model):
    """One change of an order (or a note on it): who, when, from, to, why. Append-only."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("订单")
    )
    from_status = models.CharField(_("原状态"), max_length=20, blank=True)
    to_status = models.CharField(_("新状态"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    # "member", an operator's name, "system", "carrier", "payment".
    actor_label = models.CharField(_("操作方"), max_length=60, blank=True)
    reason = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("订单记录")
        verbose_name_plural = _("订单记录")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"

    @property
    def to_status_display(self) -> str:
        return str(dict(Order.Status.choices).get(self.to_status, self.to_status))

    @property
    def from_status_display(self) -> str:
        return str(dict(Order.Status.choices).get(self.from_status, self.from_status))
