"""The search form of the mall page: parses the query string, never raises."""

from django import forms
from django.utils.translation import gettext_lazy as _

from jifen.catalog.models import Item

SORT_CHOICES = [
    ("recommended", _("推荐")),
    ("popular", _("热门")),
    ("new", _("最新")),
    ("points_asc", _("积分从低到高")),
    ("points_desc", _("积分从高到低")),
]


class SearchForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100, strip=True)
    category = forms.IntegerField(label=_("分类"), required=False, min_value=1, max_value=2**62)
    kind = forms.ChoiceField(
        label=_("类型"), required=False, choices=[("", _("全部"))] + list(Item.Kind.choices)
    )
    points_min = forms.IntegerField(
        label=_("最低积分"), required=False, min_value=0, max_value=10**9
    )
    points_max = forms.IntegerField(
        label=_("最高积分"), required=False, min_value=0, max_value=10**9
    )
    in_stock = forms.BooleanField(label=_("仅看有货"), required=False)
    affordable = forms.BooleanField(label=_("我能兑换"), required=False)
    sort = forms.ChoiceField(label=_("排序"), required=False, choices=SORT_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=10**6)

    def clean_q(self):
        value = self.cleaned_data["q"]
        if "\x00" in value:
            raise forms.ValidationError(_("搜索词含有无效字符。"))
        return value

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("points_min"), cleaned.get("points_max")
        if low is not None and high is not None and low > high:
            self.add_error("points_max", _("最高积分不能低于最低积分。"))
        return cleaned
