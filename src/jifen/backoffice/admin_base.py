"""Building blocks the back-office's ModelAdmins share.

- `ReadOnlyAdmin` / `ReadOnlyTabularInline`: view permission only, for everyone including
  superusers; no bulk actions. The ledger is append-only (DESIGN.md): mistakes are fixed
  by reversal transactions, never by editing rows.
- `ServiceAddMixin`: an add page whose plain form is handed to a service; the service's
  DomainError comes back as form errors and nothing is saved. No model is saved by the
  admin itself (STYLE.md: no business logic in `save_model`).
- `MemberFilter`, `BusinessDateRangeFilter`: list filters by member and by business day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import RangeDateFilter, TextFilter
from unfold.decorators import display
from unfold.forms import AdminForm
from unfold.paginator import InfinitePaginator

from jifen.backoffice.selectors import member_ids_matching
from jifen.core.errors import DomainError


class NumberColumnMixin:
    """A "编号" (id) column: `"pk"` in list_display would be headed "Pk"."""

    @display(description=gettext_lazy("编号"), ordering="pk")
    def number(self, obj: Model) -> int:
        return obj.pk


class ReadOnlyAdmin(NumberColumnMixin, ModelAdmin):
    """View permission only: no add, change or delete, whoever asks; no bulk actions."""

    actions = None
    # Journal tables grow without bound: no COUNT(*) over them on every page.
    paginator = InfinitePaginator
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyTabularInline(TabularInline):
    hide_title = True  # each row's str() above it; the columns already say everything
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def field_column(name: str, description: Any, *, ordering: bool = True):
    """A list/detail column for a model field that has no verbose name of its own.

    Choice fields show their label; other values are formatted by the admin as usual.
    """

    def column(self, obj: Model) -> Any:
        get_display = getattr(obj, f"get_{name}_display", None)
        if get_display:
            return get_display()
        value = getattr(obj, name)
        if isinstance(value, dt.date):  # dates and datetimes, as the admin shows fields
            return formats.localize(timezone.template_localtime(value))
        return value

    column.short_description = description
    column.__name__ = f"{name}_column"
    if ordering:
        column.admin_order_field = name
    return column


def titled(title: Any, base: type = admin.ChoicesFieldListFilter) -> type:
    """A field list filter headed `title` (instead of the field's verbose name)."""

    class Titled(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    Titled.__name__ = f"Titled{base.__name__}"
    return Titled


def admin_link(obj: Model | None, label: Any = None) -> str:
    """A link to the admin change page of `obj` (or "—")."""
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a class="text-primary-600" href="{}">{}</a>', url, label or str(obj))


def changelist_link(model: type[Model], label: Any, **params: Any) -> str:
    from urllib.parse import urlencode

    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if params:
        url += "?" + urlencode(params)
    return format_html('<a class="text-primary-600" href="{}">{}</a>', url, label)


class MemberFilter(TextFilter):
    """A member by number, phone or e-mail (`?member=...`); subclasses say which columns."""

    title = gettext_lazy("会员")
    parameter_name = "member"
    member_fields: tuple[str, ...] = ("member_id",)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        ids = member_ids_matching(value)
        query = Q()
        for name in self.member_fields:
            query |= Q(**{f"{name}__in": ids})
        return queryset.filter(query)


class BusinessDateRangeFilter(RangeDateFilter):
    """A from/to date range on a timestamp, by business day (settings.TIME_ZONE)."""

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        from unfold.utils import parse_date_str

        filters = {}
        for suffix, lookup in (("from", "gte"), ("to", "lte")):
            value = self.used_parameters.get(f"{self.parameter_name}_{suffix}")
            if value and isinstance(value, str):
                day = parse_date_str(value)
                if day is None:
                    return queryset.none()
                filters[f"{self.parameter_name}__date__{lookup}"] = day
        return queryset.filter(**filters)


class ServiceAddMixin:
    """Replace the admin's add page by a plain form whose data a service turns into a row.

    Subclasses set `add_form_class` and `add_fieldsets_service`, and implement
    `perform_add(request, form) -> Model`, which calls exactly one service. A DomainError
    it raises becomes form errors (under the fields it names, else at the top), and the
    database is left as it was.
    """

    add_form_class: type[forms.Form]
    add_fieldsets_service: list = []
    add_field_aliases: dict[str, str] = {}

    def perform_add(self, request: HttpRequest, form: forms.Form) -> Model:
        raise NotImplementedError

    def get_add_form_kwargs(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise DjangoPermissionDenied
        kwargs = self.get_add_form_kwargs(request)
        if request.method == "POST":
            form = self.add_form_class(request.POST, **kwargs)
            if form.is_valid():
                try:
                    obj = self.perform_add(request, form)
                except DomainError as error:
                    self._add_domain_error(form, error)
                else:
                    return self._response_service_add(request, obj)
        else:
            form = self.add_form_class(initial=request.GET.dict(), **kwargs)
        fieldsets = self.add_fieldsets_service or [(None, {"fields": list(form.fields)})]
        admin_form = AdminForm(form, fieldsets, {}, (), model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": _("新增%(name)s") % {"name": self.opts.verbose_name},
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": _form_errors(form),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)

    def _add_domain_error(self, form: forms.Form, error: DomainError) -> None:
        placed = False
        for name in error.fields:
            name = self.add_field_aliases.get(name, name)
            if name in form.fields and name not in form.errors:
                form.add_error(name, error.message)
                placed = True
                break
        if not placed:
            form.add_error(None, error.message)

    def _response_service_add(self, request: HttpRequest, obj: Model) -> HttpResponse:
        self.log_addition(request, obj, [{"added": {}}])
        messages.success(
            request,
            format_html(
                _("已新增{name}“{obj}”。"), name=self.opts.verbose_name, obj=admin_link(obj)
            ),
        )
        if "_addanother" in request.POST:
            return HttpResponseRedirect(request.path)
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
        return HttpResponseRedirect(url)


def _form_errors(form: forms.Form):
    from django.contrib.admin.helpers import AdminErrorList

    return AdminErrorList(form, [])


class DecisionAdminMixin:
    """Approve / reject for requests that wait for an operator's decision.

    The subclass says how to decide and when a row still waits; this mixin turns a
    DomainError into an error message (nothing changes), shows the success message, returns
    to the change page (with HX-Redirect when the dialog posted through htmx) and loops bulk
    actions in id order. The detail actions themselves stay in the subclass, because their
    dialogs carry the subclass's texts: `return self.decide_and_return(request, object_id,
    approve=True)`.
    """

    def decide(self, request: HttpRequest, object_id: int, *, approve: bool) -> str:
        """Call the deciding service; return the success message. Raises DomainError."""
        raise NotImplementedError

    def decision_pending(self, object_id) -> bool:
        """Whether the row still waits for a decision (the detail actions show only then)."""
        raise NotImplementedError

    def _decide(self, request: HttpRequest, object_id, *, approve: bool) -> bool:
        try:
            text = self.decide(request, int(object_id), approve=approve)
        except DomainError as error:
            messages.error(request, f"#{object_id}：{error.message}")
            return False
        messages.success(request, text)
        return True

    def decide_and_return(self, request: HttpRequest, object_id, *, approve: bool) -> HttpResponse:
        self._decide(request, object_id, approve=approve)
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
        if request.headers.get("HX-Request"):
            return HttpResponse(headers={"HX-Redirect": url})
        return HttpResponseRedirect(url)

    def decide_each(self, request: HttpRequest, queryset: QuerySet, *, approve: bool) -> None:
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            self._decide(request, pk, approve=approve)

    def get_actions_detail(self, request: HttpRequest, object_id):
        actions = super().get_actions_detail(request, object_id)
        return actions if self.decision_pending(object_id) else []


class AlertOpenFilter(admin.SimpleListFilter):
    """Alerts (low stock, low code pools) that are open (`resolved_at` empty) or resolved."""

    title = gettext_lazy("状态")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("待处理")), ("no", _("已解除"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset
