"""Back-office pages for tiers.

- Levels: thresholds and benefits, edited through `level_check` / `level_save` (a form
  error, never a broken order of thresholds); levels are deactivated, never deleted.
- Members' levels: read-only rows with their history; "立即重新评定" runs `tier_review`
  for the selected members (or one member from its page); "调整等级" runs `tier_set` with a
  reason. Both are recorded with the operator.
- Level changes and downgrade notices: read-only journals.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    MemberFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    admin_link,
    changelist_link,
)
from jifen.backoffice.selectors import member_ids_matching
from jifen.core.errors import DomainError
from jifen.tiers.models import Level, MemberTier, TierChange, TierNotice
from jifen.tiers.selectors import tier_history
from jifen.tiers.services import level_check, level_save, tier_review, tier_set
from jifen.tiers.templatetags.tiers_tags import money, times, zhe

# --- levels -----------------------------------------------------------------------------------


class LevelForm(forms.ModelForm):
    class Meta:
        model = Level
        fields = (
            "name",
            "code",
            "rank",
            "style",
            "is_active",
            "min_points",
            "min_spend",
            "earn_multiplier",
            "mall_discount",
            "extra_draws",
            "birthday_points",
            "free_shipping",
            "exclusive_items",
            "boost_days",
            "boost_multiplier",
        )

    def _post_clean(self):
        super()._post_clean()  # puts the form's values on the instance
        if not self.errors:
            try:
                level_check(level=self.instance)
            except DomainError as error:
                name = next((f for f in error.fields if f in self.fields), None)
                self.add_error(name, error.message)


@admin.register(Level)
class LevelAdmin(ModelAdmin):
    form = LevelForm
    list_display = (
        "rank",
        "name",
        "code",
        "min_points_column",
        "min_spend_column",
        "multiplier_column",
        "discount_column",
        "extra_draws",
        "birthday_column",
        "free_shipping",
        "exclusive_items",
        "boost_column",
        "members_column",
        "is_active",
    )
    list_display_links = ("rank", "name")
    ordering = ("rank",)
    fieldsets = (
        (None, {"fields": ("name", "code", "rank", "style", "is_active")}),
        (
            gettext_lazy("升级门槛（近 N 个月，任一项达标）"),
            {"fields": ("min_points", "min_spend")},
        ),
        (
            gettext_lazy("权益"),
            {
                "fields": (
                    "earn_multiplier",
                    "mall_discount",
                    "extra_draws",
                    "birthday_points",
                    "free_shipping",
                    "exclusive_items",
                    "boost_days",
                    "boost_multiplier",
                )
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # deactivate instead: members and their history refer to the level

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        members = (
            MemberTier.objects.filter(level=OuterRef("pk"))
            .values("level")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(members=Coalesce(Subquery(members), 0))

    def save_model(self, request, obj, form, change):
        level_save(level=obj)

    @display(description=gettext_lazy("积分门槛"), ordering="min_points")
    def min_points_column(self, obj: Level) -> str:
        return "—" if obj.min_points is None else f"{obj.min_points:,}"

    @display(description=gettext_lazy("消费门槛"), ordering="min_spend")
    def min_spend_column(self, obj: Level) -> str:
        return "—" if obj.min_spend is None else f"¥{money(obj.min_spend)}"

    @display(description=gettext_lazy("积分倍率"))
    def multiplier_column(self, obj: Level) -> str:
        return times(obj.earn_multiplier)

    @display(description=gettext_lazy("商城折扣"))
    def discount_column(self, obj: Level) -> str:
        return zhe(obj.mall_discount)

    @display(description=gettext_lazy("生日礼积分"), ordering="birthday_points")
    def birthday_column(self, obj: Level) -> str:
        return f"{obj.birthday_points:,}"

    @display(description=gettext_lazy("升级加速"))
    def boost_column(self, obj: Level) -> str:
        if not obj.boost_days:
            return "—"
        return _("%(days)s 天 %(times)s") % {
            "days": obj.boost_days,
            "times": times(obj.boost_multiplier),
        }

    @display(description=gettext_lazy("会员数"), ordering="members")
    def members_column(self, obj: Level) -> str:
        return changelist_link(MemberTier, f"{obj.members:,}", level__id__exact=obj.pk)


# --- members' levels --------------------------------------------------------------------------


class SetLevelForm(BaseDialogForm):
    """The "调整等级" dialog: a level and the reason, handed to `tier_set`."""

    level = forms.ChoiceField(label=gettext_lazy("新等级"), widget=UnfoldAdminSelectWidget)
    reason = forms.CharField(
        label=gettext_lazy("原因"), max_length=500, widget=UnfoldAdminTextInputWidget
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [
            (level.code, level.name) for level in Level.objects.filter(is_active=True)
        ]


class MemberTierMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(MemberTier)
class MemberTierAdmin(NumberColumnMixin, ModelAdmin):
    list_display = (
        "member_link",
        "level",
        "since",
        "review_on",
        "boost_until",
        "changes_link",
    )
    list_filter = (
        "level",
        ("review_on", BusinessDateRangeFilter),
        MemberTierMemberFilter,
    )
    list_filter_submit = True
    list_select_related = ("member", "level")
    search_help_text = gettext_lazy("按会员号、手机号、邮箱搜索")
    search_fields = ("member__member_number",)
    ordering = ("-pk",)
    fields = (
        "member_link",
        "level",
        "since",
        "review_on",
        "boost_from",
        "boost_until",
        "boost_multiplier",
        "updated_at",
        "history",
    )
    readonly_fields = fields
    actions = ["review_selected"]
    actions_detail = ["review", "set_level"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # rows appear on a member's first evaluation

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Re-evaluating is what the "change member tier" permission grants (in a group)."""
        return request.user.is_active and request.user.has_perm("tiers.change_membertier")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member_id__in=member_ids_matching(term)), False

    def _review(self, request: HttpRequest, row: MemberTier) -> None:
        try:
            change = tier_review(
                member_id=row.member_id, manual=True, changed_by_id=request.user.pk
            )
        except DomainError as error:
            messages.error(request, f"{row.member}：{error.message}")
            return
        if change is None:
            messages.info(request, _("%(member)s：等级不变。") % {"member": row.member})
        else:
            messages.success(
                request,
                _("%(member)s：%(from)s → %(to)s。")
                % {"member": row.member, "from": change.from_level, "to": change.to_level},
            )

    @action(
        description=gettext_lazy("立即重新评定"),
        permissions=["review"],
        icon="sync",
        variant=ActionVariant.PRIMARY,
        dialog={
            "title": gettext_lazy("立即重新评定该会员？"),
            "description": gettext_lazy(
                "按近期积分与消费重新评定：达标更高等级则升级；未达当前等级则按降级策略降级。"
            ),
            "form_submit_text": gettext_lazy("重新评定"),
        },
    )
    def review(self, request: HttpRequest, form, object_id) -> HttpResponse:
        row = MemberTier.objects.select_related("member").get(pk=object_id)
        self._review(request, row)
        url = reverse("admin:tiers_membertier_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @action(
        description=gettext_lazy("调整等级"),
        permissions=["review"],
        icon="military_tech",
        dialog={
            "title": gettext_lazy("调整该会员的等级"),
            "description": gettext_lazy("新等级自今日起计算评定周期；变更记录会写明原因和操作人。"),
            "form_class": SetLevelForm,
            "form_submit_text": gettext_lazy("调整"),
        },
    )
    def set_level(self, request: HttpRequest, form, object_id) -> HttpResponse:
        row = MemberTier.objects.select_related("member").get(pk=object_id)
        try:
            change = tier_set(
                member_id=row.member_id,
                level_code=form.cleaned_data["level"],
                reason=form.cleaned_data["reason"],
                changed_by_id=request.user.pk,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if change is None:
                messages.info(request, _("%(member)s：等级不变。") % {"member": row.member})
            else:
                messages.success(
                    request,
                    _("%(member)s：%(from)s → %(to)s。")
                    % {"member": row.member, "from": change.from_level, "to": change.to_level},
                )
        url = reverse("admin:tiers_membertier_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    @admin.action(description=gettext_lazy("立即重新评定所选会员"), permissions=["review"])
    def review_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for row in queryset.select_related("member").order_by("pk"):
            self._review(request, row)

    @display(description=gettext_lazy("会员"), ordering="member__member_number")
    def member_link(self, obj: MemberTier) -> str:
        return admin_link(obj.member, f"{obj.member} ({obj.member.member_number})")

    @display(description=gettext_lazy("最近变更"))
    def history(self, obj: MemberTier) -> str:
        changes = tier_history(obj.member_id, limit=10)
        if not changes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td class='pr-4 whitespace-nowrap'>{}</td>"
            "<td class='pr-4 whitespace-nowrap'>{} → {}</td>"
            "<td class='pr-4 whitespace-nowrap'>{}</td>"
            "<td class='pr-4 whitespace-nowrap'>{}</td><td>{}</td></tr>",
            (
                (
                    change.business_date.isoformat(),
                    change.from_level or "—",
                    change.to_level,
                    change.get_reason_display(),
                    change.changed_by or _("系统"),
                    change.explanation,
                )
                for change in changes
            ),
        )
        more = changelist_link(TierChange, _("全部变更"), member=obj.member.member_number)
        return format_html("<table class='text-sm'>{}</table><p class='mt-2'>{}</p>", rows, more)

    @display(description=gettext_lazy("变更记录"))
    def changes_link(self, obj: MemberTier) -> str:
        return changelist_link(TierChange, _("查看"), member=obj.member.member_number)


# --- journals ---------------------------------------------------------------------------------


class TierChangeMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "member_link",
        "from_level",
        "to_level",
        "reason_label",
        "explanation",
        "changed_by",
        "business_date",
    )
    list_filter = (
        "reason",
        "to_level",
        ("business_date", BusinessDateRangeFilter),
        TierChangeMemberFilter,
    )
    list_filter_submit = True
    list_select_related = ("member", "from_level", "to_level", "changed_by")
    ordering = ("-pk",)
    fields = (
        "member_link",
        "from_level",
        "to_level",
        "reason",
        "explanation",
        "points_earned",
        "amount_spent",
        "changed_by",
        "business_date",
        "created_at",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: TierChange) -> str:
        return admin_link(obj.member, f"{obj.member} ({obj.member.member_number})")

    @display(
        description=gettext_lazy("原因"),
        label={
            TierChange.Reason.UPGRADE: "success",
            TierChange.Reason.REVIEW: "info",
            TierChange.Reason.MANUAL_REVIEW: "warning",
            TierChange.Reason.MANUAL: "warning",
        },
    )
    def reason_label(self, obj: TierChange) -> tuple[str, str]:
        return obj.reason, obj.get_reason_display()


class TierNoticeMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(TierNotice)
class TierNoticeAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "member_link",
        "level",
        "projected_level",
        "review_on",
        "points_needed",
        "spend_needed",
        "created_at",
    )
    list_filter = ("level", ("review_on", BusinessDateRangeFilter), TierNoticeMemberFilter)
    list_filter_submit = True
    list_select_related = ("member", "level", "projected_level")
    ordering = ("-pk",)
    fields = list_display[1:]
    readonly_fields = fields

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: TierNotice) -> str:
        return admin_link(obj.member, f"{obj.member} ({obj.member.member_number})")
