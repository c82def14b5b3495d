"""Back-office pages for members and operators (both are `members.User`).

A new account is made by `member_register` (so it gets its wallet); profile and
permission changes use the admin form; passwords use Django's admin password form.
Accounts are closed (inactive), never deleted: the ledger refers to them.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from unfold.admin import ModelAdmin
from unfold.decorators import display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm
from unfold.widgets import (
    UnfoldAdminEmailInputWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelect2MultipleWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    ReadOnlyTabularInline,
    ServiceAddMixin,
    changelist_link,
)
from jifen.backoffice.selectors import member_ids_matching
from jifen.ledger.models import Adjustment, Lot, Transaction
from jifen.members.models import Address, User
from jifen.members.selectors import PHONE_RE, normalize_phone
from jifen.members.services import member_register

admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    """Operator roles: groups of permissions given to operators' accounts."""


class MemberChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        password = self.fields.get("password")
        if password:
            password.help_text = format_html(
                '{} <a class="text-primary-600" href="../password/">{}</a>',
                _("系统不保存明文密码，无法查看；可以通过"),
                _("修改密码表单"),
            )

    def clean_phone(self) -> str | None:
        phone = normalize_phone(self.cleaned_data.get("phone") or "")
        if phone and not PHONE_RE.match(phone):
            raise forms.ValidationError(_("手机号格式不正确。"))
        return phone or None

    def clean_email(self) -> str | None:
        return (self.cleaned_data.get("email") or "").strip().lower() or None


class MemberAddForm(forms.Form):
    """What `member_register` needs; it validates the password and uniqueness itself."""

    phone = forms.CharField(
        label=_("手机号"), required=False, max_length=20, widget=UnfoldAdminTextInputWidget
    )
    email = forms.EmailField(label=_("邮箱"), required=False, widget=UnfoldAdminEmailInputWidget)
    name = forms.CharField(
        label=_("姓名"), required=False, max_length=100, widget=UnfoldAdminTextInputWidget
    )
    is_staff = forms.BooleanField(
        label=_("运营人员"),
        required=False,
        help_text=_("运营人员可以登录后台；具体权限在保存后设置。"),
        widget=UnfoldBooleanSwitchWidget,
    )
    password1 = forms.CharField(
        label=_("密码"), strip=False, widget=UnfoldAdminPasswordWidget(render_value=False)
    )
    password2 = forms.CharField(
        label=_("确认密码"), strip=False, widget=UnfoldAdminPasswordWidget(render_value=False)
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data


class AddressInline(ReadOnlyTabularInline):
    model = Address
    fields = ("recipient", "phone", "province", "city", "district", "detail", "is_default")
    readonly_fields = fields
    verbose_name_plural = _("收货地址")


@admin.register(User)
class MemberAdmin(ServiceAddMixin, BaseUserAdmin, ModelAdmin):
    form = MemberChangeForm
    change_password_form = AdminPasswordChangeForm
    add_form_class = MemberAddForm
    add_form_template = "admin/change_form.html"
    add_field_aliases = {"password": "password1"}
    add_fieldsets_service = [
        (None, {"fields": ["phone", "email", "name", "is_staff"]}),
        (_("密码"), {"fields": ["password1", "password2"]}),
    ]

    list_display = (
        "member_number",
        "display_name_column",
        "phone",
        "email",
        "available_column",
        "is_active",
        "is_staff",
        "date_joined",
    )
    list_display_links = ("member_number", "display_name_column")
    list_filter = (
        "is_staff",
        "is_active",
        "is_superuser",
        ("date_joined", BusinessDateRangeFilter),
        "groups",
    )
    list_filter_submit = True
    search_fields = ("member_number", "phone", "email", "name")
    search_help_text = _("按会员号、手机号、邮箱（精确）或姓名（包含）搜索")
    ordering = ("-date_joined",)
    list_select_related = ("wallet",)
    list_per_page = 50
    show_full_result_count = False
    inlines = (AddressInline,)
    readonly_fields = (
        "member_number",
        "wallet_balances",
        "wallet_links",
        "date_joined",
        "last_login",
        "closed_at",
    )
    fieldsets = (
        (
            _("资料"),
            {
                "fields": (
                    "member_number",
                    "name",
                    "phone",
                    "email",
                    "gender",
                    "birthday",
                    "avatar",
                    "external_id",
                    "password",
                )
            },
        ),
        (_("积分"), {"fields": ("wallet_balances", "wallet_links")}),
        (
            _("权限"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("重要日期"), {"fields": ("date_joined", "last_login", "closed_at")}),
    )

    filter_horizontal = ()

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        # A searchable multi-select (select2, shipped with Django) for groups and permissions,
        # whose labels are set after unfold styles the plain widget.
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.name in ("groups", "user_permissions"):
            field.widget = UnfoldAdminSelect2MultipleWidget(choices=field.widget.choices)
        return field

    # --- list ---------------------------------------------------------------------------------

    @display(description=_("姓名"))
    def display_name_column(self, obj: User) -> str:
        return obj.name or "—"

    @display(description=_("可用积分"))
    def available_column(self, obj: User) -> str:
        wallet = getattr(obj, "wallet", None)
        return f"{wallet.available:,}" if wallet else "—"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Member number, phone and e-mail match exactly (unique indexes); names contain."""
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = member_ids_matching(term)
        if ids:
            return queryset.filter(pk__in=ids), False
        if "@" in term or normalize_phone(term).lstrip("+").isdigit():
            return queryset.none(), False
        return queryset.filter(name__icontains=term), False

    # --- detail -------------------------------------------------------------------------------

    @display(description=_("钱包余额"))
    def wallet_balances(self, obj: User) -> str:
        wallet = getattr(obj, "wallet", None) if obj.pk else None
        if wallet is None:
            return "—"
        return format_html(
            "{}：<strong>{}</strong>　{}：<strong>{}</strong>　{}：<strong>{}</strong>",
            _("可用"),
            f"{wallet.available:,}",
            _("待生效"),
            f"{wallet.pending:,}",
            _("冻结"),
            f"{wallet.held:,}",
        )

    @display(description=_("积分明细"))
    def wallet_links(self, obj: User) -> str:
        if not obj.pk:
            return "—"
        add_adjustment = (
            reverse("admin:ledger_adjustment_add") + "?" + urlencode({"member": obj.member_number})
        )
        return format_html(
            '{}　{}　{}　<a class="text-primary-600" href="{}">{}</a>',
            changelist_link(Transaction, _("交易流水"), member=obj.member_number),
            changelist_link(Lot, _("积分批次"), member=obj.member_number),
            changelist_link(Adjustment, _("积分调整"), member=obj.member_number),
            add_adjustment,
            _("新增调整"),
        )

    # --- permissions and the add page -------------------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # close an account (inactive) instead: the ledger refers to it

    def get_actions(self, request: HttpRequest) -> dict:
        return {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        # As Django's UserAdmin: whoever adds accounts must also be allowed to change them.
        return super().has_add_permission(request) and self.has_change_permission(request)

    @method_decorator(sensitive_post_parameters())
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise DjangoPermissionDenied
        return ServiceAddMixin.add_view(self, request, form_url, extra_context)

    def perform_add(self, request: HttpRequest, form: MemberAddForm) -> User:
        data = form.cleaned_data
        return member_register(
            phone=data["phone"] or None,
            email=data["email"] or None,
            password=data["password1"],
            name=data["name"],
            is_staff=data["is_staff"],
        )
