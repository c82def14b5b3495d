"""Back-office pages for shipping.

- 待发货 (OrderToShip, a proxy of orders.Order): paid orders with physical goods and no
  shipment yet; each row has a "发货" dialog (carrier, tracking number → shipment_create),
  and the list leads to the bulk-ship page (CSV upload → shipments_import_csv, a result
  table, a template CSV to download).
- 发货单 (Shipment): search by tracking or order number, filter by carrier and status, the
  tracking events inline; "更正运单" (shipment_update_tracking) and, for the sandbox
  carrier, "模拟物流进度" (shipment_simulate_progress: a real signed callback).
- 承运商 (Carrier): added and edited through carrier_save; the change page shows the
  callback URL and secret to give the carrier. "沙箱" is read-only once the carrier has
  shipments (a sandbox carrier can simulate deliveries).
- 批量发货记录 (BulkShipImport): read-only, with each row's result.

Every write goes through jifen.shipping.services; DomainErrors become messages.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    admin_link,
    titled,
)
from jifen.core.errors import DomainError
from jifen.shipping import selectors, services
from jifen.shipping.models import BulkShipImport, Carrier, OrderToShip, Shipment, TrackingEvent

CSV_TEMPLATE = "order_number,carrier,tracking_number\r\nJ2612011234567,sf,SF1234567890\r\n"


def _back(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


def _can_ship(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.has_perm("shipping.add_shipment")


# --- 待发货 -----------------------------------------------------------------------------------


class ShipForm(BaseDialogForm):
    carrier = forms.ChoiceField(label=gettext_lazy("承运商"), widget=UnfoldAdminSelectWidget)
    tracking_number = forms.CharField(
        label=gettext_lazy("运单号"), max_length=40, widget=UnfoldAdminTextInputWidget
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [
            (c.code, f"{c.name}（{_('沙箱')}）" if c.is_sandbox else c.name)
            for c in selectors.carriers_active()
        ]


class BulkShipForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV 文件"),
        required=False,
        help_text=gettext_lazy("UTF-8 编码；表头 order_number,carrier,tracking_number"),
    )
    text = forms.CharField(
        label=gettext_lazy("或直接粘贴"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 6}),
    )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload:
            if upload.size > services.CSV_MAX_CHARS * 2:
                raise forms.ValidationError(_("文件过大（最多 2 MB）。"))
            raw = upload.read()
            for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves GBK by default
                try:
                    cleaned["csv_text"] = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise forms.ValidationError(_("无法识别文件编码，请另存为 UTF-8 CSV。"))
            cleaned["filename"] = upload.name
        elif (cleaned.get("text") or "").strip():
            cleaned["csv_text"] = cleaned["text"]
            cleaned["filename"] = ""
        else:
            raise forms.ValidationError(_("请上传 CSV 文件或粘贴内容。"))
        return cleaned


@admin.register(OrderToShip)
class OrderToShipAdmin(NumberColumnMixin, ModelAdmin):
    list_display = (
        "order_number",
        "member",
        "paid_at",
        "lines_column",
        "receiver",
        "address",
    )
    list_display_links = None
    search_fields = ("number", "ship_name", "ship_phone")
    list_select_related = ("member",)
    ordering = ("paid_at", "pk")
    actions_row = ["ship"]
    actions_list = ["bulk_ship_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        ids = selectors.orders_to_ship().values("pk")
        return super().get_queryset(request).filter(pk__in=ids).prefetch_related("lines")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _can_ship(request) or super().has_view_permission(request, obj)

    def has_ship_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _can_ship(request)

    @display(description=gettext_lazy("订单号"), ordering="number")
    def order_number(self, obj) -> str:
        try:
            url = reverse("admin:orders_order_change", args=[obj.pk])
        except Exception:  # the orders admin may not be registered
            return obj.number
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, obj.number)

    @display(description=gettext_lazy("商品"))
    def lines_column(self, obj) -> str:
        # What to pack: units refunded before shipment went back on the shelf.
        lines = selectors.order_units_to_ship(order=obj)
        if not lines:
            return "—"
        return format_html_join(
            "", "<div>{} {} × {}</div>", ((li.item_name, li.sku_label, q) for li, q in lines)
        )

    @display(description=gettext_lazy("收件人"))
    def receiver(self, obj) -> str:
        return f"{obj.ship_name} {obj.ship_phone}".strip() or "—"

    @display(description=gettext_lazy("地址"))
    def address(self, obj) -> str:
        return obj.ship_address or "—"

    @action(
        description=gettext_lazy("发货"),
        icon="local_shipping",
        permissions=["ship"],
        dialog={
            "title": gettext_lazy("填写运单并发货"),
            "description": gettext_lazy("发货后订单变为“已发货”，会员可在订单页查看物流。"),
            "form_class": ShipForm,
            "form_submit_text": gettext_lazy("确认发货"),
        },
    )
    def ship(self, request: HttpRequest, form: ShipForm, object_id) -> HttpResponse:
        try:
            shipment = services.shipment_create(
                order_id=int(object_id),
                carrier_code=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                by=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("订单 %(number)s 已发货：%(carrier)s %(tracking)s")
                % {
                    "number": shipment.order.number,
                    "carrier": shipment.carrier.name,
                    "tracking": shipment.tracking_number,
                },
            )
        return _back(request, reverse("admin:shipping_ordertoship_changelist"))

    @action(
        description=gettext_lazy("批量发货（CSV）"),
        icon="upload_file",
        permissions=["ship"],
        variant=ActionVariant.PRIMARY,
        url_path="bulk-link",
    )
    def bulk_ship_link(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:shipping_ordertoship_bulk"))

    def get_urls(self):
        own = [
            path(
                "bulk/",
                self.admin_site.admin_view(self.bulk_view),
                name="shipping_ordertoship_bulk",
            ),
            path(
                "bulk/template.csv",
                self.admin_site.admin_view(self.bulk_template_view),
                name="shipping_ordertoship_bulk_template",
            ),
        ]
        return own + super().get_urls()

    def bulk_template_view(self, request: HttpRequest) -> HttpResponse:
        if not _can_ship(request):
            raise DjangoPermissionDenied
        response = HttpResponse("\ufeff" + CSV_TEMPLATE, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="bulk-ship-template.csv"'
        return response

    def bulk_view(self, request: HttpRequest) -> HttpResponse:
        if not _can_ship(request):
            raise DjangoPermissionDenied
        form = BulkShipForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            try:
                result = services.shipments_import_csv(
                    csv_text=form.cleaned_data["csv_text"],
                    by=request.user,
                    filename=form.cleaned_data["filename"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                form = BulkShipForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("批量发货"),
            "opts": self.opts,
            "form": form,
            "result": result,
            "carriers": selectors.carriers_active(),
            "waiting": selectors.orders_to_ship().count(),
        }
        return TemplateResponse(request, "shipping/admin/bulk_ship.html", context)


# --- 发货单 -----------------------------------------------------------------------------------


class TrackingEventInline(ReadOnlyTabularInline):
    model = TrackingEvent
    fields = ("occurred_at", "status", "description", "location", "created_at")
    readonly_fields = fields
    ordering = ("-occurred_at", "-pk")
    verbose_name_plural = gettext_lazy("物流动态")


class CorrectTrackingForm(BaseDialogForm):
    carrier = forms.ChoiceField(label=gettext_lazy("承运商"), widget=UnfoldAdminSelectWidget)
    tracking_number = forms.CharField(
        label=gettext_lazy("运单号"), max_length=40, widget=UnfoldAdminTextInputWidget
    )
    reason = forms.CharField(
        label=gettext_lazy("原因"),
        max_length=200,
        required=False,
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [(c.code, c.name) for c in selectors.carriers_active()]


STATUS_LABELS = {
    "shipped": "info",
    "in_transit": "warning",
    "out_for_delivery": "warning",
    "delivered": "success",
    "exception": "danger",
}


@admin.register(Shipment)
class ShipmentAdmin(NumberColumnMixin, ModelAdmin):
    list_display = (
        "number",
        "order_link",
        "member",
        "carrier",
        "tracking_number",
        "status_label",
        "shipped_at",
        "last_event_at",
        "delivered_at",
    )
    list_display_links = ("number", "tracking_number")
    search_fields = ("tracking_number", "order__number")
    list_filter = (
        "carrier",
        ("status", titled(gettext_lazy("物流状态"))),
        ("shipped_at", BusinessDateRangeFilter),
    )
    list_filter_submit = True
    list_select_related = ("order", "member", "carrier")
    ordering = ("-shipped_at", "-pk")
    inlines = (TrackingEventInline,)
    fields = (
        "order_link",
        "member",
        "carrier",
        "tracking_number",
        "tracking_link",
        "status_label",
        "shipped_by",
        "shipped_at",
        "last_event_at",
        "delivered_at",
    )
    readonly_fields = fields
    actions = ["simulate_progress_selected"]
    actions_detail = ["simulate_progress", "correct_tracking"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # shipments are made by shipping an order (待发货)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_ship_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _can_ship(request)

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        shipment = Shipment.objects.select_related("carrier").filter(pk=object_id).first()
        if shipment is None:
            return []
        keep = set()
        if shipment.carrier.is_sandbox and shipment.status != Shipment.Status.DELIVERED:
            keep.add("simulate_progress")
        if shipment.status == Shipment.Status.SHIPPED:
            keep.add("correct_tracking")
        return [a for a in actions if a.action_name.rsplit("_shipment_", 1)[-1] in keep]

    @display(description=gettext_lazy("订单"), ordering="order__number")
    def order_link(self, obj: Shipment) -> str:
        try:
            return admin_link(obj.order, obj.order.number)
        except Exception:  # the orders admin may not be registered
            return obj.order.number

    @display(description=gettext_lazy("物流状态"), ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Shipment) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=gettext_lazy("官网查询"))
    def tracking_link(self, obj: Shipment) -> str:
        url = obj.tracking_url
        if not url:
            return "—"
        return format_html(
            '<a class="text-primary-600" href="{}" target="_blank" rel="noopener">{}</a>',
            url,
            url,
        )

    def _simulate(self, request: HttpRequest, shipment_id: int) -> None:
        try:
            status = services.shipment_simulate_progress(shipment_id=shipment_id)
        except DomainError as error:
            messages.error(request, f"#{shipment_id}：{error.message}")
        else:
            label = Shipment.Status(status).label
            messages.success(
                request,
                _("#%(id)s：已发送沙箱物流回调（%(status)s）。")
                % {"id": shipment_id, "status": label},
            )

    @action(
        description=gettext_lazy("模拟物流进度（沙箱）"),
        icon="fast_forward",
        permissions=["ship"],
        variant=ActionVariant.PRIMARY,
    )
    def simulate_progress(self, request: HttpRequest, object_id) -> HttpResponse:
        self._simulate(request, int(object_id))
        return _back(request, reverse("admin:shipping_shipment_change", args=[object_id]))

    @admin.action(description=gettext_lazy("模拟物流进度（沙箱）"), permissions=["ship"])
    def simulate_progress_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            self._simulate(request, pk)

    @action(
        description=gettext_lazy("更正运单"),
        icon="edit",
        permissions=["ship"],
        dialog={
            "title": gettext_lazy("更正承运商或运单号"),
            "description": gettext_lazy("承运商还没有物流动态时才能更正；订单记录会写明更正前后。"),
            "form_class": CorrectTrackingForm,
            "form_submit_text": gettext_lazy("保存"),
        },
    )
    def correct_tracking(self, request: HttpRequest, form, object_id) -> HttpResponse:
        try:
            services.shipment_update_tracking(
                shipment_id=int(object_id),
                carrier_code=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                reason=form.cleaned_data.get("reason") or "",
                by=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("运单已更正。"))
        return _back(request, reverse("admin:shipping_shipment_change", args=[object_id]))


# --- 承运商 -----------------------------------------------------------------------------------


class CarrierForm(forms.ModelForm):
    class Meta:
        model = Carrier
        fields = ("code", "name", "tracking_url_template", "is_sandbox", "is_active", "sort_order")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        code = self.instance.code if self.instance.pk else cleaned.get("code")
        if not self.instance.pk and Carrier.objects.filter(code=code).exists():
            self.add_error("code", _("该代码已存在。"))
        return cleaned


@admin.register(Carrier)
class CarrierAdmin(NumberColumnMixin, ModelAdmin):
    form = CarrierForm
    list_display = ("number", "name", "code", "is_sandbox", "is_active", "sort_order", "shipments")
    list_display_links = ("number", "name")
    ordering = ("sort_order", "pk")

    def get_readonly_fields(self, request, obj=None):
        # The code and salt name the callback secret: they never change once used.
        if not obj:
            return ()
        fields = ("code", "callback_url", "callback_secret")
        if obj.shipments.exists():
            # A sandbox carrier lets staff "simulate" delivery (which opens the after-sale
            # window): never switchable once real or simulated parcels ride with it.
            fields = (*fields, "is_sandbox")
        return fields

    def get_fields(self, request, obj=None):
        fields = ["code", "name", "tracking_url_template", "is_sandbox", "is_active", "sort_order"]
        if obj:
            fields.append("callback_url")
            if self.has_change_permission(request, obj):  # the secret: editors only
                fields.append("callback_secret")
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # turn it off instead: shipments point at it

    @display(description=gettext_lazy("发货单数"))
    def shipments(self, obj: Carrier) -> int:
        return obj.shipments.count()

    @display(description=gettext_lazy("回调地址"))
    def callback_url(self, obj: Carrier) -> str:
        return format_html(
            "<code>{}</code>", reverse("shipping:callback", kwargs={"carrier_code": obj.code})
        )

    @display(description=gettext_lazy("回调签名密钥"))
    def callback_secret(self, obj: Carrier) -> str:
        return format_html(
            '<code class="break-all">{}</code><div class="mt-1 text-xs text-base-500">{}</div>',
            obj.callback_secret(),
            _(
                'X-Carrier-Signature = HMAC-SHA256(密钥, "时间戳.请求体") 的十六进制，'
                "X-Carrier-Timestamp 为 Unix 秒；见 docs/shipping.md。"
            ),
        )

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        saved = services.carrier_save(
            code=obj.code if change else data["code"],
            name=data["name"],
            tracking_url_template=data.get("tracking_url_template") or "",
            # Read-only once the carrier has shipments: keep what it is.
            is_sandbox=data["is_sandbox"] if "is_sandbox" in data else obj.is_sandbox,
            is_active=data.get("is_active", True),
            sort_order=data.get("sort_order") or 0,
        )
        obj.pk = saved.pk


# --- 批量发货记录 -----------------------------------------------------------------------------


@admin.register(BulkShipImport)
class BulkShipImportAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "created_at",
        "filename",
        "rows_total",
        "rows_ok",
        "rows_failed",
        "created_by",
    )
    list_select_related = ("created_by",)
    ordering = ("-pk",)
    fields = (
        "filename",
        "created_by",
        "created_at",
        "rows_total",
        "rows_ok",
        "rows_failed",
        "results_table",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("逐行结果"))
    def results_table(self, obj: BulkShipImport) -> str:
        from django.template.loader import render_to_string

        return render_to_string("shipping/admin/_results.html", {"result": obj})


def to_ship_badge(request: HttpRequest) -> str | None:
    """The sidebar badge of 待发货: paid orders with goods still to send, or nothing."""
    count = selectors.orders_to_ship().count()
    return str(count) if count else None
