"""The after-sales queue in the back-office.

Rows are read-only; operators act through the detail actions, each one service call:
approve / reject (dialog with a note), goods received, refund now, ship the exchange
(dialog with carrier and tracking number). A DomainError becomes an error message and
nothing changes.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminTextInputWidget

from jifen.aftersales import selectors, services
from jifen.aftersales.models import AfterSale, AfterSaleEvent, AfterSaleLine
from jifen.backoffice.admin_base import ReadOnlyTabularInline, titled
from jifen.core.errors import DomainError

S = AfterSale.Status


def queue_badge(request: HttpRequest) -> str | None:
    """The sidebar badge of the queue: requests and returns waiting for an operator."""
    count = selectors.queue_count()
    return str(count) if count else None


def _link(obj: Model | None, label=None) -> str:
    if obj is None:
        return "—"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a class="text-primary-600" href="{}">{}</a>', url, label or str(obj))


class NoteForm(BaseDialogForm):
    note = forms.CharField(
        label=gettext_lazy("审核意见"),
        required=False,
        max_length=500,
        widget=UnfoldAdminTextInputWidget,
    )


class RejectForm(BaseDialogForm):
    note = forms.CharField(
        label=gettext_lazy("拒绝原因"), max_length=500, widget=UnfoldAdminTextInputWidget
    )


class ShipForm(BaseDialogForm):
    carrier = forms.CharField(
        label=gettext_lazy("快递公司"), max_length=40, widget=UnfoldAdminTextInputWidget
    )
    tracking_number = forms.CharField(
        label=gettext_lazy("运单号"), max_length=40, widget=UnfoldAdminTextInputWidget
    )


class LineInline(ReadOnlyTabularInline):
    model = AfterSaleLine
    fields = ("item", "quantity", "points", "cash", "restocked")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("售后商品")

    @display(description=gettext_lazy("商品"))
    def item(self, obj: AfterSaleLine) -> str:
        line = obj.order_line
        return f"{line.item_name} {line.sku_label}".strip()


class EventInline(ReadOnlyTabularInline):
    model = AfterSaleEvent
    fields = ("created_at", "from_status", "to_status", "actor_label", "note")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("处理记录")


def _thumbs(photos) -> str:
    return format_html_join(
        "",
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" width="56" '
        'height="56" style="display:inline-block;width:56px;height:56px;object-fit:cover;'
        'border-radius:6px;margin:0 4px 4px 0"></a>',
        ((p.image.url, p.thumbnail.url) for p in photos),
    )


@admin.register(AfterSale)
class AfterSaleAdmin(ModelAdmin):
    list_display = (
        "number",
        "order_link",
        "member_column",
        "kind",
        "status_label",
        "amount",
        "photo_thumbs",
        "created_at",
    )
    list_filter = (("status", titled(gettext_lazy("状态"))), ("kind", titled(gettext_lazy("类型"))))
    search_fields = ("number", "order__number", "member__phone", "member__email")
    list_select_related = ("order", "member")
    ordering = ("-created_at", "-pk")
    list_per_page = 50
    fields = (
        "number",
        "order_link",
        "member_column",
        "kind",
        "status",
        "reason",
        "reason_text",
        "photo_thumbs",
        "amount",
        "shipping_refund",
        "cash_refund_state",
        "return_carrier",
        "return_tracking_number",
        "received_at",
        "exchange_carrier",
        "exchange_tracking_number",
        "decided_by",
        "decided_at",
        "decision_note",
        "refund_transaction",
        "refunded_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = (LineInline, EventInline)
    actions_detail = ["approve", "reject", "receive", "refund_now", "ship_exchange"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("photos")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_handle_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("aftersales.change_aftersale")

    # --- columns ----------------------------------------------------------------------------

    @display(description=gettext_lazy("订单"), ordering="order__number")
    def order_link(self, obj: AfterSale) -> str:
        return _link(obj.order, obj.order.number)

    @display(description=gettext_lazy("会员"))
    def member_column(self, obj: AfterSale) -> str:
        return _link(obj.member, getattr(obj.member, "display_name", "") or str(obj.member))

    @display(
        description=gettext_lazy("状态"),
        ordering="status",
        label={
            S.REQUESTED: "warning",
            S.AWAITING_RETURN: "warning",
            S.RECEIVED: "info",
            S.APPROVED: "info",
            S.REFUNDED: "success",
            S.EXCHANGED: "success",
            S.REJECTED: "danger",
        },
    )
    def status_label(self, obj: AfterSale):
        return obj.status, obj.get_status_display()

    @display(description=gettext_lazy("应退"))
    def amount(self, obj: AfterSale) -> str:
        if obj.kind == AfterSale.Kind.EXCHANGE:
            return _("换货")
        text = _("%(points)s 积分") % {"points": f"{obj.points_to_refund:,}"}
        if obj.cash_to_refund:
            text += f" + ¥{obj.cash_to_refund}"
        return text

    @display(description=gettext_lazy("图片"))
    def photo_thumbs(self, obj: AfterSale) -> str:
        return _thumbs(obj.photos.all()) or "—"

    @display(description=gettext_lazy("现金退款"))
    def cash_refund_state(self, obj: AfterSale) -> str:
        if not obj.cash_to_refund:
            return "—"
        if obj.status != S.REFUNDED:
            return _("未退款")
        C = AfterSale.CashRefund
        status = obj.cash_refund_status
        if status == C.SUCCEEDED:
            return _("已退款（退款单 #%(id)s）") % {"id": obj.cash_refund_id}
        if status == C.FAILED:
            return _("退款失败（第 %(n)s 次）：%(error)s") % {
                "n": obj.cash_refund_attempts,
                "error": obj.cash_refund_error or "—",
            }
        if status == C.PENDING and obj.cash_refund_id:
            return _("退款中（退款单 #%(id)s）") % {"id": obj.cash_refund_id}
        return _("待发起：%(error)s") % {"error": obj.cash_refund_error or "—"}

    # --- actions ----------------------------------------------------------------------------

    def get_actions_detail(self, request: HttpRequest, object_id):
        actions = super().get_actions_detail(request, object_id)
        aftersale = AfterSale.objects.filter(pk=object_id).first()
        if aftersale is None:
            return []
        wanted = set()
        if aftersale.status == S.REQUESTED:
            wanted = {"approve", "reject"}
        elif aftersale.kind != AfterSale.Kind.REFUND_ONLY and aftersale.status in (
            S.APPROVED,
            S.AWAITING_RETURN,
        ):
            wanted = {"receive"}
        elif aftersale.status == S.RECEIVED:
            wanted = {
                "ship_exchange" if aftersale.kind == AfterSale.Kind.EXCHANGE else "refund_now"
            }
        elif (
            aftersale.cash_refund_pending
            or (
                aftersale.status == S.REFUNDED
                and aftersale.cash_refund_status == AfterSale.CashRefund.PENDING
            )
            or (aftersale.status == S.APPROVED and aftersale.kind == AfterSale.Kind.REFUND_ONLY)
        ):
            wanted = {"refund_now"}
        return [a for a in actions if a.path in wanted]

    def _run(self, request: HttpRequest, object_id, call, success: str) -> HttpResponse:
        try:
            call()
        except DomainError as error:
            messages.error(request, error.message)
        else:
            aftersale = AfterSale.objects.get(pk=object_id)
            if aftersale.cash_refund_status == AfterSale.CashRefund.FAILED:
                messages.warning(
                    request, _("现金退款失败：%(e)s") % {"e": aftersale.cash_refund_error}
                )
            messages.success(request, success)
        url = reverse("admin:aftersales_aftersale_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @action(
        description=gettext_lazy("同意"),
        icon="check",
        permissions=["handle"],
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("同意售后申请"),
            "description": gettext_lazy(
                "仅退款的申请同意后立即退回积分和现金；退货与换货等待买家寄回。"
            ),
            "form_class": NoteForm,
            "form_submit_text": gettext_lazy("同意"),
        },
    )
    def approve(self, request: HttpRequest, form, object_id) -> HttpResponse:
        return self._run(
            request,
            object_id,
            lambda: services.aftersale_decide(
                aftersale_id=int(object_id),
                approve=True,
                by=request.user,
                note=form.cleaned_data["note"],
            ),
            _("已同意售后申请。"),
        )

    @action(
        description=gettext_lazy("拒绝"),
        icon="block",
        permissions=["handle"],
        variant=ActionVariant.DANGER,
        dialog={
            "title": gettext_lazy("拒绝售后申请"),
            "description": gettext_lazy("拒绝原因会展示给会员。"),
            "form_class": RejectForm,
            "form_submit_text": gettext_lazy("拒绝"),
        },
    )
    def reject(self, request: HttpRequest, form, object_id) -> HttpResponse:
        return self._run(
            request,
            object_id,
            lambda: services.aftersale_decide(
                aftersale_id=int(object_id),
                approve=False,
                by=request.user,
                note=form.cleaned_data["note"],
            ),
            _("已拒绝售后申请。"),
        )

    @action(description=gettext_lazy("确认收到退货"), icon="inventory", permissions=["handle"])
    def receive(self, request: HttpRequest, object_id) -> HttpResponse:
        return self._run(
            request,
            object_id,
            lambda: services.aftersale_receive(aftersale_id=int(object_id), by=request.user),
            _("已确认收货，商品已入库。"),
        )

    @action(
        description=gettext_lazy("立即退款"),
        icon="currency_yuan",
        permissions=["handle"],
        variant=ActionVariant.PRIMARY,
    )
    def refund_now(self, request: HttpRequest, object_id) -> HttpResponse:
        return self._run(
            request,
            object_id,
            lambda: services.aftersale_refund(aftersale_id=int(object_id), by=request.user),
            _("已退款。"),
        )

    @action(
        description=gettext_lazy("发出换货"),
        icon="local_shipping",
        permissions=["handle"],
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("发出换货"),
            "description": gettext_lazy("同款 SKU 出库一件，并记录运单号。"),
            "form_class": ShipForm,
            "form_submit_text": gettext_lazy("确认发货"),
        },
    )
    def ship_exchange(self, request: HttpRequest, form, object_id) -> HttpResponse:
        return self._run(
            request,
            object_id,
            lambda: services.aftersale_exchange_ship(
                aftersale_id=int(object_id),
                by=request.user,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
            ),
            _("换货已发出。"),
        )
