"""Forms of the member's after-sales pages. They parse input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from jifen.aftersales.models import AfterSale


class RequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("售后类型"), choices=AfterSale.Kind.choices, widget=forms.RadioSelect
    )
    reason = forms.ChoiceField(
        label=_("售后原因"),
        choices=[("", _("请选择"))] + list(AfterSale.Reason.choices),
        widget=forms.Select(attrs={"class": "input"}),
    )
    reason_text = forms.CharField(
        label=_("问题描述"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"class": "input", "rows": 3}),
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = list(choices)

    def picked_lines(self) -> list[dict]:
        """[{"order_line", "quantity"}] of the ticked lines; quantities as typed (the service
        validates them)."""
        picked = []
        for choice in self.choices:
            if self.data.get(f"line_{choice.line.pk}") != "on":
                continue
            raw = str(self.data.get(f"qty_{choice.line.pk}", "")).strip()
            try:
                quantity = int(raw)
            except ValueError:
                quantity = 0
            picked.append({"order_line": choice.line.pk, "quantity": quantity})
        return picked


class ReturnShippedForm(forms.Form):
    carrier = forms.CharField(
        label=_("快递公司"), max_length=40, widget=forms.TextInput(attrs={"class": "input"})
    )
    tracking_number = forms.CharField(
        label=_("运单号"), max_length=40, widget=forms.TextInput(attrs={"class": "input"})
    )
