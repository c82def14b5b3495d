"""Back-office pages for payments: read-only, for everyone including superusers.

Payments, refunds, the callback log and the sandbox's trades are never edited here: money
moves only through the services (refunds come from after-sales). The one action resends a
sandbox payment's signed callback (`payment_callback_resend`), which shows the callback's
idempotency: a replay is logged and changes nothing.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    admin_link,
    changelist_link,
)
from jifen.backoffice.selectors import member_ids_matching
from jifen.core.errors import DomainError
from jifen.payments.models import Payment, PaymentCallback, Refund, SandboxTrade
from jifen.payments.services import payment_callback_resend


def _money(value, currency: str) -> str:
    return f"¥{value:,.2f}" if currency == "CNY" else f"{currency} {value:,.2f}"


STATUS_LABELS = {
    Payment.Status.CREATED: "warning",
    Payment.Status.PAID: "success",
    Payment.Status.CLOSED: "info",
    Payment.Status.REFUNDED: "danger",
    Payment.Status.PARTIALLY_REFUNDED: "warning",
}


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = ("reference", "amount", "status", "reason", "provider_refund_no", "created_at")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("退款")


class CallbackInline(ReadOnlyTabularInline):
    model = PaymentCallback
    fields = ("received_at", "signature_ok", "result", "message")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("支付回调")
    ordering = ("-pk",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "payment_number",
        "member",
        "purpose",
        "reference",
        "amount_column",
        "refunded_column",
        "status_label",
        "provider",
        "provider_trade_no",
        "paid_at",
        "created_at",
    )
    list_filter = ("status", "provider", "purpose", ("created_at", BusinessDateRangeFilter))
    list_filter_submit = True
    search_fields = ("number", "reference", "provider_trade_no")
    search_help_text = gettext_lazy("按支付单号、业务单号、渠道交易号，或会员号、手机号、邮箱搜索")
    list_select_related = ("member",)
    ordering = ("-pk",)
    fields = (
        "payment_number",
        "member",
        "purpose",
        "reference",
        "amount_column",
        "refunded_column",
        "status_label",
        "provider",
        "provider_trade_no",
        "description",
        "return_url",
        "expires_at",
        "paid_at",
        "closed_at",
        "created_at",
        "callback_pretty",
    )
    readonly_fields = fields
    inlines = (RefundInline, CallbackInline)
    actions = ["resend_selected"]
    actions_detail = ["resend_callback"]

    def has_resend_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Resending changes state (a callback is handled again): more than viewing.
        return request.user.is_active and request.user.has_perm("payments.change_payment")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = member_ids_matching(term)
        if ids:
            return queryset.filter(member_id__in=ids), False
        return super().get_search_results(request, queryset, term)

    def _resend(self, request: HttpRequest, payment_id) -> None:
        try:
            payment_callback_resend(payment_id=int(payment_id))
        except DomainError as error:
            messages.error(request, f"#{payment_id}：{error.message}")
            return
        messages.success(
            request,
            _("支付单 #%(id)s 的沙箱回调已重发；重复通知不会重复入账。") % {"id": payment_id},
        )

    @action(
        description=gettext_lazy("重发沙箱回调"),
        permissions=["resend"],
        icon="replay",
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("重发沙箱支付回调？"),
            "description": gettext_lazy(
                "沙箱网关会再次发送签名的支付成功通知。已支付的支付单只记录一次重复通知，不会重复入账。"
            ),
            "form_submit_text": gettext_lazy("重发"),
        },
    )
    def resend_callback(self, request: HttpRequest, form, object_id) -> HttpResponse:
        self._resend(request, object_id)
        url = reverse("admin:payments_payment_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    def get_actions_detail(self, request: HttpRequest, object_id):
        has_trade = SandboxTrade.objects.filter(payment_id=object_id).exists()
        return super().get_actions_detail(request, object_id) if has_trade else []

    @admin.action(description=gettext_lazy("重发所选支付单的沙箱回调"), permissions=["resend"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            self._resend(request, pk)

    @display(description=gettext_lazy("支付单号"), ordering="number")
    def payment_number(self, obj: Payment) -> str:
        return obj.number

    @display(description=gettext_lazy("金额"), ordering="amount")
    def amount_column(self, obj: Payment) -> str:
        return _money(obj.amount, obj.currency)

    @display(description=gettext_lazy("已退金额"), ordering="refunded_amount")
    def refunded_column(self, obj: Payment) -> str:
        if not obj.refunded_amount:
            return "—"
        return changelist_link(
            Refund, _money(obj.refunded_amount, obj.currency), payment__id__exact=obj.pk
        )

    @display(description=gettext_lazy("状态"), label=STATUS_LABELS)
    def status_label(self, obj: Payment) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=gettext_lazy("支付回调原文"))
    def callback_pretty(self, obj: Payment) -> str:
        if not obj.callback_body:
            return "—"
        try:
            text = json.dumps(json.loads(obj.callback_body), ensure_ascii=False, indent=2)
        except ValueError:
            text = obj.callback_body
        return format_html('<pre class="text-xs whitespace-pre-wrap">{}</pre>', text)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "reference",
        "payment_link",
        "member",
        "amount",
        "status_label",
        "needs_attention",
        "reason",
        "provider_refund_no",
        "created_at",
        "finished_at",
    )
    # needs_attention: the gateway said "failed" to a resend and cannot be asked; an
    # operator reconciles it with the gateway's records.
    list_filter = (
        "status",
        "needs_attention",
        "payment__provider",
        ("created_at", BusinessDateRangeFilter),
    )
    list_filter_submit = True
    search_fields = ("reference", "payment__number", "payment__reference", "provider_refund_no")
    search_help_text = gettext_lazy("按退款单号、支付单号、业务单号或渠道退款号搜索")
    list_select_related = ("payment", "member")
    ordering = ("-pk",)
    fields = (
        "reference",
        "payment_link",
        "member",
        "amount",
        "status_label",
        "reason",
        "failure",
        "provider_refund_no",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("支付单"))
    def payment_link(self, obj: Refund) -> str:
        return admin_link(obj.payment, obj.payment.number)

    @display(
        description=gettext_lazy("状态"),
        label={
            Refund.Status.PENDING: "warning",
            Refund.Status.SUCCEEDED: "success",
            Refund.Status.FAILED: "danger",
        },
    )
    def status_label(self, obj: Refund) -> tuple[str, str]:
        return obj.status, obj.get_status_display()


@admin.register(PaymentCallback)
class PaymentCallbackAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "received_at",
        "provider",
        "payment_link",
        "signature_ok",
        "result_label",
        "message",
    )
    list_filter = ("result", "signature_ok", "provider", ("received_at", BusinessDateRangeFilter))
    list_filter_submit = True
    search_fields = ("payment__number", "payment__reference", "payment__provider_trade_no")
    search_help_text = gettext_lazy("按支付单号、业务单号或渠道交易号搜索")
    list_select_related = ("payment",)
    ordering = ("-pk",)
    fields = (
        "received_at",
        "provider",
        "payment_link",
        "signature_ok",
        "result_label",
        "message",
        "headers",
        "body",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("支付单"))
    def payment_link(self, obj: PaymentCallback) -> str:
        return admin_link(obj.payment, obj.payment.number) if obj.payment else "—"

    @display(
        description=gettext_lazy("处理结果"),
        label={
            PaymentCallback.Result.PAID: "success",
            PaymentCallback.Result.REPLAY: "info",
            PaymentCallback.Result.IGNORED: "info",
            PaymentCallback.Result.PAID_REJECTED: "warning",
            PaymentCallback.Result.PAID_AFTER_CLOSE: "warning",
            PaymentCallback.Result.BAD_SIGNATURE: "danger",
            PaymentCallback.Result.MALFORMED: "danger",
            PaymentCallback.Result.UNKNOWN_PAYMENT: "danger",
            PaymentCallback.Result.AMOUNT_MISMATCH: "danger",
            PaymentCallback.Result.CONFLICTING_REPLAY: "danger",
            PaymentCallback.Result.ERROR: "danger",
        },
    )
    def result_label(self, obj: PaymentCallback) -> tuple[str, str]:
        return obj.result, obj.get_result_display()


@admin.register(SandboxTrade)
class SandboxTradeAdmin(ReadOnlyAdmin):
    """The sandbox gateway's own book (not a real gateway; no money moved)."""

    list_display = ("number", "trade_no", "payment_link", "amount", "refunded_amount", "created_at")
    search_fields = ("trade_no", "payment__number")
    list_select_related = ("payment",)
    ordering = ("-pk",)
    fields = ("trade_no", "payment_link", "amount", "currency", "refunded_amount", "created_at")
    readonly_fields = fields

    @display(description=gettext_lazy("支付单"))
    def payment_link(self, obj: SandboxTrade) -> str:
        return admin_link(obj.payment, obj.payment.number)
