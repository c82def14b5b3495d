"""Back-office pages for code pools and member vouchers.

Every write goes through jifen.vouchers.services: a pool is created or changed by
`code_pool_save`, codes arrive only by `code_pool_import` (the "导入卡密" page: a CSV file
or pasted codes), vouchers are marked used or voided by `voucher_mark_used` /
`vouchers_revoke`. Codes are shown masked (last 4 characters) to operators.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from jifen.backoffice.admin_base import (
    AlertOpenFilter,
    BusinessDateRangeFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    admin_link,
    titled,
)
from jifen.catalog.models import Item, Sku
from jifen.core.errors import DomainError
from jifen.vouchers import selectors, services
from jifen.vouchers.models import CodeImport, CodePool, LowPoolAlert, MemberVoucher, PoolCode, mask


def low_pool_badge(request: HttpRequest) -> str | None:
    """The sidebar badge of the low-pool list: open alerts, or nothing."""
    count = selectors.low_pool_count()
    return str(count) if count else None


def _back(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


# --- pools ------------------------------------------------------------------------------------


class CodePoolForm(forms.ModelForm):
    class Meta:
        model = CodePool
        fields = ("sku", "name", "low_pool_threshold")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "sku" in self.fields:
            self.fields["sku"].queryset = (
                Sku.objects.filter(item__fulfilment=Item.Fulfilment.CODE, code_pool__isnull=True)
                .select_related("item")
                .order_by("item_id", "pk")
            )


class CodeImportForm(forms.Form):
    csv_file = forms.FileField(
        label=gettext_lazy("CSV 文件"),
        required=False,
        help_text=gettext_lazy("第一列为卡密，每行一个；可有表头（卡密 / code）；UTF-8 或 GBK"),
        widget=UnfoldAdminFileFieldWidget,
    )
    text = forms.CharField(
        label=gettext_lazy("或粘贴卡密"),
        required=False,
        help_text=gettext_lazy("每行一个"),
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 8}),
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("csv_file") and not (cleaned.get("text") or "").strip():
            raise forms.ValidationError(_("请上传 CSV 文件或粘贴卡密。"))
        return cleaned


class RevokeForm(BaseDialogForm):
    reason = forms.CharField(
        label=gettext_lazy("原因"), max_length=200, widget=UnfoldAdminTextInputWidget
    )


@admin.register(CodePool)
class CodePoolAdmin(NumberColumnMixin, ModelAdmin):
    form = CodePoolForm
    list_display = (
        "number",
        "name",
        "sku_link",
        "available_column",
        "issued_column",
        "low_pool_threshold",
        "imports_link",
        "created_at",
    )
    list_display_links = ("number", "name")
    search_fields = ("name", "sku__code", "sku__item__name")
    list_select_related = ("sku__item",)
    ordering = ("-pk",)
    actions_detail = ["import_codes"]
    actions_row = ["import_codes_row"]
    readonly_fields = ("sku_link", "available_column", "issued_column", "codes_link")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(n_issued=Count("codes", filter=Q(codes__status=PoolCode.Status.ISSUED)))
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("sku", "name", "low_pool_threshold")
        return (
            "sku_link",
            "name",
            "low_pool_threshold",
            "available_column",
            "issued_column",
            "codes_link",
        )

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # codes were issued from it; the pool stays with its history

    def has_import_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("vouchers.add_poolcode")

    @display(description=gettext_lazy("SKU"))
    def sku_link(self, obj: CodePool) -> str:
        return admin_link(obj.sku, f"{obj.sku.code} {obj.sku.item.name} {obj.sku.label}")

    @display(description=gettext_lazy("可用"), ordering="available")
    def available_column(self, obj: CodePool) -> str:
        low = obj.low_pool_threshold and obj.available <= obj.low_pool_threshold
        if low or not obj.available:
            return format_html(
                '<span class="text-red-600 font-semibold">{} ⚠</span>', obj.available
            )
        return str(obj.available)

    @display(description=gettext_lazy("已发放"), ordering="n_issued")
    def issued_column(self, obj: CodePool) -> int:
        n = getattr(obj, "n_issued", None)
        return n if n is not None else obj.codes.filter(status=PoolCode.Status.ISSUED).count()

    @display(description=gettext_lazy("导入记录"))
    def imports_link(self, obj: CodePool) -> str:
        url = reverse("admin:vouchers_codeimport_changelist") + f"?pool__id__exact={obj.pk}"
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, _("查看"))

    @display(description=gettext_lazy("卡密"))
    def codes_link(self, obj: CodePool) -> str:
        url = reverse("admin:vouchers_poolcode_changelist") + f"?pool__id__exact={obj.pk}"
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, _("查看卡密"))

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        try:
            saved = services.code_pool_save(
                sku_id=obj.sku_id if change else data["sku"].pk,
                name=data["name"],
                low_pool_threshold=data["low_pool_threshold"],
            )
        except DomainError as error:
            messages.error(request, error.message)
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    @action(
        description=gettext_lazy("导入卡密"),
        icon="upload_file",
        permissions=["import"],
        variant=ActionVariant.PRIMARY,
    )
    def import_codes(self, request: HttpRequest, object_id) -> HttpResponse:
        return _back(request, reverse("admin:vouchers_codepool_import", args=[object_id]))

    @action(description=gettext_lazy("导入卡密"), icon="upload_file", permissions=["import"])
    def import_codes_row(self, request: HttpRequest, object_id) -> HttpResponse:
        return _back(request, reverse("admin:vouchers_codepool_import", args=[object_id]))

    def get_urls(self):
        own = [
            path(
                "<int:pool_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="vouchers_codepool_import",
            ),
        ]
        return own + super().get_urls()

    def import_view(self, request: HttpRequest, pool_id: int) -> HttpResponse:
        if not self.has_import_permission(request):
            raise DjangoPermissionDenied
        pool = get_object_or_404(CodePool.objects.select_related("sku__item"), pk=pool_id)
        form = CodeImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data.get("csv_file")
            text = (form.cleaned_data.get("text") or "") if not upload else None
            try:
                record = services.code_pool_import(
                    sku_id=pool.sku_id, csv_file=upload, text=text, by=request.user
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("已导入 %(n)s 个卡密（跳过重复 %(d)s 个），库存增加 %(n)s。")
                    % {"n": record.imported, "d": record.duplicates},
                )
                return HttpResponseRedirect(
                    reverse("admin:vouchers_codepool_change", args=[pool.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("导入卡密：%(pool)s") % {"pool": pool},
            "opts": self.opts,
            "pool": pool,
            "form": form,
        }
        return TemplateResponse(request, "vouchers/admin/import.html", context)


@admin.register(PoolCode)
class PoolCodeAdmin(ReadOnlyAdmin):
    list_display = ("number", "masked_code", "pool", "status", "voucher_link", "issued_at")
    list_filter = (("status", titled(gettext_lazy("状态"))), "pool")
    list_select_related = ("pool__sku__item", "issued_to")
    ordering = ("-pk",)
    fields = ("pool", "masked_code", "status", "voucher_link", "code_import", "issued_at")
    readonly_fields = fields
    actions_detail = ["void"]

    def has_void_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("vouchers.change_poolcode")

    @action(
        description=gettext_lazy("作废卡密"),
        icon="block",
        permissions=["void"],
        variant=ActionVariant.DANGER,
        dialog={
            "title": gettext_lazy("作废卡密"),
            "description": gettext_lazy("未发放的卡密移出卡密池，库存减 1。"),
            "form_class": RevokeForm,
            "form_submit_text": gettext_lazy("确认作废"),
        },
    )
    def void(self, request: HttpRequest, form, object_id) -> HttpResponse:
        try:
            services.pool_code_void(
                code_id=int(object_id), reason=form.cleaned_data["reason"], by=request.user
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("卡密已作废，库存减 1。"))
        return _back(request, reverse("admin:vouchers_poolcode_change", args=[object_id]))

    @display(description=gettext_lazy("卡密"))
    def masked_code(self, obj: PoolCode) -> str:
        return format_html('<span class="font-mono">{}</span>', mask(obj.code))

    @display(description=gettext_lazy("发放给"))
    def voucher_link(self, obj: PoolCode) -> str:
        return admin_link(obj.issued_to, str(obj.issued_to.member_id)) if obj.issued_to else "—"


@admin.register(CodeImport)
class CodeImportAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "pool",
        "file_name",
        "imported",
        "duplicates",
        "invalid",
        "created_by",
        "created_at",
    )
    list_filter = ("pool",)
    list_select_related = ("pool__sku__item", "created_by")
    ordering = ("-pk",)
    fields = ("pool", "file_name", "imported", "duplicates", "invalid", "created_by", "created_at")
    readonly_fields = fields


# --- member vouchers --------------------------------------------------------------------------


class UseForm(BaseDialogForm):
    note = forms.CharField(
        label=gettext_lazy("核销说明"),
        max_length=200,
        required=False,
        widget=UnfoldAdminTextInputWidget,
    )


STATUS_LABELS = {"unused": "success", "used": "info", "expired": "warning", "revoked": "danger"}


@admin.register(MemberVoucher)
class MemberVoucherAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "item_name",
        "kind",
        "masked_code",
        "member_link",
        "status_label",
        "valid_until",
        "issue_reference",
        "created_at",
    )
    list_filter = (
        ("status", titled(gettext_lazy("状态"))),
        ("kind", titled(gettext_lazy("类型"))),
        ("created_at", BusinessDateRangeFilter),
    )
    list_filter_submit = True
    search_fields = (
        "=code",
        "=issue_reference",
        "item_name",
        "member__phone",
        "member__email",
        "member__member_number",
    )
    list_select_related = ("member",)
    ordering = ("-pk",)
    fields = (
        "member_link",
        "item_name",
        "kind",
        "masked_code",
        "link",
        "value",
        "threshold",
        "valid_from",
        "valid_until",
        "status_label",
        "issue_reference",
        "order_line_id",
        "used_at",
        "used_by",
        "used_note",
        "revoked_at",
        "revoke_reason",
        "created_at",
    )
    readonly_fields = fields
    actions_detail = ["mark_used", "revoke"]

    def has_use_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("vouchers.change_membervoucher")

    @display(description=gettext_lazy("券码"))
    def masked_code(self, obj: MemberVoucher) -> str:
        return format_html('<span class="font-mono">{}</span>', mask(obj.code)) if obj.code else "—"

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: MemberVoucher) -> str:
        return admin_link(obj.member)

    @display(description=gettext_lazy("状态"), label=STATUS_LABELS)
    def status_label(self, obj: MemberVoucher) -> tuple[str, str]:
        return obj.display_status, obj.display_status_label

    @action(
        description=gettext_lazy("核销"),
        icon="check_circle",
        permissions=["use"],
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("核销卡券"),
            "description": gettext_lazy("标记为已使用（如会员在门店或官方商城使用）。"),
            "form_class": UseForm,
            "form_submit_text": gettext_lazy("确认核销"),
        },
    )
    def mark_used(self, request: HttpRequest, form, object_id) -> HttpResponse:
        try:
            services.voucher_mark_used(
                voucher_id=int(object_id), by=request.user, note=form.cleaned_data["note"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("已核销。"))
        return _back(request, reverse("admin:vouchers_membervoucher_change", args=[object_id]))

    @action(
        description=gettext_lazy("作废"),
        icon="block",
        permissions=["use"],
        variant=ActionVariant.DANGER,
        dialog={
            "title": gettext_lazy("作废卡券"),
            "description": gettext_lazy("只有未使用的卡券可以作废；作废的卡密不会再发给别人。"),
            "form_class": RevokeForm,
            "form_submit_text": gettext_lazy("确认作废"),
        },
    )
    def revoke(self, request: HttpRequest, form, object_id) -> HttpResponse:
        voucher = get_object_or_404(MemberVoucher, pk=int(object_id))
        try:
            n = services.voucher_revoke_one(
                voucher_id=voucher.pk, reason=form.cleaned_data["reason"], by=request.user
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if n:
                messages.success(request, _("已作废。"))
            else:
                messages.warning(request, _("该卡券已使用或已失效，未作废。"))
        return _back(request, reverse("admin:vouchers_membervoucher_change", args=[object_id]))


@admin.register(LowPoolAlert)
class LowPoolAlertAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "pool_link",
        "available",
        "now_available",
        "threshold",
        "status_label",
        "created_at",
        "resolved_at",
    )
    list_filter = (AlertOpenFilter,)
    list_select_related = ("pool__sku__item",)
    ordering = ("resolved_at", "-pk")
    fields = ("pool_link", "available", "now_available", "threshold", "created_at", "resolved_at")
    readonly_fields = fields

    @display(description=gettext_lazy("卡密池"))
    def pool_link(self, obj: LowPoolAlert) -> str:
        return admin_link(obj.pool)

    @display(description=gettext_lazy("当前可用"))
    def now_available(self, obj: LowPoolAlert) -> int:
        return obj.pool.available

    @display(description=gettext_lazy("状态"), label={"open": "danger", "resolved": "success"})
    def status_label(self, obj: LowPoolAlert) -> tuple[str, str]:
        return ("open", _("待补充")) if obj.resolved_at is None else ("resolved", _("已解除"))
