"""Shipping (物流): carriers, one shipment per order, its tracking events, bulk imports.

- A Carrier is a delivery company (顺丰速运, 中通快递, …) or the sandbox carrier that plays one
  in the demo and tests. Its tracking callbacks are signed with a secret derived from the
  server key and the carrier's stored salt (never stored itself; see `callback_secret`).
- A Shipment belongs to exactly one order (unique), and a tracking number to exactly one
  shipment of its carrier (unique per carrier), so a callback finds one shipment.
- A TrackingEvent is unique per (shipment, occurred_at, status): a carrier that repeats a
  callback adds nothing.
- A BulkShipImport keeps the operator's CSV and the per-row outcome of shipping it.

Rows change only through jifen.shipping.services.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jifen.orders.models import Order


def _new_salt() -> str:
    return secrets.token_hex(16)


def carrier_server_keys() -> list[str]:
    """The keys callback secrets are derived from: JIFEN_CARRIER_KEY if set, else SECRET_KEY
    and its fallbacks (so rotating SECRET_KEY with SECRET_KEY_FALLBACKS keeps carriers
    working until they are given the new secret)."""
    own = getattr(settings, "JIFEN_CARRIER_KEY", "")
    if own:
        return [own]
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


class Carrier(models.Model):
    code = models.SlugField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=40)
    tracking_url_template = models.CharField(
        _("查询链接模板"),
        max_length=300,
        blank=True,
        help_text=_(
            "用 {number} 表示运单号，如 https://www.sf-express.com/chn/sc/waybill/list?no={number}"
        ),
    )
    is_sandbox = models.BooleanField(
        _("沙箱承运商"), default=False, help_text=_("演示和测试用，可在后台模拟物流进度")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    sort_order = models.IntegerField(_("排序"), default=0)
    salt = models.CharField(_("密钥盐"), max_length=64, default=_new_salt, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("承运商")
        verbose_name_plural = _("承运商")
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.name

    def callback_secret(self, server_key: str | None = None) -> str:
        """hex HMAC-SHA256(server key, "jifen-carrier:<code>:<salt>"): the secret the carrier
        signs its callbacks with. Deriving it keeps it out of the database."""
        key = (server_key if server_key is not None else carrier_server_keys()[0]).encode()
        message = f"jifen-carrier:{self.code}:{self.salt}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def tracking_url(self, number: str) -> str:
        if not self.tracking_url_template or "{number}" not in self.tracking_url_template:
            return ""
        return self.tracking_url_template.replace("{number}", number)


class ShipmentStatus(models.TextChoices):
    SHIPPED = "shipped", _("已发货")
    IN_TRANSIT = "in_transit", _("运输中")
    OUT_FOR_DELIVERY = "out_for_delivery", _("派送中")
    DELIVERED = "delivered", _("已签收")
    EXCEPTION = "exception", _("异常")


class Shipment(models.Model):
    """The parcel of one order. `status` follows the carrier's latest event (by the carrier's
    time, `last_event_at`); "delivered" is final."""

    Status = ShipmentStatus

    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, related_name="shipment", verbose_name=_("订单")
    )
    # The order's member, copied so member-owned rows can be distributed by member.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="shipments",
        verbose_name=_("会员"),
    )
    carrier = models.ForeignKey(
        Carrier, on_delete=models.PROTECT, related_name="shipments", verbose_name=_("承运商")
    )
    tracking_number = models.CharField(_("运单号"), max_length=40)
    status = models.CharField(
        _("物流状态"), max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.SHIPPED
    )
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("发货人"),
    )
    shipped_at = models.DateTimeField(_("发货时间"))
    last_event_at = models.DateTimeField(_("最新动态时间"))
    delivered_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("发货单")
        verbose_name_plural = _("发货单")
        ordering = ["-shipped_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"], name="shipment_carrier_tracking_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "shipped_at"], name="shipment_status_shipped")]

    def __str__(self) -> str:
        return f"{self.carrier.name} {self.tracking_number}"

    @property
    def tracking_url(self) -> str:
        return self.carrier.tracking_url(self.tracking_number)


class TrackingEvent(models.Model):
    shipment = models.ForeignKey(
        Shipment, on_delete=models.PROTECT, related_name="events", verbose_name=_("发货单")
    )
    status = models.CharField(_("状态"), max_length=20, choices=ShipmentStatus.choices)
    description = models.CharField(_("描述"), max_length=200, blank=True)
    location = models.CharField(_("地点"), max_length=60, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    created_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("物流动态")
        verbose_name_plural = _("物流动态")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "occurred_at", "status"], name="tracking_event_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.description}"


class BulkShipImport(models.Model):
    """One CSV of shipments (order_number,carrier,tracking_number) and what became of each
    row: `results` is a list of {"line", "order_number", "carrier", "tracking_number",
    "outcome" ("shipped" | "unchanged" | "failed"), "code", "message"}."""

    filename = models.CharField(_("文件名"), max_length=200, blank=True)
    content = models.TextField(_("文件内容"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    rows_total = models.PositiveIntegerField(_("行数"), default=0)
    rows_ok = models.PositiveIntegerField(_("成功"), default=0)
    rows_failed = models.PositiveIntegerField(_("失败"), default=0)
    results = models.JSONField(_("逐行结果"), default=list)
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("批量发货记录")
        verbose_name_plural = _("批量发货记录")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.filename or f"#{self.pk}"


class OrderToShip(Order):
    """The back-office's "待发货" list: paid orders with physical goods (a proxy of
    orders.Order, so the list and its ship dialog live with shipping)."""

    class Meta:
        proxy = True
        verbose_name = _("待发货订单")
        verbose_name_plural = _("待发货订单")
