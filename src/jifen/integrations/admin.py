"""Back-office pages for integrations: API clients, and the events, purchases, refunds and
custom actions they posted (read-only: facts from other systems are never edited here).

A client is created through `api_client_create`; its secret is shown once, on the page
that answers the creation, and is never stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminTextInputWidget

from jifen.backoffice.admin_base import (
    BusinessDateRangeFilter,
    MemberFilter,
    NumberColumnMixin,
    ReadOnlyAdmin,
    ServiceAddMixin,
    admin_link,
)
from jifen.core.errors import DomainError
from jifen.integrations.models import (
    ApiClient,
    CustomAction,
    Event,
    IntegrationHold,
    Purchase,
    Refund,
)
from jifen.integrations.services import api_client_create, api_client_set_active


class ApiClientForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("名称"),
        max_length=100,
        widget=UnfoldAdminTextInputWidget,
        help_text=gettext_lazy("如：官方商城、门店 POS、CRM"),
    )


@admin.register(ApiClient)
class ApiClientAdmin(ServiceAddMixin, NumberColumnMixin, ModelAdmin):
    add_form_class = ApiClientForm
    list_display = ("number", "name", "key_id", "secret_hint", "active_label", "created_at")
    search_fields = ("name", "key_id")
    ordering = ("-pk",)
    fields = (
        "name",
        "key_id",
        "secret_hint",
        "is_active",
        "created_by",
        "created_at",
        "disabled_at",
    )
    readonly_fields = fields
    actions_detail = ["disable", "enable"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("integrations.add_apiclient")

    def perform_add(self, request: HttpRequest, form: ApiClientForm) -> ApiClient:
        client, secret = api_client_create(name=form.cleaned_data["name"], by=request.user)
        request._jifen_new_secret = secret
        return client

    def _response_service_add(self, request: HttpRequest, obj: ApiClient) -> HttpResponse:
        """The one page that shows the secret; it is not kept anywhere (not even a message)."""
        self.log_addition(request, obj, [{"added": {}}])
        context = {
            **self.admin_site.each_context(request),
            "title": _("接入系统已创建"),
            "opts": self.opts,
            "client": obj,
            "secret": request._jifen_new_secret,
        }
        response = TemplateResponse(request, "integrations/admin/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _set_active(self, request: HttpRequest, object_id, active: bool) -> HttpResponse:
        try:
            api_client_set_active(client_id=int(object_id), active=active)
            messages.success(
                request, _("已启用。") if active else _("已停用，此密钥的请求将被拒绝。")
            )
        except DomainError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(
            reverse("admin:integrations_apiclient_change", args=[object_id])
        )

    @action(
        description=gettext_lazy("停用"),
        icon="block",
        variant=ActionVariant.DANGER,
        permissions=["manage"],
    )
    def disable(self, request: HttpRequest, object_id) -> HttpResponse:
        return self._set_active(request, object_id, False)

    @action(description=gettext_lazy("启用"), icon="check_circle", permissions=["manage"])
    def enable(self, request: HttpRequest, object_id) -> HttpResponse:
        return self._set_active(request, object_id, True)

    @display(description=gettext_lazy("状态"), label={True: "success", False: "danger"})
    def active_label(self, obj: ApiClient):
        return obj.is_active, _("启用") if obj.is_active else _("停用")


class EventMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("number", "event_id", "type", "client", "member", "txn", "received_at")
    list_filter = ("type", "client", ("received_at", BusinessDateRangeFilter), EventMemberFilter)
    list_filter_submit = True
    search_fields = ("event_id",)
    list_select_related = ("client", "member", "transaction")
    ordering = ("-pk",)
    fields = (
        "client",
        "event_id",
        "type",
        "status",
        "member",
        "txn",
        "payload",
        "result",
        "received_at",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("积分交易"))
    def txn(self, obj: Event) -> str:
        return admin_link(obj.transaction, obj.transaction.reference) if obj.transaction_id else "—"


class PurchaseMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "order_id",
        "member",
        "amount",
        "refunded_amount",
        "points",
        "points_reversed",
        "store",
        "channel",
        "occurred_at",
    )
    list_filter = (
        "client",
        "channel",
        ("occurred_at", BusinessDateRangeFilter),
        PurchaseMemberFilter,
    )
    list_filter_submit = True
    search_fields = ("order_id", "store")
    list_select_related = ("member",)
    ordering = ("-pk",)
    fields = (
        "client",
        "order_id",
        "member",
        "amount",
        "refunded_amount",
        "currency",
        "store",
        "channel",
        "occurred_at",
        "lines",
        "points",
        "points_reversed",
        "earn_txn",
        "explanation",
        "preview_link",
    )
    readonly_fields = fields

    @display(description=gettext_lazy("积分交易"))
    def earn_txn(self, obj: Purchase) -> str:
        if not obj.earn_transaction_id:
            return "—"
        return admin_link(obj.earn_transaction, obj.earn_transaction.reference)

    @display(description=gettext_lazy("积分说明"))
    def explanation(self, obj: Purchase) -> str:
        return obj.earn_transaction.explanation if obj.earn_transaction_id else "—"

    @display(description=gettext_lazy("试算"))
    def preview_link(self, obj: Purchase) -> str:
        from django.utils.html import format_html

        return format_html(
            '<a class="text-primary-600" href="{}?purchase={}">{}</a>',
            reverse("admin:rules_rule_preview"),
            obj.pk,
            _("用当前规则试算"),
        )


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("number", "purchase", "amount", "points", "debt", "forgiven", "occurred_at")
    list_select_related = ("purchase",)
    search_fields = ("purchase__order_id",)
    ordering = ("-pk",)


class ActionMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(CustomAction)
class CustomActionAdmin(ReadOnlyAdmin):
    list_display = ("number", "name", "member", "client", "occurred_at")
    list_filter = ("name", ("occurred_at", BusinessDateRangeFilter), ActionMemberFilter)
    list_filter_submit = True
    list_select_related = ("member", "client")
    ordering = ("-pk",)


class HoldMemberFilter(MemberFilter):
    member_fields = ("member_id",)


@admin.register(IntegrationHold)
class IntegrationHoldAdmin(ReadOnlyAdmin):
    """Points as cash in the enterprise's checkout: read-only (the shop captures or
    releases through the API; the expiry job releases what it forgot)."""

    list_display = (
        "number",
        "order_id",
        "client",
        "member",
        "order_amount",
        "points",
        "cash_value",
        "status_label",
        "expires_at",
        "created_at",
    )
    list_filter = (
        "status",
        "client",
        ("created_at", BusinessDateRangeFilter),
        HoldMemberFilter,
    )
    list_filter_submit = True
    search_fields = (
        "order_id",
        "member__member_number",
        "member__phone",
        "member__email",
        "member__external_id",
    )
    list_select_related = ("client", "member")
    ordering = ("-pk",)
    fields = (
        "client",
        "order_id",
        "member",
        "order_amount",
        "currency",
        "points",
        "cash_value",
        "status",
        "expires_at",
        "settled_at",
        "ledger_hold_link",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @display(
        description=gettext_lazy("状态"),
        ordering="status",
        label={
            IntegrationHold.Status.HELD: "warning",
            IntegrationHold.Status.CAPTURED: "success",
            IntegrationHold.Status.RELEASED: "info",
            IntegrationHold.Status.EXPIRED: "danger",
        },
    )
    def status_label(self, obj: IntegrationHold):
        return obj.status, obj.get_status_display()

    @display(description=gettext_lazy("积分交易"))
    def ledger_hold_link(self, obj: IntegrationHold) -> str:
        txn = obj.ledger_hold.hold_transaction
        return admin_link(txn, txn.reference)
