"""Back-office pages for the mall catalog and its stock.

Every write goes through jifen.catalog.services: forms validate with the services' own
checks (`item_validate`, `category_validate`), `save_model` / `save_formset` call the
services, and stock changes only by `stock_adjust` (the "调整库存" action on a SKU).
Stock movements, reservations and low-stock alerts are read-only.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, F, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminTextInputWidget

from jifen.backoffice.admin_base import (
    AlertOpenFilter,
    BusinessDateRangeFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    admin_link,
    titled,
)
from jifen.catalog import selectors, services
from jifen.catalog.models import (
    Category,
    Item,
    ItemImage,
    ItemSpec,
    LowStockAlert,
    Sku,
    StockMovement,
    StockReservation,
)
from jifen.core.errors import DomainError


def low_stock_badge(request: HttpRequest) -> str | None:
    """The sidebar badge of the low-stock list: open alerts, or nothing."""
    count = selectors.low_stock_count()
    return str(count) if count else None


def _form_error(form: forms.Form, error: DomainError) -> None:
    for name in error.fields:
        name = {"category_id": "category", "parent_id": "parent"}.get(name, name)
        if name in form.fields:
            form.add_error(name, error.message)
            return
    form.add_error(None, error.message)


# --- categories -------------------------------------------------------------------------------


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ("parent", "name", "name_en", "icon", "sort_order", "is_active")

    def clean(self):
        cleaned = super().clean()
        parent = cleaned.get("parent")
        try:
            services.category_validate(
                category_id=self.instance.pk, parent_id=parent.pk if parent else None
            )
        except DomainError as error:
            _form_error(self, error)
        return cleaned


@admin.register(Category)
class CategoryAdmin(NumberColumnMixin, ModelAdmin):
    form = CategoryForm
    list_display = ("tree_name", "name_en", "icon", "sort_order", "is_active", "items_count")
    list_filter = ("is_active",)
    search_fields = ("name", "name_en")
    ordering = ("sort_order", "pk")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(n_items=Count("items"))

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if not request.GET.get("o") and not request.GET.get("q"):
            # The tree in order: each category right after its parent.
            rows = list(changelist.result_list)
            by_parent: dict[int | None, list] = {}
            for row in rows:
                by_parent.setdefault(row.parent_id, []).append(row)
            ids = {row.pk for row in rows}
            ordered: list = []

            def walk(parent_id, depth):
                for row in by_parent.get(parent_id, []):
                    row.depth = depth
                    ordered.append(row)
                    walk(row.pk, depth + 1)

            for row in rows:
                if row.parent_id is None or row.parent_id not in ids:
                    if row not in ordered:
                        row.depth = 0
                        ordered.append(row)
                        walk(row.pk, 1)
            changelist.result_list = ordered
        return changelist

    @display(description=gettext_lazy("分类"), ordering="name")
    def tree_name(self, obj: Category) -> str:
        depth = getattr(obj, "depth", 0)
        return format_html(
            '<span style="padding-left:{}rem">{}{}</span>',
            depth * 1.5,
            "└ " if depth else "",
            obj.name,
        )

    @display(description=gettext_lazy("商品数"), ordering="n_items")
    def items_count(self, obj: Category) -> int:
        return getattr(obj, "n_items", 0)

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        saved = services.category_save(
            category_id=obj.pk if change else None,
            name=data["name"],
            name_en=data["name_en"],
            parent_id=data["parent"].pk if data["parent"] else None,
            icon=data["icon"],
            sort_order=data["sort_order"],
            is_active=data["is_active"],
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # hide it instead (is_active): items and history point at it


# --- items ------------------------------------------------------------------------------------


ITEM_FORM_FIELDS = (
    "kind",
    "fulfilment",
    "name",
    "name_en",
    "subtitle",
    "keywords",
    "category",
    "description",
    "market_price",
    "per_member_limit",
    "per_order_limit",
    "min_tier_rank",
    "on_shelf_at",
    "off_shelf_at",
    "is_active",
    "is_featured",
    "sort_order",
    "coupon_value",
    "coupon_threshold",
    "valid_days",
    "link_url",
)


class ItemForm(forms.ModelForm):
    tag_names = forms.CharField(
        label=gettext_lazy("标签"),
        required=False,
        help_text=gettext_lazy("用逗号分隔，如：热门，新品"),
        widget=UnfoldAdminTextInputWidget,
    )

    class Meta:
        model = Item
        fields = ITEM_FORM_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tag_names"].initial = "，".join(t.name for t in self.instance.tags.all())

    def service_data(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in ITEM_FORM_FIELDS}
        category = data.pop("category")
        data["category_id"] = category.pk if category else None
        for name in ("name_en", "subtitle", "keywords", "description", "link_url"):
            data[name] = data[name] or ""
        return data

    def tags(self) -> list[str]:
        raw = self.cleaned_data.get("tag_names") or ""
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services.item_validate(**self.service_data())
            except DomainError as error:
                _form_error(self, error)
        return cleaned


class ItemSpecForm(forms.ModelForm):
    values_text = forms.CharField(
        label=gettext_lazy("规格值"),
        help_text=gettext_lazy("用逗号分隔，如：红色，蓝色"),
        widget=UnfoldAdminTextInputWidget,
    )

    class Meta:
        model = ItemSpec
        fields = ("name", "values_text", "sort_order")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["values_text"].initial = "，".join(self.instance.values)

    def values(self) -> list[str]:
        raw = self.cleaned_data.get("values_text") or ""
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]


class ItemSpecInline(TabularInline):
    model = ItemSpec
    form = ItemSpecForm
    extra = 0
    tab = True
    verbose_name = gettext_lazy("规格")
    verbose_name_plural = gettext_lazy("规格")


class SkuForm(forms.ModelForm):
    class Meta:
        model = Sku
        fields = (
            "code",
            "options",
            "points",
            "cash",
            "stock_initial",
            "low_stock_threshold",
            "is_active",
            "sort_order",
        )


class SkuInline(TabularInline):
    model = Sku
    form = SkuForm
    extra = 0
    tab = True
    can_delete = False
    show_change_link = True
    fields = (
        "code",
        "options",
        "points",
        "cash",
        "stock_initial",
        "remaining",
        "reserved",
        "sold",
        "low_stock_threshold",
        "is_active",
        "sort_order",
    )

    def get_readonly_fields(self, request, obj=None):
        # Stock moves only by the stock services: on an existing item, new units come by
        # "调整库存" (stock_adjust) or "生成 SKU 组合"; initial stock is set when adding it.
        if obj is not None:
            return ("stock_initial", "remaining", "reserved", "sold")
        return ("remaining", "reserved", "sold")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        for name in ("code", "options", "stock_initial"):
            field = formset.form.base_fields.get(name)
            if field is not None:
                field.required = False
        return formset


class ItemImageForm(forms.ModelForm):
    class Meta:
        model = ItemImage
        fields = ("image", "alt", "sort_order")


class ItemImageInline(StackedInline):
    model = ItemImage
    form = ItemImageForm
    extra = 0
    tab = True
    fields = ("preview", "image", "alt", "sort_order")
    readonly_fields = ("preview",)

    @display(description=gettext_lazy("缩略图"))
    def preview(self, obj: ItemImage) -> str:
        if not obj or not obj.thumbnail:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="width:96px;height:96px;border-radius:8px">',
            obj.thumbnail.url,
        )


class OnShelfFilter(admin.SimpleListFilter):
    title = gettext_lazy("上架状态")
    parameter_name = "shelf"

    def lookups(self, request, model_admin):
        return [("on", _("在架")), ("scheduled", _("待上架")), ("off", _("已下架"))]

    def queryset(self, request, queryset):
        from django.utils import timezone

        now = timezone.now()
        on = Q(is_active=True) & (Q(on_shelf_at__isnull=True) | Q(on_shelf_at__lte=now))
        on &= Q(off_shelf_at__isnull=True) | Q(off_shelf_at__gt=now)
        if self.value() == "on":
            return queryset.filter(on)
        if self.value() == "scheduled":
            return queryset.filter(is_active=True, on_shelf_at__gt=now)
        if self.value() == "off":
            return queryset.filter(Q(is_active=False) | Q(off_shelf_at__lte=now))
        return queryset


class GenerateSkusForm(BaseDialogForm):
    points = forms.IntegerField(
        label=gettext_lazy("积分"), min_value=0, widget=UnfoldAdminIntegerFieldWidget
    )
    cash = forms.DecimalField(
        label=gettext_lazy("加钱购（元）"),
        min_value=0,
        decimal_places=2,
        initial=Decimal(0),
        widget=UnfoldAdminTextInputWidget,
    )
    stock_each = forms.IntegerField(
        label=gettext_lazy("每个 SKU 初始库存"),
        min_value=0,
        initial=0,
        widget=UnfoldAdminIntegerFieldWidget,
    )


@admin.register(Item)
class ItemAdmin(NumberColumnMixin, ModelAdmin):
    form = ItemForm
    inlines = (SkuInline, ItemSpecInline, ItemImageInline)
    list_display = (
        "number",
        "thumb",
        "name",
        "kind",
        "category",
        "price_column",
        "stock_column",
        "redemptions_count",
        "is_featured",
        "is_active",
        "on_shelf_at",
    )
    list_display_links = ("number", "name")
    list_filter = (
        OnShelfFilter,
        ("kind", titled(gettext_lazy("类型"))),
        "category",
        "is_featured",
    )
    list_filter_submit = True
    search_fields = ("name", "name_en", "subtitle", "keywords")
    list_select_related = ("category",)
    ordering = ("-is_featured", "sort_order", "-pk")
    actions_detail = ["generate_skus"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("kind", "fulfilment"),
                    ("name", "name_en"),
                    "subtitle",
                    ("category", "tag_names"),
                    "keywords",
                    "description",
                )
            },
        ),
        (
            gettext_lazy("价格与限兑"),
            {
                "fields": (
                    "market_price",
                    ("per_order_limit", "per_member_limit"),
                    "min_tier_rank",
                )
            },
        ),
        (
            gettext_lazy("上架"),
            {
                "fields": (
                    "on_shelf_at",
                    "off_shelf_at",
                    ("is_active", "is_featured"),
                    "sort_order",
                )
            },
        ),
        (
            gettext_lazy("优惠券、服务与虚拟商品"),
            {
                "classes": ["collapse"],
                "fields": (("coupon_value", "coupon_threshold"), "valid_days", "link_url"),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("skus", "images")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # take it off the shelf instead: orders and stock history point at it

    @display(description=gettext_lazy("图片"))
    def thumb(self, obj: Item) -> str:
        images = list(obj.images.all())
        if not images or not images[0].thumbnail:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="width:40px;height:40px;border-radius:6px">',
            images[0].thumbnail.url,
        )

    @display(description=gettext_lazy("价格"))
    def price_column(self, obj: Item) -> str:
        skus = [s for s in obj.skus.all() if s.is_active]
        if not skus:
            return "—"
        cheapest = min(skus, key=lambda s: (s.points, s.cash))
        text = _("%(points)s 积分") % {"points": f"{cheapest.points:,}"}
        return text + (f" + ¥{cheapest.cash}" if cheapest.cash else "")

    @display(description=gettext_lazy("可售 / 已售"))
    def stock_column(self, obj: Item) -> str:
        skus = list(obj.skus.all())
        remaining = sum(s.remaining for s in skus)
        sold = sum(s.sold for s in skus)
        low = any(s.low_stock_threshold and s.remaining <= s.low_stock_threshold for s in skus)
        colour = "text-red-600 font-semibold" if low or not remaining else ""
        return format_html('<span class="{}">{}</span> / {}', colour, remaining, sold)

    def save_model(self, request, obj, form, change) -> None:
        saved = services.item_save(
            item_id=obj.pk if change else None, tag_names=form.tags(), **form.service_data()
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        # Not form.save_m2m(): tags were written by item_save; inlines go through services.
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def save_formset(self, request, form, formset, change) -> None:
        item = form.instance
        # The admin's change message reads these; the services did the saving.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        try:
            if formset.model is ItemSpec:
                specs = [
                    (f.cleaned_data["name"], f.values())
                    for f in sorted(
                        (f for f in formset.forms if f.cleaned_data),
                        key=lambda f: f.cleaned_data.get("sort_order") or 0,
                    )
                    if not f.cleaned_data.get("DELETE")
                ]
                if formset.has_changed():
                    services.item_specs_set(item_id=item.pk, specs=specs)
            elif formset.model is Sku:
                self._save_skus(request, item, formset)
            elif formset.model is ItemImage:
                self._save_images(item, formset)
        except DomainError as error:
            messages.error(request, f"{formset.model._meta.verbose_name}：{error.message}")

    def _save_skus(self, request, item: Item, formset) -> None:
        for sku_form in formset.forms:
            data = sku_form.cleaned_data
            if not data or not sku_form.has_changed():
                continue
            if sku_form.instance.pk:
                services.sku_update(
                    sku_id=sku_form.instance.pk,
                    points=data["points"],
                    cash=data["cash"],
                    low_stock_threshold=data["low_stock_threshold"],
                    is_active=data["is_active"],
                    sort_order=data["sort_order"],
                )
            else:
                services.sku_create(
                    item_id=item.pk,
                    points=data["points"],
                    cash=data["cash"],
                    options=data.get("options") or {},
                    code=data.get("code") or None,
                    stock_initial=data.get("stock_initial") or 0,
                    low_stock_threshold=data["low_stock_threshold"],
                    sort_order=data["sort_order"],
                    by=request.user,
                )

    def _save_images(self, item: Item, formset) -> None:
        for image_form in formset.forms:
            data = image_form.cleaned_data
            if not data:
                continue
            if data.get("DELETE") and image_form.instance.pk:
                services.item_image_delete(image_id=image_form.instance.pk)
            elif not image_form.instance.pk and data.get("image"):
                upload = data["image"]
                upload.seek(0)
                services.item_image_add(
                    item_id=item.pk,
                    content=upload.read(),
                    filename=upload.name,
                    alt=data.get("alt") or "",
                    sort_order=data.get("sort_order") or 0,
                )
            elif image_form.instance.pk and image_form.has_changed():
                ItemImage.objects.filter(pk=image_form.instance.pk).update(
                    alt=data.get("alt") or "", sort_order=data.get("sort_order") or 0
                )

    @action(
        description=gettext_lazy("生成 SKU 组合"),
        icon="view_module",
        permissions=["change"],
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("为每个规格组合生成 SKU"),
            "description": gettext_lazy("已存在的组合不变；新 SKU 使用下面的价格和库存。"),
            "form_class": GenerateSkusForm,
            "form_submit_text": gettext_lazy("生成"),
        },
    )
    def generate_skus(self, request: HttpRequest, form, object_id) -> HttpResponse:
        data = form.cleaned_data
        try:
            made = services.item_skus_generate(
                item_id=int(object_id),
                points=data["points"],
                cash=data["cash"],
                stock_each=data["stock_each"],
                by=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("已生成 %(n)s 个 SKU。") % {"n": len(made)})
        url = reverse("admin:catalog_item_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)


# --- stock ------------------------------------------------------------------------------------


class LowStockFilter(admin.SimpleListFilter):
    title = gettext_lazy("库存状态")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", _("低库存")), ("out", _("已售罄"))]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.filter(
                low_stock_threshold__gt=0, remaining__lte=F("low_stock_threshold")
            )
        if self.value() == "out":
            return queryset.filter(remaining=0)
        return queryset


class StockAdjustForm(BaseDialogForm):
    delta = forms.IntegerField(
        label=gettext_lazy("数量"),
        help_text=gettext_lazy("正数为入库或盘盈，负数为盘亏或损耗"),
        widget=UnfoldAdminIntegerFieldWidget,
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("类型"),
        choices=[
            (StockMovement.Kind.RECEIVED, gettext_lazy("入库")),
            (StockMovement.Kind.ADJUSTED, gettext_lazy("盘点调整")),
        ],
    )
    reason = forms.CharField(
        label=gettext_lazy("原因"), max_length=200, widget=UnfoldAdminTextInputWidget
    )


@admin.register(Sku)
class SkuAdmin(NumberColumnMixin, ModelAdmin):
    list_display = (
        "number",
        "code",
        "item_link",
        "label_column",
        "points",
        "cash",
        "reserved",
        "sold",
        "remaining_column",
        "low_stock_threshold",
    )
    list_display_links = ("number", "code")
    list_filter = (LowStockFilter, "is_active")
    search_fields = ("code", "item__name")
    list_select_related = ("item",)
    ordering = ("item_id", "sort_order", "pk")
    fields = (
        "item_link",
        "code",
        "label_column",
        "points",
        "cash",
        "currency",
        "stock_initial",
        "received",
        "returned",
        "adjusted",
        "reserved",
        "sold",
        "remaining",
        "low_stock_threshold",
        "is_active",
        "movements_link",
    )
    readonly_fields = fields
    actions_detail = ["adjust_stock"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # SKUs are added on their item's page

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_adjust_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("catalog.add_stockmovement")

    @display(description=gettext_lazy("商品"))
    def item_link(self, obj: Sku) -> str:
        return admin_link(obj.item)

    @display(description=gettext_lazy("规格"))
    def label_column(self, obj: Sku) -> str:
        return obj.label or "—"

    @display(description=gettext_lazy("可售"), ordering="remaining")
    def remaining_column(self, obj: Sku) -> str:
        low = obj.low_stock_threshold and obj.remaining <= obj.low_stock_threshold
        if low or not obj.remaining:
            return format_html(
                '<span class="text-red-600 font-semibold">{} ⚠</span>', obj.remaining
            )
        return str(obj.remaining)

    @display(description=gettext_lazy("库存流水"))
    def movements_link(self, obj: Sku) -> str:
        url = reverse("admin:catalog_stockmovement_changelist") + f"?sku__id__exact={obj.pk}"
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url, _("查看流水"))

    @action(
        description=gettext_lazy("调整库存"),
        icon="inventory",
        permissions=["adjust"],
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("调整库存"),
            "description": gettext_lazy("每次调整都记入库存流水；可售库存不能调为负数。"),
            "form_class": StockAdjustForm,
            "form_submit_text": gettext_lazy("确认调整"),
        },
    )
    def adjust_stock(self, request: HttpRequest, form, object_id) -> HttpResponse:
        data = form.cleaned_data
        try:
            movement = services.stock_adjust(
                sku_id=int(object_id),
                delta=data["delta"],
                reason=data["reason"],
                kind=data["kind"],
                by=request.user,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("库存已调整 %(delta)+d，当前可售 %(remaining)s。")
                % {
                    "delta": movement.quantity,
                    "remaining": Sku.objects.get(pk=object_id).remaining,
                },
            )
        url = reverse("admin:catalog_sku_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "created_at",
        "sku_link",
        "kind",
        "quantity_column",
        "reference",
        "reason",
        "created_by",
    )
    list_filter = (
        ("kind", titled(gettext_lazy("类型"))),
        ("created_at", BusinessDateRangeFilter),
    )
    list_filter_submit = True
    search_fields = ("reference", "sku__code", "sku__item__name")
    list_select_related = ("sku__item", "created_by")
    ordering = ("-pk",)
    fields = (
        "sku_link",
        "kind",
        "quantity",
        "reference",
        "reason",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("SKU"))
    def sku_link(self, obj: StockMovement) -> str:
        return admin_link(obj.sku, f"{obj.sku.code} {obj.sku.item.name} {obj.sku.label}")

    @display(description=gettext_lazy("数量"), ordering="quantity")
    def quantity_column(self, obj: StockMovement) -> str:
        sign = {
            StockMovement.Kind.RESERVED: "−",
            StockMovement.Kind.SOLD: "",
        }.get(obj.kind, "+" if obj.quantity > 0 else "")
        return f"{sign}{obj.quantity:,}" if obj.quantity > 0 else f"{obj.quantity:,}"


@admin.register(StockReservation)
class StockReservationAdmin(ReadOnlyAdmin):
    list_display = ("number", "reference", "sku", "quantity", "returned", "status", "created_at")
    list_filter = (("status", titled(gettext_lazy("状态"))),)
    search_fields = ("reference",)
    list_select_related = ("sku__item",)
    ordering = ("-pk",)
    fields = (
        "reference",
        "sku",
        "quantity",
        "returned",
        "status",
        "expires_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(LowStockAlert)
class LowStockAlertAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "sku_link",
        "remaining",
        "now_remaining",
        "threshold",
        "status_label",
        "created_at",
        "resolved_at",
    )
    list_filter = (AlertOpenFilter,)
    list_select_related = ("sku__item",)
    ordering = ("resolved_at", "-pk")
    fields = ("sku_link", "remaining", "now_remaining", "threshold", "created_at", "resolved_at")
    readonly_fields = fields

    @display(description=gettext_lazy("SKU"))
    def sku_link(self, obj: LowStockAlert) -> str:
        return admin_link(obj.sku, f"{obj.sku.code} {obj.sku.item.name} {obj.sku.label}")

    @display(description=gettext_lazy("当前可售"))
    def now_remaining(self, obj: LowStockAlert) -> int:
        return obj.sku.remaining

    @display(description=gettext_lazy("状态"), label={"open": "danger", "resolved": "success"})
    def status_label(self, obj: LowStockAlert) -> tuple[str, str]:
        return ("open", _("待补货")) if obj.resolved_at is None else ("resolved", _("已解除"))
