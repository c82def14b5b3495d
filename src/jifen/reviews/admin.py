"""The back-office's review moderation queue (评价审核).

Reviews are read-only rows: operators change them only by the moderation actions, which
call `jifen.reviews.services.review_moderate` (approve / reject / hide, with a note, on the
detail page; approve / hide in bulk from the list). Moderating is what the "change review"
permission grants. Item ratings are read-only (kept by the service).
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

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    admin_link,
    titled,
)
from jifen.core.errors import DomainError
from jifen.reviews import selectors, services
from jifen.reviews.models import ItemRating, Review


def pending_badge(request: HttpRequest) -> str | None:
    """The sidebar badge of the moderation queue: reviews waiting, or nothing."""
    count = selectors.pending_count()
    return str(count) if count else None


class NoteForm(BaseDialogForm):
    note = forms.CharField(
        label=gettext_lazy("审核备注"),
        required=False,
        max_length=services.MAX_NOTE,
        widget=UnfoldAdminTextInputWidget,
        help_text=gettext_lazy("会员在“我的评价”中可以看到未通过的原因"),
    )


class RatingFilter(admin.SimpleListFilter):
    title = gettext_lazy("评分")
    parameter_name = "rating"

    def lookups(self, request, model_admin):
        return [(str(n), _("%(n)s 星") % {"n": n}) for n in range(5, 0, -1)]

    def queryset(self, request, queryset):
        if self.value() in {"1", "2", "3", "4", "5"}:
            return queryset.filter(rating=int(self.value()))
        return queryset


class PhotosFilter(admin.SimpleListFilter):
    title = gettext_lazy("图片")
    parameter_name = "photos"

    def lookups(self, request, model_admin):
        return [("yes", _("有图")), ("no", _("无图"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(photos__isnull=False).distinct()
        if self.value() == "no":
            return queryset.filter(photos__isnull=True)
        return queryset


STATUS_COLOURS = {
    Review.Status.PENDING: "bg-amber-100 text-amber-800",
    Review.Status.APPROVED: "bg-green-100 text-green-800",
    Review.Status.REJECTED: "bg-red-100 text-red-800",
    Review.Status.HIDDEN: "bg-base-100 text-base-700",
}


@admin.register(Review)
class ReviewAdmin(NumberColumnMixin, ModelAdmin):
    list_display = (
        "number",
        "item_link",
        "rating_column",
        "text_column",
        "photos_column",
        "member_column",
        "status_column",
        "created_at",
    )
    list_filter = (
        ("status", titled(gettext_lazy("状态"))),
        RatingFilter,
        PhotosFilter,
        ("created_at", BusinessDateRangeFilter),
    )
    list_filter_submit = True
    search_fields = ("item__name", "text", "order_line__order__number", "member__phone")
    search_help_text = gettext_lazy("按商品名称、评价内容、订单号或会员手机号搜索")
    list_select_related = ("item", "member")
    ordering = ("-pk",)
    list_per_page = 30
    fields = (
        "item_link",
        "sku",
        "order_link",
        "member_column",
        "is_anonymous",
        "rating_column",
        "text",
        "photos_large",
        "status_column",
        "moderation_note",
        "moderated_by",
        "moderated_at",
        "approved_at",
        "helpful_count",
        "created_at",
    )
    readonly_fields = fields
    actions = ["approve_selected", "hide_selected"]
    actions_detail = ["approve", "reject", "hide"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("photos")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members write reviews

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # only the moderation actions change a review

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # hidden, never deleted: the aggregates and history stay explainable

    def has_moderate_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.has_perm("reviews.change_review")

    # --- columns ----------------------------------------------------------------------------

    @display(description=gettext_lazy("商品"))
    def item_link(self, obj: Review) -> str:
        return admin_link(obj.item)

    @display(description=gettext_lazy("订单"))
    def order_link(self, obj: Review) -> str:
        order = obj.order_line.order
        try:
            return admin_link(order, order.number)
        except NoReverseMatch:  # the orders back-office is not registered
            return order.number

    @display(description=gettext_lazy("会员"))
    def member_column(self, obj: Review) -> str:
        label = obj.member.name or obj.member.phone or obj.member.member_number
        if obj.is_anonymous:
            label = _("%(name)s（匿名）") % {"name": label}
        return admin_link(obj.member, label)

    @display(description=gettext_lazy("评分"), ordering="rating")
    def rating_column(self, obj: Review) -> str:
        return format_html(
            '<span class="text-amber-500" title="{}">{}</span>'
            '<span class="text-base-300">{}</span>',
            obj.rating,
            "★" * obj.rating,
            "★" * (5 - obj.rating),
        )

    @display(description=gettext_lazy("评价内容"))
    def text_column(self, obj: Review) -> str:
        text = obj.text or "—"
        return text if len(text) <= 60 else text[:60] + "…"

    def _photos(self, obj: Review, size: int) -> str:
        photos = list(obj.photos.all())
        if not photos:
            return "—"
        return format_html(
            '<div class="flex flex-wrap gap-1">{}</div>',
            format_html_join(
                "",
                '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" width="{}" '
                'height="{}" style="object-fit:cover;border-radius:6px"></a>',
                ((p.image.url, (p.thumbnail or p.image).url, size, size) for p in photos),
            ),
        )

    @display(description=gettext_lazy("图片"))
    def photos_column(self, obj: Review) -> str:
        return self._photos(obj, 40)

    @display(description=gettext_lazy("图片"))
    def photos_large(self, obj: Review) -> str:
        return self._photos(obj, 120)

    @display(description=gettext_lazy("状态"), ordering="status")
    def status_column(self, obj: Review) -> str:
        return format_html(
            '<span class="inline-block rounded-default px-2 py-0.5 text-xs font-semibold {}">{}'
            "</span>",
            STATUS_COLOURS.get(obj.status, ""),
            obj.get_status_display(),
        )

    # --- moderation -------------------------------------------------------------------------

    def _moderate(self, request: HttpRequest, object_id, verb: str, note: str = "") -> bool:
        try:
            review = services.review_moderate(
                review_id=int(object_id), action=verb, by=request.user, note=note
            )
        except DomainError as error:
            messages.error(request, f"#{object_id}：{error.message}")
            return False
        messages.success(
            request,
            _("评价 #%(id)s：%(status)s。")
            % {"id": review.pk, "status": review.get_status_display()},
        )
        return True

    def _back(self, request: HttpRequest, object_id) -> HttpResponse:
        url = reverse("admin:reviews_review_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @action(
        description=gettext_lazy("通过"),
        permissions=["moderate"],
        icon="check_circle",
        variant=ActionVariant.SUCCESS,
        dialog={
            "title": gettext_lazy("通过这条评价？"),
            "description": gettext_lazy("通过后在商品页展示，并计入商品评分。"),
            "form_class": NoteForm,
            "form_submit_text": gettext_lazy("通过"),
        },
    )
    def approve(self, request: HttpRequest, form, object_id) -> HttpResponse:
        self._moderate(request, object_id, "approve", form.cleaned_data["note"])
        return self._back(request, object_id)

    @action(
        description=gettext_lazy("驳回"),
        permissions=["moderate"],
        icon="cancel",
        variant=ActionVariant.DANGER,
        dialog={
            "title": gettext_lazy("驳回这条评价？"),
            "description": gettext_lazy("驳回后不展示；请写明原因，会员可以看到。"),
            "form_class": NoteForm,
            "form_submit_text": gettext_lazy("驳回"),
        },
    )
    def reject(self, request: HttpRequest, form, object_id) -> HttpResponse:
        self._moderate(request, object_id, "reject", form.cleaned_data["note"])
        return self._back(request, object_id)

    @action(
        description=gettext_lazy("隐藏"),
        permissions=["moderate"],
        icon="visibility_off",
        dialog={
            "title": gettext_lazy("隐藏这条评价？"),
            "description": gettext_lazy("隐藏后不再展示，也不计入商品评分；可以再次通过。"),
            "form_class": NoteForm,
            "form_submit_text": gettext_lazy("隐藏"),
        },
    )
    def hide(self, request: HttpRequest, form, object_id) -> HttpResponse:
        self._moderate(request, object_id, "hide", form.cleaned_data["note"])
        return self._back(request, object_id)

    def get_actions_detail(self, request: HttpRequest, object_id):
        """Only the moves that change something: no "approve" on an approved review."""
        actions = super().get_actions_detail(request, object_id)
        status = Review.objects.filter(pk=object_id).values_list("status", flat=True).first()
        current = {
            Review.Status.APPROVED: "approve",
            Review.Status.REJECTED: "reject",
            Review.Status.HIDDEN: "hide",
        }.get(status)
        return [a for a in actions if a.action_name != current]

    def _bulk(self, request: HttpRequest, queryset: QuerySet, verb: str) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        changed = 0
        for pk in sorted(ids):
            before = Review.objects.filter(pk=pk).values_list("status", flat=True).first()
            if self._moderate_quiet(request, pk, verb) and before != services.ACTIONS[verb]:
                changed += 1
        messages.success(
            request,
            _("已处理 %(n)s 条评价（共选 %(total)s 条）。") % {"n": changed, "total": len(ids)},
        )

    def _moderate_quiet(self, request: HttpRequest, pk: int, verb: str) -> bool:
        try:
            services.review_moderate(review_id=pk, action=verb, by=request.user)
        except DomainError as error:
            messages.error(request, f"#{pk}：{error.message}")
            return False
        return True

    @admin.action(description=gettext_lazy("批量通过所选评价"), permissions=["moderate"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._bulk(request, queryset, "approve")

    @admin.action(description=gettext_lazy("批量隐藏所选评价"), permissions=["moderate"])
    def hide_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._bulk(request, queryset, "hide")


@admin.register(ItemRating)
class ItemRatingAdmin(ReadOnlyAdmin):
    list_display = (
        "item_link",
        "count",
        "average_column",
        "stars_5",
        "stars_4",
        "stars_3",
        "stars_2",
        "stars_1",
    )
    list_select_related = ("item",)
    ordering = ("-count",)
    search_fields = ("item__name",)

    @display(description=gettext_lazy("商品"))
    def item_link(self, obj: ItemRating) -> str:
        return admin_link(obj.item)

    @display(description=gettext_lazy("平均分"))
    def average_column(self, obj: ItemRating) -> str:
        return f"{obj.average:.1f}" if obj.count else "—"
