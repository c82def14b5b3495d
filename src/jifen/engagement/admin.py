"""Back-office pages for check-in, tasks and sharing.

- The check-in and share settings are one row, edited on its change page; the form is
  checked by `engagement_config_validate` and saved by `engagement_config_update`.
- Tasks are created and changed through `task_save` (validated there); a task that has
  completions cannot be deleted — switch it off instead, history stays.
- Check-ins, task completions, shares and make-up card grants are read-only history; an
  operator may give make-up cards (through `makeup_cards_grant`, once per rendered form).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin
from django.db.models import Count, Model
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import display
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from jifen.backoffice.admin_base import (
    MemberFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    ServiceAddMixin,
    admin_link,
    titled,
)
from jifen.core.errors import DomainError
from jifen.engagement import services
from jifen.engagement.models import (
    Checkin,
    EngagementConfig,
    MakeupCardGrant,
    MemberEngagement,
    Share,
    Task,
    TaskCompletion,
)
from jifen.members.selectors import member_find_by_login


def _domain_error_to_form(form: forms.Form, error: DomainError) -> None:
    placed = False
    for name, message in error.fields.items():
        if name in form.fields:
            form.add_error(name, str(message))
            placed = True
    if not placed:
        form.add_error(None, error.message)


class MemberColumnMixin:
    @display(description=gettext_lazy("会员"), ordering="member_id")
    def member_link(self, obj: Model) -> str:
        return admin_link(obj.member, obj.member.display_name)


# --- settings ------------------------------------------------------------------------------


class EngagementConfigForm(forms.ModelForm):
    class Meta:
        model = EngagementConfig
        fields = services.CONFIG_FIELDS
        widgets = {
            "checkin_rewards": UnfoldAdminTextareaWidget(attrs={"rows": 2}),
            "checkin_bonuses": UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        }

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services.engagement_config_validate(cleaned)
            except DomainError as error:
                _domain_error_to_form(self, error)
        return cleaned


@admin.register(EngagementConfig)
class EngagementConfigAdmin(ModelAdmin):
    """One row: the list page opens it; no add, no delete."""

    form = EngagementConfigForm
    fieldsets = (
        (
            gettext_lazy("每日签到"),
            {
                "fields": (
                    "checkin_enabled",
                    "checkin_rewards",
                    "checkin_bonuses",
                    "weekend_factor",
                    "makeup_enabled",
                )
            },
        ),
        (gettext_lazy("分享"), {"fields": ("share_points", "share_daily_cap")}),
        (gettext_lazy("记录"), {"fields": ("updated_at", "updated_by")}),
    )
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        config = services.engagement_config()
        return HttpResponseRedirect(
            reverse("admin:engagement_engagementconfig_change", args=[config.pk])
        )

    def save_model(self, request, obj, form, change) -> None:
        values = {name: form.cleaned_data[name] for name in services.CONFIG_FIELDS}
        services.engagement_config_update(values=values, updated_by_id=request.user.pk)

    def response_change(self, request, obj):
        # The list page redirects back here: stay on the one row after saving.
        response = super().response_change(request, obj)
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return HttpResponseRedirect(request.path)
        return response


# --- tasks ---------------------------------------------------------------------------------


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = (
            "code",
            "title",
            "description",
            "evidence",
            "action",
            "required_details",
            "points",
            "makeup_cards",
            "period",
            "cap",
            "starts_at",
            "ends_at",
            "is_active",
            "sort_order",
        )
        widgets = {"required_details": UnfoldAdminTextareaWidget(attrs={"rows": 2})}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            candidate = Task(pk=self.instance.pk, **cleaned)
            try:
                services.task_validate(candidate)
            except DomainError as error:
                _domain_error_to_form(self, error)
        return cleaned


@admin.register(Task)
class TaskAdmin(NumberColumnMixin, ModelAdmin):
    form = TaskForm
    list_display = (
        "sort_order",
        "code",
        "title",
        "evidence",
        "action",
        "reward",
        "frequency",
        "is_active",
        "completion_count",
    )
    list_display_links = ("code", "title")
    list_filter = ("is_active", "evidence", "period")
    search_fields = ("code", "title", "action")
    ordering = ("sort_order", "id")
    fieldsets = (
        (None, {"fields": ("code", "title", "description", "is_active", "sort_order")}),
        (
            gettext_lazy("完成依据"),
            {"fields": ("evidence", "action", "required_details")},
        ),
        (gettext_lazy("奖励与频次"), {"fields": ("points", "makeup_cards", "period", "cap")}),
        (gettext_lazy("有效期"), {"fields": ("starts_at", "ends_at")}),
    )

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(n_completions=Count("completions"))

    @display(description=gettext_lazy("奖励"))
    def reward(self, obj: Task) -> str:
        parts = []
        if obj.points:
            parts.append(_("%(points)s 积分") % {"points": obj.points})
        if obj.makeup_cards:
            parts.append(_("%(cards)s 张补签卡") % {"cards": obj.makeup_cards})
        return " + ".join(parts) or "—"

    @display(description=gettext_lazy("频次"))
    def frequency(self, obj: Task) -> str:
        return f"{obj.get_period_display()} × {obj.cap}"

    @display(description=gettext_lazy("完成次数"), ordering="n_completions")
    def completion_count(self, obj: Task) -> int:
        return obj.n_completions

    def save_model(self, request, obj, form, change) -> None:
        services.task_save(task=obj)

    def has_delete_permission(self, request: HttpRequest, obj: Task | None = None) -> bool:
        if obj is not None and TaskCompletion.objects.filter(task=obj).exists():
            return False  # completed tasks stay as history; switch them off instead
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would skip the check above
        return actions


# --- history -------------------------------------------------------------------------------


class CheckinMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Checkin)
class CheckinAdmin(MemberColumnMixin, ReadOnlyAdmin):
    list_display = (
        "number",
        "day",
        "member_link",
        "streak",
        "points",
        "bonus",
        "is_makeup",
        "created_at",
    )
    list_filter = (
        ("is_makeup", titled(gettext_lazy("补签"), admin.BooleanFieldListFilter)),
        CheckinMemberFilter,
    )
    list_filter_submit = True
    date_hierarchy = "day"
    search_fields = ("reference",)
    list_select_related = ("member",)
    ordering = ("-day", "-pk")
    fields = (
        "member_link",
        "day",
        "streak",
        "points",
        "bonus",
        "is_makeup",
        "reference",
        "created_at",
    )
    readonly_fields = fields


class CompletionMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(TaskCompletion)
class TaskCompletionAdmin(MemberColumnMixin, ReadOnlyAdmin):
    list_display = (
        "number",
        "created_at",
        "task",
        "member_link",
        "period_key",
        "slot",
        "points",
        "makeup_cards",
        "reference",
    )
    list_filter = ("task", CompletionMemberFilter)
    list_filter_submit = True
    search_fields = ("reference",)
    list_select_related = ("member", "task")
    ordering = ("-pk",)
    fields = (
        "task",
        "member_link",
        "period_key",
        "slot",
        "reference",
        "points",
        "makeup_cards",
        "occurred_at",
        "created_at",
    )
    readonly_fields = fields


class ShareMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Share)
class ShareAdmin(MemberColumnMixin, ReadOnlyAdmin):
    list_display = ("number", "created_at", "member_link", "target", "channel", "slot", "points")
    list_filter = ("channel", ShareMemberFilter)
    list_filter_submit = True
    date_hierarchy = "day"
    search_fields = ("target",)
    list_select_related = ("member",)
    ordering = ("-pk",)
    fields = ("member_link", "target", "channel", "day", "slot", "points", "created_at")
    readonly_fields = fields


class GrantMemberFilter(MemberFilter):
    member_fields = ("member_id",)


class MakeupCardGrantForm(forms.Form):
    """An operator gives make-up cards; `makeup_cards_grant` does the rest."""

    member = forms.CharField(
        label=gettext_lazy("会员"),
        max_length=254,
        help_text=gettext_lazy("会员号、手机号或邮箱"),
        widget=UnfoldAdminTextInputWidget,
    )
    cards = forms.IntegerField(
        label=gettext_lazy("张数"),
        min_value=1,
        max_value=100,
        widget=UnfoldAdminIntegerFieldWidget,
    )
    reason = forms.CharField(
        label=gettext_lazy("原因"), max_length=200, widget=UnfoldAdminTextInputWidget
    )
    # One key per rendered form: a double submit gives the cards once.
    reference = forms.UUIDField(widget=forms.HiddenInput)

    def clean_member(self):
        member = member_find_by_login(self.cleaned_data["member"])
        if member is None:
            raise forms.ValidationError(_("找不到该会员。"))
        return member


@admin.register(MakeupCardGrant)
class MakeupCardGrantAdmin(ServiceAddMixin, MemberColumnMixin, ReadOnlyAdmin):
    add_form_class = MakeupCardGrantForm
    add_fieldsets_service = [(None, {"fields": ["member", "cards", "reason", "reference"]})]
    list_display = (
        "number",
        "created_at",
        "member_link",
        "cards",
        "reason",
        "granted_by",
        "reference",
    )
    list_filter = (GrantMemberFilter,)
    list_filter_submit = True
    search_fields = ("reference",)
    list_select_related = ("member", "granted_by")
    ordering = ("-pk",)
    fields = ("member_link", "cards", "reason", "granted_by", "reference", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.has_perm("engagement.add_makeupcardgrant")

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            request.GET = request.GET.copy()
            request.GET["reference"] = str(uuid.uuid4())
        return super().add_view(request, form_url, extra_context)

    def perform_add(self, request: HttpRequest, form: MakeupCardGrantForm) -> MakeupCardGrant:
        data = form.cleaned_data
        grant, _created = services.makeup_cards_grant(
            member_id=data["member"].pk,
            cards=data["cards"],
            reference=f"admin:{data['reference']}",
            reason=data["reason"],
            granted_by_id=request.user.pk,
        )
        return grant


class HolderMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(MemberEngagement)
class MemberEngagementAdmin(MemberColumnMixin, ReadOnlyAdmin):
    list_display = ("number", "member_link", "makeup_cards")
    list_filter = (HolderMemberFilter,)
    list_filter_submit = True
    list_select_related = ("member",)
    ordering = ("-pk",)
    fields = ("member_link", "makeup_cards", "checkin_count")
    readonly_fields = fields

    @display(description=gettext_lazy("签到天数"))
    def checkin_count(self, obj: MemberEngagement) -> int:
        return Checkin.objects.filter(member_id=obj.member_id).count()
