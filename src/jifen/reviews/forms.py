"""The review form: rating, text, anonymity. Photos come from request.FILES ("photos",
several) and are checked by the service (Pillow decodes them; names are not trusted)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from jifen.reviews.models import MAX_TEXT

RATING_LABELS = {
    1: _("很差"),
    2: _("较差"),
    3: _("一般"),
    4: _("满意"),
    5: _("非常满意"),
}


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("评分"),
        choices=list(RATING_LABELS.items()),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择评分。")},
    )
    text = forms.CharField(
        label=_("评价内容"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "maxlength": MAX_TEXT,
                "class": "input",
                "placeholder": _("说说商品怎么样，对其他会员很有帮助"),
            }
        ),
    )
    is_anonymous = forms.BooleanField(label=_("匿名评价"), required=False)
