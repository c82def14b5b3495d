"""Back-office pages for earning rules: versions, a new version per save, and the preview.

Rule versions are never edited: "编辑" opens the add form filled with the current version,
and saving calls `rule_save`, which puts a new version in force. The preview
(`admin:rules_rule_preview`) evaluates a sample or a recent real purchase under the rules
in force (with an unsaved draft, from the rule form's "先试算" button) and shows what each
rule gives and why. Nothing here decides anything: forms parse, services and selectors act.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import (
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminSingleDateWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from jifen.backoffice.admin_base import NumberColumnMixin, ServiceAddMixin
from jifen.core.errors import DomainError
from jifen.members.selectors import member_find_by_login
from jifen.rules.models import Rule
from jifen.rules.selectors import purchase_preview
from jifen.rules.services import RULE_FIELDS, rule_clean, rule_retire, rule_save

TEXT = UnfoldAdminTextInputWidget
INT = UnfoldAdminIntegerFieldWidget
DEC = UnfoldAdminDecimalFieldWidget


class RuleForm(forms.Form):
    """An operator's rule; `rule_clean` (in rule_save) is the one validation that counts."""

    code = forms.SlugField(label=gettext_lazy("规则编码"), max_length=50, widget=TEXT)
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100, widget=TEXT)
    kind = forms.ChoiceField(
        label=gettext_lazy("类型"), choices=Rule.Kind.choices, widget=UnfoldAdminSelectWidget
    )
    priority = forms.IntegerField(
        label=gettext_lazy("优先级"),
        initial=0,
        widget=INT,
        help_text=gettext_lazy("数字大的先计算"),
    )
    stop_further = forms.BooleanField(
        label=gettext_lazy("阻止后续规则"), required=False, widget=UnfoldBooleanSwitchWidget
    )
    points = forms.IntegerField(
        label=gettext_lazy("积分"),
        initial=0,
        min_value=0,
        widget=INT,
        help_text=gettext_lazy("基础积分率：每单位金额的积分；满赠/首单：赠送积分；上限：积分上限"),
    )
    unit_amount = forms.DecimalField(
        label=gettext_lazy("单位金额（元）"), initial=Decimal("1.00"), decimal_places=2, widget=DEC
    )
    multiplier = forms.DecimalField(
        label=gettext_lazy("倍数"),
        initial=Decimal("1.00"),
        decimal_places=2,
        widget=DEC,
        help_text=gettext_lazy("加倍类规则的倍数，积分向下取整"),
    )
    min_amount = forms.DecimalField(
        label=gettext_lazy("满额（元）"), initial=Decimal("0.00"), decimal_places=2, widget=DEC
    )
    repeat = forms.BooleanField(
        label=gettext_lazy("每满"), required=False, widget=UnfoldBooleanSwitchWidget
    )
    categories = forms.CharField(
        label=gettext_lazy("品类"), required=False, widget=TEXT, help_text=gettext_lazy("逗号分隔")
    )
    skus = forms.CharField(
        label=gettext_lazy("商品 SKU"),
        required=False,
        widget=TEXT,
        help_text=gettext_lazy("逗号分隔"),
    )
    stores = forms.CharField(
        label=gettext_lazy("适用门店"),
        required=False,
        widget=TEXT,
        help_text=gettext_lazy("空为全部"),
    )
    channels = forms.CharField(
        label=gettext_lazy("适用渠道"),
        required=False,
        widget=TEXT,
        help_text=gettext_lazy("空为全部"),
    )
    starts_on = forms.DateField(
        label=gettext_lazy("开始日期"), required=False, widget=UnfoldAdminSingleDateWidget
    )
    ends_on = forms.DateField(
        label=gettext_lazy("结束日期"), required=False, widget=UnfoldAdminSingleDateWidget
    )
    weekdays = forms.CharField(
        label=gettext_lazy("星期"),
        required=False,
        widget=TEXT,
        help_text=gettext_lazy("1–7（周一至周日），如周末 6,7"),
    )
    month_days = forms.CharField(
        label=gettext_lazy("每月日期"),
        required=False,
        widget=TEXT,
        help_text=gettext_lazy("如会员日 8"),
    )
    birthday_scope = forms.ChoiceField(
        label=gettext_lazy("生日范围"),
        choices=Rule.BirthdayScope.choices,
        widget=UnfoldAdminSelectWidget,
    )
    cap_scope = forms.ChoiceField(
        label=gettext_lazy("上限范围"),
        choices=Rule.CapScope.choices,
        widget=UnfoldAdminSelectWidget,
    )
    cap_period = forms.ChoiceField(
        label=gettext_lazy("上限周期"),
        choices=Rule.CapPeriod.choices,
        widget=UnfoldAdminSelectWidget,
    )
    days = forms.IntegerField(label=gettext_lazy("待生效天数"), initial=0, min_value=0, widget=INT)
    sample_amount = forms.DecimalField(
        label=gettext_lazy("试算：消费金额（元）"),
        initial=Decimal("100.00"),
        decimal_places=2,
        required=False,
        widget=DEC,
        help_text=gettext_lazy("点“先试算（不保存）”时使用"),
    )

    def rule_data(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in RULE_FIELDS}
        for name in ("unit_amount", "multiplier", "min_amount"):
            data[name] = str(data[name] if data[name] is not None else "")
        for name in ("priority", "points", "days"):
            data[name] = data[name] or 0
        return data


RULE_FIELDSETS = [
    (None, {"fields": ["code", "name", "kind", "priority", "stop_further"]}),
    (
        gettext_lazy("参数"),
        {
            "fields": [
                "points",
                "unit_amount",
                "multiplier",
                "min_amount",
                "repeat",
                "categories",
                "skus",
                "birthday_scope",
                "cap_scope",
                "cap_period",
                "days",
            ]
        },
    ),
    (
        gettext_lazy("适用范围与时间"),
        {"fields": ["stores", "channels", "starts_on", "ends_on", "weekdays", "month_days"]},
    ),
    (gettext_lazy("试算"), {"fields": ["sample_amount"]}),
]


class PreviewForm(forms.Form):
    """A sample purchase, or a recent real one (its id), to evaluate."""

    purchase = forms.IntegerField(
        label=gettext_lazy("或选择最近的真实消费（编号，按当前规则试算）"),
        required=False,
        widget=INT,
    )
    amount = forms.DecimalField(
        label=gettext_lazy("消费金额（元）"),
        initial=Decimal("128.00"),
        min_value=Decimal(0),
        max_value=Decimal("10000000000"),
        decimal_places=2,
        required=False,
        widget=DEC,
    )
    lines = forms.CharField(
        label=gettext_lazy("商品明细"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=gettext_lazy("每行：SKU,品类,数量,金额"),
    )
    store = forms.CharField(label=gettext_lazy("门店"), required=False, widget=TEXT)
    channel = forms.CharField(label=gettext_lazy("渠道"), required=False, widget=TEXT)
    occurred_on = forms.DateField(
        label=gettext_lazy("消费日期"), required=False, widget=UnfoldAdminSingleDateWidget
    )
    member = forms.CharField(
        label=gettext_lazy("会员"),
        required=False,
        widget=TEXT,
        help_text=gettext_lazy("会员号、手机号或邮箱（用于等级、生日）"),
    )
    first_purchase = forms.BooleanField(
        label=gettext_lazy("按首单计算"), required=False, widget=UnfoldBooleanSwitchWidget
    )

    def clean_member(self):
        value = self.cleaned_data["member"].strip()
        if not value:
            return None
        member = member_find_by_login(value)
        if member is None:
            raise forms.ValidationError(_("找不到该会员。"))
        return member

    def clean_lines(self):
        lines = []
        for number, row in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not row.strip():
                continue
            parts = [part.strip() for part in row.replace("，", ",").split(",")]
            try:
                sku, category, quantity, amount = parts
                lines.append(
                    {
                        "sku": sku,
                        "category": category,
                        "quantity": int(quantity),
                        "amount": str(Decimal(amount).quantize(Decimal("0.01"))),
                    }
                )
            except (ValueError, ArithmeticError):
                raise forms.ValidationError(
                    _("第 %(n)s 行应为：SKU,品类,数量,金额") % {"n": number}
                ) from None
        return lines


MULTIPLIER_KINDS = (Rule.Kind.MULTIPLIER, Rule.Kind.BIRTHDAY_MULTIPLIER, Rule.Kind.LINE_MULTIPLIER)


def _preview_rows(award, rules) -> list[dict]:
    """One row per rule in force: what it gave (its explanation lines) or why not."""
    steps_by_rule: dict[int, list] = {}
    for step in award.steps:
        steps_by_rule.setdefault(step.rule_id or 0, []).append(step)
    rows = []
    for rule in sorted(rules, key=lambda r: (-r.priority, r.code)):
        rule_id = rule.pk or 0
        applied = rule_id in award.applied_rule_ids
        steps = [step.text for step in steps_by_rule.get(rule_id, [])]
        if applied and not steps and rule.kind in MULTIPLIER_KINDS:
            steps = [_("× %(factor)s，计入基础积分") % {"factor": rule.multiplier}]
        rows.append(
            {
                "rule": rule,
                "draft": rule.pk is None,
                "applied": applied,
                "steps": steps,
            }
        )
    return rows


@admin.register(Rule)
class RuleAdmin(ServiceAddMixin, NumberColumnMixin, ModelAdmin):
    add_form_class = RuleForm
    add_fieldsets_service = RULE_FIELDSETS
    list_display = (
        "name",
        "code",
        "version",
        "kind",
        "priority",
        "summary",
        "window",
        "state",
    )
    list_filter = ("kind",)
    search_fields = ("code", "name")
    ordering = ("-priority", "code", "-version")
    readonly_fields = [field.name for field in Rule._meta.fields]
    actions_detail = ["new_version", "retire"]
    actions_list = ["open_preview"]
    change_form_after_template = "rules/admin/preview_button.html"

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_edit_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("rules.add_rule")

    def get_queryset(self, request):
        query = super().get_queryset(request)
        if request.GET.get("all") == "1" or request.resolver_match.url_name.endswith("_change"):
            return query
        return query.filter(valid_until__isnull=True)

    # --- add, and a new version of an existing rule -------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "GET" and request.GET.get("from"):
            source = Rule.objects.filter(pk=request.GET["from"]).first()
            if source is not None:
                initial = QueryDict(mutable=True)
                for name in ("code", *RULE_FIELDS):
                    value = getattr(source, name)
                    if isinstance(value, bool):
                        if value:
                            initial[name] = "on"
                    elif value is not None:
                        initial[name] = str(value)
                request.GET = initial
        if request.method == "POST" and "_preview" in request.POST:
            return self._draft_preview(request)
        return super().add_view(request, form_url, extra_context)

    def perform_add(self, request: HttpRequest, form: RuleForm) -> Rule:
        return rule_save(code=form.cleaned_data["code"], data=form.rule_data(), by=request.user)

    def _draft_preview(self, request: HttpRequest) -> HttpResponse:
        """The rule form's "先试算": the unsaved rule with the rules in force, nothing saved."""
        form = RuleForm(request.POST)
        award = rows = None
        error = None
        if form.is_valid():
            try:
                cleaned = rule_clean(form.rule_data())
                draft = Rule(code=form.cleaned_data["code"], version=0, **cleaned)
                award, rules = purchase_preview(
                    amount=form.cleaned_data.get("sample_amount") or Decimal("100.00"),
                    occurred_at=timezone.now(),
                    draft=draft,
                )
                rows = _preview_rows(award, rules)
            except DomainError as failure:
                error = failure.message
                if failure.fields:
                    error += "（" + "，".join(f"{k}: {v}" for k, v in failure.fields.items()) + "）"
        else:
            error = "; ".join(
                f"{form.fields[name].label if name in form.fields else ''} {', '.join(errs)}"
                for name, errs in form.errors.items()
            )
        return self._render_preview(request, PreviewForm(), award, rows, error, draft_form=form)

    # --- detail actions --------------------------------------------------------------------------

    @action(description=gettext_lazy("编辑为新版本"), icon="edit", permissions=["edit"])
    def new_version(self, request: HttpRequest, object_id) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:rules_rule_add") + f"?from={int(object_id)}")

    @action(
        description=gettext_lazy("停用"),
        icon="block",
        variant=ActionVariant.DANGER,
        permissions=["edit"],
    )
    def retire(self, request: HttpRequest, object_id) -> HttpResponse:
        rule = Rule.objects.filter(pk=object_id).first()
        try:
            rule_retire(code=rule.code if rule else "")
            messages.success(request, _("规则已停用；历史消费仍按当时的版本计算。"))
        except DomainError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect(reverse("admin:rules_rule_change", args=[object_id]))

    @action(description=gettext_lazy("试算"), icon="calculate", url_path="preview-link")
    def open_preview(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:rules_rule_preview"))

    def get_actions_detail(self, request, object_id):
        is_open = Rule.objects.filter(pk=object_id, valid_until__isnull=True).exists()
        return super().get_actions_detail(request, object_id) if is_open else []

    # --- the preview page ------------------------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="rules_rule_preview",
            )
        ]
        return own + super().get_urls()

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        from jifen.integrations.models import Purchase

        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        # POST: the operator's sample; GET ?purchase=<id>: a real purchase, from its page.
        bound = request.POST or (request.GET if "purchase" in request.GET else None)
        form = PreviewForm(bound)
        award = rows = None
        error = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            purchase = None
            if data.get("purchase"):
                purchase = (
                    Purchase.objects.select_related("member").filter(pk=data["purchase"]).first()
                )
                if purchase is None:
                    error = _("找不到该消费记录。")
            if error is None:
                if purchase is not None:
                    sample = {
                        "member": purchase.member,
                        "amount": purchase.amount,
                        "occurred_at": purchase.occurred_at,
                        "lines": purchase.lines,
                        "store": purchase.store,
                        "channel": purchase.channel,
                        "rules_at": timezone.now(),  # today's rules on a real purchase
                    }
                else:
                    day = data.get("occurred_on")
                    moment = timezone.now()  # today: the rules in force right now
                    if day and day != timezone.localdate():  # noon of that day
                        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
                    sample = {
                        "member": data.get("member"),
                        "amount": data.get("amount") or Decimal(0),
                        "occurred_at": moment,
                        "lines": data.get("lines") or [],
                        "store": data.get("store") or "",
                        "channel": data.get("channel") or "",
                    }
                award, rules = purchase_preview(
                    first_purchase=bool(data.get("first_purchase")), **sample
                )
                rows = _preview_rows(award, rules)
        return self._render_preview(request, form, award, rows, error)

    def _render_preview(self, request, form, award, rows, error, draft_form=None):
        from unfold.forms import AdminForm

        from jifen.integrations.models import Purchase

        context = {
            **self.admin_site.each_context(request),
            "title": _("积分规则试算"),
            "opts": self.opts,
            "adminform": AdminForm(
                form, [(None, {"fields": list(form.fields)})], {}, model_admin=self
            ),
            "form": form,
            "award": award,
            "rows": rows,
            "error": error,
            "draft_form": draft_form,
            "recent": Purchase.objects.select_related("member").order_by("-pk")[:10],
        }
        return TemplateResponse(request, "rules/admin/preview.html", context)

    # --- columns ---------------------------------------------------------------------------------

    @display(description=gettext_lazy("参数"))
    def summary(self, obj: Rule) -> str:
        spec = obj.spec()
        kind = obj.kind
        if kind == Rule.Kind.BASE_RATE:
            return _("%(points)s 积分 / ¥%(unit)s") % {
                "points": obj.points,
                "unit": obj.unit_amount,
            }
        if kind in (Rule.Kind.MULTIPLIER, Rule.Kind.BIRTHDAY_MULTIPLIER, Rule.Kind.LINE_MULTIPLIER):
            scope = ",".join(spec.categories + spec.skus)
            return f"× {obj.multiplier}" + (f"（{scope}）" if scope else "")
        if kind == Rule.Kind.EXCLUSION:
            return ",".join(spec.categories + spec.skus)
        if kind == Rule.Kind.THRESHOLD_BONUS:
            prefix = _("每满") if obj.repeat else _("满")
            return f"{prefix} ¥{obj.min_amount} +{obj.points}"
        if kind == Rule.Kind.FIRST_PURCHASE_BONUS:
            return f"+{obj.points}"
        if kind == Rule.Kind.CAP:
            return f"{obj.get_cap_scope_display()}{obj.get_cap_period_display()} ≤ {obj.points}"
        if kind == Rule.Kind.PENDING_PERIOD:
            return _("%(days)s 天") % {"days": obj.days}
        return "—"

    @display(description=gettext_lazy("时间"))
    def window(self, obj: Rule) -> str:
        parts = []
        if obj.starts_on or obj.ends_on:
            parts.append(f"{obj.starts_on or '…'} ~ {obj.ends_on or '…'}")
        if obj.weekdays:
            parts.append(_("星期 %(days)s") % {"days": obj.weekdays})
        if obj.month_days:
            parts.append(_("每月 %(days)s 日") % {"days": obj.month_days})
        return "；".join(parts) or _("长期")

    @display(
        description=gettext_lazy("状态"),
        label={"current": "success", "closed": "info"},
    )
    def state(self, obj: Rule) -> tuple[str, str]:
        if obj.valid_until is None:
            return "current", _("生效中")
        return "closed", _("历史版本")
