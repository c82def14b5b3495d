"""Back-office pages for orders: read-only rows (status changes only through the services),
the lines and the event history inline, and "cancel with a reason" through order_cancel.
Shipping actions belong to jifen.shipping."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminTextInputWidget

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    admin_link,
    titled,
)
from jifen.core.errors import DomainError
from jifen.orders import services
from jifen.orders.models import Order, OrderEvent, OrderLine


class OrderLineInline(ReadOnlyTabularInline):
    model = OrderLine
    fields = (
        "item_name",
        "sku_label",
        "quantity",
        "unit_points",
        "unit_cash",
        "points_paid",
        "cash_paid",
        "fulfilment",
        "stock_reference",
    )
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("订单商品")


class OrderEventInline(ReadOnlyTabularInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "actor_label", "actor", "reason")
    readonly_fields = fields
    ordering = ("created_at", "pk")
    verbose_name_plural = gettext_lazy("订单记录")


class CancelForm(BaseDialogForm):
    reason = forms.CharField(
        label=gettext_lazy("取消原因"),
        max_length=200,
        widget=UnfoldAdminTextInputWidget,
        help_text=gettext_lazy("会员在订单记录中可以看到；积分、库存和已付现金将立即退回。"),
    )


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "order_number",
        "created_at",
        "member_link",
        "status_badge",
        "points_total",
        "cash_total",
        "needs_shipping",
        "paid_at",
    )
    list_filter = (
        ("status", titled(gettext_lazy("状态"))),
        ("cash_refund_status", titled(gettext_lazy("取消退款状态"))),
        "needs_shipping",
        ("created_at", BusinessDateRangeFilter),
    )
    list_filter_submit = True
    search_fields = ("number", "member__phone", "member__email", "ship_phone")
    list_select_related = ("member",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    inlines = (OrderLineInline, OrderEventInline)
    actions_detail = ["cancel_order", "retry_cash_refund"]
    actions = ["retry_cash_refunds"]
    fieldsets = (
        (None, {"fields": ("number", "member_link", "status", "created_at", "expires_at")}),
        (
            gettext_lazy("金额"),
            {
                "fields": (
                    "points_subtotal",
                    "discount_factor",
                    "points_total",
                    "cash_subtotal",
                    "shipping_fee",
                    "cash_total",
                    "currency",
                    "hold_link",
                    "paid_payment_id",
                )
            },
        ),
        (
            gettext_lazy("收货"),
            {"fields": ("needs_shipping", "ship_name", "ship_phone", "ship_region", "ship_detail")},
        ),
        (
            gettext_lazy("时间"),
            {
                "fields": (
                    "paid_at",
                    "shipped_at",
                    "delivered_at",
                    "completed_at",
                    "cancelled_at",
                    "refunded_at",
                    "cancel_reason",
                )
            },
        ),
        (
            gettext_lazy("取消退款"),
            {
                "fields": (
                    "cash_refund_badge",
                    "cash_refund_reference",
                    "cash_refund_id",
                    "cash_refund_error",
                    "cash_refund_attempts",
                    "shipping_refunded",
                )
            },
        ),
    )
    readonly_fields = (
        "number",
        "member_link",
        "status",
        "created_at",
        "expires_at",
        "points_subtotal",
        "discount_factor",
        "points_total",
        "cash_subtotal",
        "shipping_fee",
        "cash_total",
        "currency",
        "hold_link",
        "paid_payment_id",
        "needs_shipping",
        "ship_name",
        "ship_phone",
        "ship_region",
        "ship_detail",
        "paid_at",
        "shipped_at",
        "delivered_at",
        "completed_at",
        "cancelled_at",
        "refunded_at",
        "cancel_reason",
        "cash_refund_badge",
        "cash_refund_reference",
        "cash_refund_id",
        "cash_refund_error",
        "cash_refund_attempts",
        "shipping_refunded",
    )

    @display(description=gettext_lazy("订单号"), ordering="number")
    def order_number(self, obj: Order) -> str:
        return obj.number

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: Order) -> str:
        return admin_link(obj.member)

    @display(description=gettext_lazy("积分冻结"))
    def hold_link(self, obj: Order) -> str:
        return admin_link(obj.hold) if obj.hold_id else "-"

    @display(
        description=gettext_lazy("状态"),
        ordering="status",
        label={
            Order.Status.PENDING_PAYMENT.label: "warning",
            Order.Status.PAID.label: "info",
            Order.Status.SHIPPED.label: "info",
            Order.Status.DELIVERED.label: "info",
            Order.Status.COMPLETED.label: "success",
            Order.Status.CANCELLED.label: "danger",
            Order.Status.REFUNDED.label: "danger",
        },
    )
    def status_badge(self, obj: Order) -> str:
        return obj.get_status_display()

    @display(
        description=gettext_lazy("取消退款状态"),
        label={
            Order.CashRefund.PENDING.label: "warning",
            Order.CashRefund.SUCCEEDED.label: "success",
            Order.CashRefund.FAILED.label: "danger",
        },
    )
    def cash_refund_badge(self, obj: Order) -> str:
        return obj.get_cash_refund_status_display() if obj.cash_refund_status else "-"

    def has_retry_refund_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("orders.change_order")

    def _retry(self, request: HttpRequest, order_id: int) -> Order | None:
        try:
            order = services.order_cash_refund_retry(
                order_id=order_id,
                by=request.user,
                actor_label=str(getattr(request.user, "display_name", "") or request.user)[:60],
            )
        except DomainError as error:
            messages.error(request, error.message)
            return None
        if order.cash_refund_status == Order.CashRefund.SUCCEEDED:
            messages.success(
                request, _("订单 %(number)s 的现金已退回。") % {"number": order.number}
            )
        elif order.cash_refund_status == Order.CashRefund.FAILED:
            messages.error(
                request,
                _("订单 %(number)s 退款再次失败：%(error)s")
                % {"number": order.number, "error": order.cash_refund_error},
            )
        else:
            messages.info(request, _("订单 %(number)s 的退款处理中。") % {"number": order.number})
        return order

    @action(
        description=gettext_lazy("重新发起现金退款"),
        icon="replay",
        permissions=["retry_refund"],
        variant=ActionVariant.WARNING,
        dialog={
            "title": gettext_lazy("重新发起现金退款"),
            "description": gettext_lazy(
                "仅限现金退款失败的已取消订单：以新的退款单号再次向支付渠道退款，"
                "支付渠道不会退出超过实付的金额。"
            ),
            "form_submit_text": gettext_lazy("确认退款"),
        },
    )
    def retry_cash_refund(self, request: HttpRequest, form, object_id) -> HttpResponse:
        self._retry(request, int(object_id))
        url = reverse("admin:orders_order_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @action(description=gettext_lazy("重新发起失败的现金退款"), permissions=["retry_refund"])
    def retry_cash_refunds(self, request: HttpRequest, queryset) -> None:
        for order_id in queryset.filter(cash_refund_status=Order.CashRefund.FAILED).values_list(
            "pk", flat=True
        ):
            self._retry(request, order_id)

    def has_cancel_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("orders.change_order")

    @action(
        description=gettext_lazy("取消订单"),
        icon="cancel",
        permissions=["cancel"],
        variant=ActionVariant.DANGER,
        dialog={
            "title": gettext_lazy("取消订单"),
            "description": gettext_lazy("仅限发货前的订单。"),
            "form_class": CancelForm,
            "form_submit_text": gettext_lazy("确认取消"),
        },
    )
    def cancel_order(self, request: HttpRequest, form, object_id) -> HttpResponse:
        try:
            services.order_cancel(
                order_id=int(object_id),
                by=request.user,
                actor_label=str(getattr(request.user, "display_name", "") or request.user)[:60],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("订单已取消，积分、库存和已付现金已退回。"))
        url = reverse("admin:orders_order_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)
