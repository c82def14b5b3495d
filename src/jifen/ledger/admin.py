"""Back-office pages for the ledger.

The journal (transactions, entries, lot movements), lots, holds and accounts are read-only
for everyone, superusers included: mistakes are fixed by reversal transactions, never by
editing history. Adjustments are requested through `adjustment_request` and decided through
`adjustment_decide`; the admin only parses input and shows the service's answer.
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, Model, OuterRef, QuerySet, Subquery, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import RangeDateFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    DecisionAdminMixin,
    MemberFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    ServiceAddMixin,
    admin_link,
    changelist_link,
    field_column,
    titled,
)
from jifen.backoffice.selectors import member_ids_matching
from jifen.ledger.models import (
    Account,
    Adjustment,
    Entry,
    Hold,
    Lot,
    LotMovement,
    Transaction,
)
from jifen.ledger.services import adjustment_decide, adjustment_request
from jifen.members.selectors import member_find_by_login


def _points(value: int | None) -> str:
    return "—" if value is None else f"{value:+,}" if value < 0 else f"{value:,}"


def _signed(value: int) -> str:
    return f"{value:+,}"


def account_label(account: Account) -> str:
    """A wallet by its member's name, a system account by its code."""
    if account.kind == Account.Kind.WALLET and account.member_id:
        return _("%(member)s 的钱包") % {"member": account.member.display_name}
    return account.code or str(account)


# --- accounts (wallets and system accounts) -----------------------------------------------------


class AccountScopeFilter(admin.SimpleListFilter):
    title = gettext_lazy("范围")
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return (("wallet", _("会员钱包")), ("system", _("系统账户")))

    def queryset(self, request, queryset):
        if self.value() == "wallet":
            return queryset.filter(kind=Account.Kind.WALLET)
        if self.value() == "system":
            return queryset.exclude(kind=Account.Kind.WALLET)
        return queryset


class LotColumns:
    """Lot fields have no verbose names: their columns are named here."""

    lot_status = field_column("status", gettext_lazy("状态"))
    lot_amount = field_column("amount", gettext_lazy("积分"))
    lot_remaining = field_column("remaining", gettext_lazy("剩余"))
    lot_expires_on = field_column("expires_on", gettext_lazy("到期日"))
    lot_available_on = field_column("available_on", gettext_lazy("生效日"))
    lot_created_at = field_column("created_at", gettext_lazy("创建时间"))


class AccountMemberFilter(MemberFilter):
    member_fields = ("member_id",)


class LotInline(LotColumns, ReadOnlyTabularInline):
    model = Lot
    fields = (
        "lot_link",
        "lot_status",
        "lot_amount",
        "lot_remaining",
        "lot_expires_on",
        "lot_available_on",
        "txn",
    )
    readonly_fields = fields
    ordering = ("status", "expires_on", "pk")  # the spending order
    per_page = 20
    verbose_name_plural = gettext_lazy("有剩余积分的批次")

    @display(description=gettext_lazy("批次"))
    def lot_link(self, obj: Lot) -> str:
        return admin_link(obj, f"#{obj.pk}")

    @display(description=gettext_lazy("来源交易"))
    def txn(self, obj: Lot) -> str:
        return admin_link(obj.transaction, obj.transaction.reference)

    def get_queryset(self, request):
        # Lots with points left, on the spend-order index; used-up lots are in 积分批次.
        return super().get_queryset(request).filter(remaining__gt=0).select_related("transaction")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "label",
        "kind",
        "member_link",
        "available",
        "pending",
        "held",
        "entries_balance_column",
    )
    list_filter = (AccountScopeFilter, "kind", AccountMemberFilter)
    list_filter_submit = True
    search_fields = ("code",)
    search_help_text = gettext_lazy("按系统账户编码，或会员号、手机号、邮箱搜索")
    list_select_related = ("member",)
    ordering = ("kind", "pk")
    fields = (
        "kind",
        "code",
        "member_link",
        "available",
        "pending",
        "held",
        "entries_balance_column",
        "links",
        "account_created_at",
    )
    readonly_fields = fields
    inlines = (LotInline,)
    account_created_at = field_column("created_at", gettext_lazy("开立时间"))

    def get_fields(self, request, obj=None):
        if obj is not None and obj.kind == Account.Kind.WALLET:
            hidden = {"code", "entries_balance_column"}
        else:
            hidden = {"member_link", "available", "pending", "held", "links"}
        return [name for name in self.fields if name not in hidden]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # System accounts keep no cached balance: the sum of their entries, computed only for
        # the rows on the page (a correlated subquery behind a CASE).
        entries_sum = (
            Entry.objects.filter(account=OuterRef("pk"))
            .values("account")
            .annotate(s=Sum("amount"))
            .values("s")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                entries_balance=Case(
                    When(kind=Account.Kind.WALLET, then=Value(None)),
                    default=Subquery(entries_sum),
                )
            )
        )

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = member_ids_matching(term)
        if ids:
            return queryset.filter(member_id__in=ids), False
        return queryset.filter(code__iexact=term), False

    def get_inline_instances(self, request, obj=None):
        if obj is None or obj.kind != Account.Kind.WALLET:
            return []
        return super().get_inline_instances(request, obj)

    @display(description=gettext_lazy("账户"))
    def label(self, obj: Account) -> str:
        return account_label(obj)

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: Account) -> str:
        return admin_link(obj.member) if obj.member_id else "—"

    @display(description=gettext_lazy("分录合计（系统账户）"))
    def entries_balance_column(self, obj: Account) -> str:
        if obj.kind == Account.Kind.WALLET:
            return "—"
        return _points(getattr(obj, "entries_balance", None) or 0)

    @display(description=gettext_lazy("明细"))
    def links(self, obj: Account) -> str:
        if obj.kind != Account.Kind.WALLET:
            return "—"
        number = obj.member.member_number
        return format_html(
            "{}　{}",
            changelist_link(Transaction, _("交易流水"), member=number),
            changelist_link(Lot, _("积分批次"), member=number),
        )


# --- the journal ---------------------------------------------------------------------------------


class EntryInline(ReadOnlyTabularInline):
    model = Entry
    fields = ("account_link", "bucket_column", "amount_column", "member_link")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("分录")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__member").order_by("pk")

    @display(description=gettext_lazy("账户"))
    def account_link(self, obj: Entry) -> str:
        return admin_link(obj.account, account_label(obj.account))

    @display(description=gettext_lazy("余额类型"))
    def bucket_column(self, obj: Entry) -> str:
        return obj.get_bucket_display()

    @display(description=gettext_lazy("金额"))
    def amount_column(self, obj: Entry) -> str:
        return _signed(obj.amount)

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: Entry) -> str:
        return admin_link(obj.account.member) if obj.account.member_id else "—"


class LotMovementInline(ReadOnlyTabularInline):
    model = LotMovement
    fields = ("lot_link", "amount_column", "lot_expires_on")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("批次变动")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("lot").order_by("pk")

    @display(description=gettext_lazy("批次"))
    def lot_link(self, obj: LotMovement) -> str:
        return admin_link(obj.lot, f"#{obj.lot_id}")

    @display(description=gettext_lazy("变动"))
    def amount_column(self, obj: LotMovement) -> str:
        return _signed(obj.amount)

    @display(description=gettext_lazy("到期日"))
    def lot_expires_on(self, obj: LotMovement) -> str:
        return str(obj.lot.expires_on or "—")


class TransactionMemberFilter(MemberFilter):
    member_fields = ("member_id", "counterparty_id")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "created_at",
        "kind",
        "reference",
        "member_link",
        "counterparty_link",
        "points_column",
        "explanation_short",
    )
    list_display_links = ("number", "reference")
    list_filter = (
        "kind",
        ("created_at", BusinessDateRangeFilter),
        TransactionMemberFilter,
    )
    list_filter_submit = True
    search_fields = ("reference",)
    search_help_text = gettext_lazy("按唯一参考号（精确），或会员号、手机号、邮箱搜索")
    list_select_related = ("member", "counterparty")
    ordering = ("-pk",)
    fields = (
        "kind",
        "reference",
        "created_at",
        "member_link",
        "counterparty_link",
        "points_column",
        "explanation",
        "details_pretty",
        "reverses_link",
        "reversals_links",
        "created_by",
    )
    readonly_fields = fields
    inlines = (EntryInline, LotMovementInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("entries")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = member_ids_matching(term)
        if ids:
            return queryset.filter(member_id__in=ids) | queryset.filter(
                counterparty_id__in=ids
            ), False
        return queryset.filter(reference=term), False

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: Transaction) -> str:
        return admin_link(obj.member)

    @display(description=gettext_lazy("对方"))
    def counterparty_link(self, obj: Transaction) -> str:
        return admin_link(obj.counterparty)

    @display(description=gettext_lazy("积分"))
    def points_column(self, obj: Transaction) -> str:
        # The size of the posting: the sum of its positive entries.
        return f"{sum(e.amount for e in obj.entries.all() if e.amount > 0):,}"

    @display(description=gettext_lazy("说明"))
    def explanation_short(self, obj: Transaction) -> str:
        text = obj.explanation or ""
        return text if len(text) <= 40 else text[:40] + "…"

    @display(description=gettext_lazy("明细"))
    def details_pretty(self, obj: Transaction) -> str:
        return format_html(
            "<pre class='whitespace-pre-wrap'>{}</pre>",
            json.dumps(obj.details, ensure_ascii=False, indent=2, sort_keys=True),
        )

    @display(description=gettext_lazy("冲正的交易"))
    def reverses_link(self, obj: Transaction) -> str:
        return admin_link(obj.reverses, obj.reverses.reference) if obj.reverses_id else "—"

    @display(description=gettext_lazy("冲正记录"))
    def reversals_links(self, obj: Transaction) -> str:
        reversals = list(obj.reversals.all())
        if not reversals:
            return "—"
        return format_html_join(" ", "{}", ((admin_link(r, r.reference),) for r in reversals))


class LotMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Lot)
class LotAdmin(LotColumns, ReadOnlyAdmin):
    list_display = (
        "number",
        "member_link",
        "lot_status",
        "lot_amount",
        "lot_remaining",
        "lot_expires_on",
        "lot_available_on",
        "txn_link",
        "lot_created_at",
    )
    list_filter = (
        ("status", titled(gettext_lazy("状态"))),
        ("expires_on", titled(gettext_lazy("到期日"), RangeDateFilter)),
        LotMemberFilter,
    )
    list_filter_submit = True
    search_fields = ("transaction__reference",)
    search_help_text = gettext_lazy("按来源交易参考号（精确），或会员号、手机号、邮箱搜索")
    list_select_related = ("account__member", "transaction")
    ordering = ("-pk",)
    fields = (
        "member_link",
        "account_link",
        "lot_status",
        "lot_amount",
        "lot_remaining",
        "lot_expires_on",
        "lot_available_on",
        "txn_link",
        "lot_created_at",
    )
    readonly_fields = fields
    inlines = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = member_ids_matching(term)
        if ids:
            return queryset.filter(member_id__in=ids), False
        return queryset.filter(transaction__reference=term), False

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: Lot) -> str:
        return admin_link(obj.account.member)

    @display(description=gettext_lazy("账户"))
    def account_link(self, obj: Lot) -> str:
        return admin_link(obj.account, account_label(obj.account))

    @display(description=gettext_lazy("来源交易"))
    def txn_link(self, obj: Lot) -> str:
        return admin_link(obj.transaction, obj.transaction.reference)


@admin.register(LotMovement)
class LotMovementAdmin(ReadOnlyAdmin):
    list_display = ("number", "txn_link", "txn_kind", "lot_link", "movement_amount")
    list_filter = ("transaction__kind",)
    search_fields = ("transaction__reference",)
    search_help_text = gettext_lazy("按交易参考号（精确）搜索")
    list_select_related = ("transaction", "lot")
    ordering = ("-pk",)
    fields = ("txn_link", "txn_kind", "lot_link", "movement_amount")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(transaction__reference=term) if term else queryset), False

    @display(description=gettext_lazy("变动"))
    def movement_amount(self, obj: LotMovement) -> str:
        return _signed(obj.amount)

    @display(description=gettext_lazy("交易"))
    def txn_link(self, obj: LotMovement) -> str:
        return admin_link(obj.transaction, obj.transaction.reference)

    @display(description=gettext_lazy("类型"))
    def txn_kind(self, obj: LotMovement) -> str:
        return obj.transaction.get_kind_display()

    @display(description=gettext_lazy("批次"))
    def lot_link(self, obj: LotMovement) -> str:
        return admin_link(obj.lot, f"#{obj.lot_id}")


class HoldMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "member_link",
        "hold_points",
        "hold_status",
        "hold_txn",
        "settle_txn",
        "hold_expires_at",
        "hold_created_at",
    )
    list_filter = (
        ("status", titled(gettext_lazy("状态"))),
        ("created_at", titled(gettext_lazy("冻结时间"), BusinessDateRangeFilter)),
        HoldMemberFilter,
    )
    list_filter_submit = True
    search_fields = ("hold_transaction__reference",)
    search_help_text = gettext_lazy("按冻结交易参考号（精确），或会员号、手机号、邮箱搜索")
    list_select_related = ("member", "account__member", "hold_transaction", "settle_transaction")
    ordering = ("-pk",)
    fields = (
        "member_link",
        "account_link",
        "hold_points",
        "hold_status",
        "hold_txn",
        "settle_txn",
        "hold_expires_at",
        "hold_created_at",
    )
    readonly_fields = fields
    hold_points = field_column("points", gettext_lazy("积分"))
    hold_status = field_column("status", gettext_lazy("状态"))
    hold_expires_at = field_column("expires_at", gettext_lazy("过期时间"))
    hold_created_at = field_column("created_at", gettext_lazy("冻结时间"))

    @display(description=gettext_lazy("会员"))
    def member_link(self, obj: Hold) -> str:
        return admin_link(obj.member)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        ids = member_ids_matching(term)
        if ids:
            return queryset.filter(member_id__in=ids), False
        return queryset.filter(hold_transaction__reference=term), False

    @display(description=gettext_lazy("账户"))
    def account_link(self, obj: Hold) -> str:
        return admin_link(obj.account, account_label(obj.account))

    @display(description=gettext_lazy("冻结交易"))
    def hold_txn(self, obj: Hold) -> str:
        return admin_link(obj.hold_transaction, obj.hold_transaction.reference)

    @display(description=gettext_lazy("结算交易"))
    def settle_txn(self, obj: Hold) -> str:
        if not obj.settle_transaction_id:
            return "—"
        return admin_link(obj.settle_transaction, obj.settle_transaction.reference)


# --- adjustments ---------------------------------------------------------------------------------


class AdjustmentRequestForm(forms.Form):
    """Parse an operator's request; `adjustment_request` decides everything else."""

    member = forms.CharField(
        label=gettext_lazy("会员"),
        max_length=254,
        help_text=gettext_lazy("会员号、手机号或邮箱"),
        widget=UnfoldAdminTextInputWidget,
    )
    points = forms.IntegerField(
        label=gettext_lazy("积分"),
        help_text=gettext_lazy("正数增加，负数扣减；不能为 0"),
        widget=UnfoldAdminIntegerFieldWidget,
    )
    reason = forms.CharField(
        label=gettext_lazy("原因"),
        max_length=500,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
    )
    # One key per rendered form: a double submit replays the first request instead of
    # adjusting twice (the service treats a repeated reference as the same request).
    reference = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def clean_member(self):
        member = member_find_by_login(self.cleaned_data["member"])
        if member is None:
            raise forms.ValidationError(_("找不到该会员。"))
        return member

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("调整积分必须是非零整数。"))
        return points

    def clean_reference(self):
        value = self.cleaned_data["reference"]
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise forms.ValidationError(_("表单已失效，请重新提交。")) from None


class AdjustmentMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Adjustment)
class AdjustmentAdmin(DecisionAdminMixin, ServiceAddMixin, NumberColumnMixin, ModelAdmin):
    add_form_class = AdjustmentRequestForm
    add_fieldsets_service = [(None, {"fields": ["member", "points", "reason", "reference"]})]
    list_display = (
        "number",
        "member",
        "points_column",
        "reason_short",
        "status_label",
        "requested_by",
        "decided_by",
        "decided_at",
        "created_at",
    )
    list_filter = ("status", ("created_at", BusinessDateRangeFilter), AdjustmentMemberFilter)
    list_filter_submit = True
    search_fields = ("reference",)
    search_help_text = gettext_lazy("按会员号、手机号、邮箱搜索")
    list_select_related = ("member", "requested_by", "decided_by")
    ordering = ("-pk",)
    fields = (
        "member",
        "points_column",
        "reason",
        "status",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "txn_link",
        "reference",
    )
    readonly_fields = fields
    actions = ["approve_selected", "reject_selected"]
    actions_detail = ["approve", "reject"]

    # --- permissions: requests are added, never edited or deleted ---------------------------

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest, obj: object = None) -> bool:
        """Deciding is what the "change adjustment" permission grants (in a group)."""
        return request.user.is_active and request.user.has_perm("ledger.change_adjustment")

    # --- add: the service does the work ---------------------------------------------------------

    def get_add_form_kwargs(self, request):
        return {}

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            # A fresh reference per rendered form (see AdjustmentRequestForm.reference).
            request.GET = request.GET.copy()
            request.GET["reference"] = str(uuid.uuid4())
        return super().add_view(request, form_url, extra_context)

    def perform_add(self, request: HttpRequest, form: AdjustmentRequestForm) -> Adjustment:
        data = form.cleaned_data
        adjustment = adjustment_request(
            member_id=data["member"].pk,
            points=data["points"],
            reason=data["reason"],
            reference=f"admin:{data['reference']}",
            requested_by=request.user,
        )
        if adjustment.status == Adjustment.Status.PENDING_APPROVAL:
            messages.warning(request, _("调整数额超过审批阈值，需另一位运营人员审批后生效。"))
        return adjustment

    # --- decisions ------------------------------------------------------------------------------

    def decide(self, request: HttpRequest, object_id: int, *, approve: bool) -> str:
        adjustment = adjustment_decide(
            adjustment_id=object_id, approve=approve, decided_by=request.user
        )
        if approve:
            return _("调整 #%(id)s 已批准并执行（%(points)s 积分）。") % {
                "id": adjustment.pk,
                "points": _points(adjustment.points),
            }
        return _("调整 #%(id)s 已拒绝。") % {"id": adjustment.pk}

    def decision_pending(self, object_id) -> bool:
        return Adjustment.objects.filter(
            pk=object_id, status=Adjustment.Status.PENDING_APPROVAL
        ).exists()

    @action(
        description=gettext_lazy("批准"),
        permissions=["decide"],
        icon="check_circle",
        variant=ActionVariant.SUCCESS,
        dialog={
            "title": gettext_lazy("批准这笔调整？"),
            "description": gettext_lazy("批准后立即记入会员钱包；申请人不能批准自己的申请。"),
            "form_submit_text": gettext_lazy("批准"),
        },
    )
    def approve(self, request: HttpRequest, form, object_id) -> HttpResponse:
        return self.decide_and_return(request, object_id, approve=True)

    @action(
        description=gettext_lazy("拒绝"),
        permissions=["decide"],
        icon="cancel",
        variant=ActionVariant.DANGER,
        dialog={
            "title": gettext_lazy("拒绝这笔调整？"),
            "description": gettext_lazy("拒绝后不会变动积分。"),
            "form_submit_text": gettext_lazy("拒绝"),
        },
    )
    def reject(self, request: HttpRequest, form, object_id) -> HttpResponse:
        return self.decide_and_return(request, object_id, approve=False)

    @admin.action(description=gettext_lazy("批准所选调整"), permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.decide_each(request, queryset, approve=True)

    @admin.action(description=gettext_lazy("拒绝所选调整"), permissions=["decide"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.decide_each(request, queryset, approve=False)

    # --- display -------------------------------------------------------------------------------

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member_id__in=member_ids_matching(term)), False

    @display(description=gettext_lazy("积分"))
    def points_column(self, obj: Adjustment) -> str:
        return _points(obj.points)

    @display(description=gettext_lazy("原因"))
    def reason_short(self, obj: Adjustment) -> str:
        return obj.reason if len(obj.reason) <= 30 else obj.reason[:30] + "…"

    @display(
        description=gettext_lazy("状态"),
        label={
            Adjustment.Status.PENDING_APPROVAL: "warning",
            Adjustment.Status.APPLIED: "success",
            Adjustment.Status.REJECTED: "danger",
        },
    )
    def status_label(self, obj: Adjustment) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    @display(description=gettext_lazy("交易"))
    def txn_link(self, obj: Adjustment) -> str:
        return admin_link(obj.transaction, obj.transaction.reference) if obj.transaction_id else "—"
