"""Forms of the member site: they parse input; services decide and write."""

from __future__ import annotations

import datetime as dt

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from jifen.core import clock
from jifen.core.errors import DomainError
from jifen.core.ratelimit import client_ip
from jifen.ledger.selectors import PUBLIC_KINDS
from jifen.members import tokens
from jifen.members.models import User
from jifen.referrals.selectors import invite_code_owner
from jifen.referrals.services import referral_register

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_TYPES = {"JPEG", "PNG", "GIF", "WEBP"}


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error on the form: its message on top, flagged fields marked."""
    form.add_error(None, error.message)
    for name in error.fields:
        if name in form.fields and name not in form.errors:
            form.add_error(name, ValidationError(_("请检查此项。"), code=error.code))


class LoginForm(AllauthLoginForm):
    """allauth's login form, worded for members (phone, e-mail or member number)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("手机号 / 邮箱 / 会员号")
        self.fields["login"].widget.attrs.update(
            {"placeholder": _("例如 13800001234"), "autocomplete": "username"}
        )
        self.fields["password"].label = _("密码")
        self.fields["password"].help_text = ""
        self.fields["password"].widget.attrs["placeholder"] = ""
        if "remember" in self.fields:
            self.fields["remember"].label = _("记住我")


class SignupForm(AllauthSignupForm):
    """Registration with a phone number or an e-mail address (at least one) and a password.

    With settings.JIFEN_REGISTRATION_CODE_REQUIRED (production), also the one-time code sent
    to that phone (or, without a phone, e-mail) by `web:signup_code`, checked here and
    consumed in the same transaction as the registration, as the app registration does.
    """

    field_order = ["phone", "email", "code", "password1", "password2", "invite_code"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.verification = None
        labels = {
            "phone": (_("手机号"), _("例如 13800001234")),
            "email": (_("邮箱"), _("name@example.com")),
            "password1": (_("密码"), _("至少 8 位，不要全是数字")),
            "password2": (_("确认密码"), _("再输入一次密码")),
        }
        for name, (label, placeholder) in labels.items():
            if name in self.fields:
                self.fields[name].label = label
                self.fields[name].widget.attrs["placeholder"] = placeholder
        if "phone" in self.fields:
            self.fields["phone"].required = False
            self.fields["phone"].widget.is_required = False
            self.fields["phone"].help_text = _("手机号和邮箱至少填写一项。")
        if "password1" in self.fields:
            self.fields["password1"].help_text = ""
        self.fields["invite_code"] = forms.CharField(
            label=_("邀请码（选填）"), max_length=32, required=False
        )
        self.order_fields(self.field_order)
        if settings.JIFEN_REGISTRATION_CODE_REQUIRED:
            self.fields["code"] = forms.CharField(
                label=_("验证码"),
                max_length=12,
                widget=forms.TextInput(
                    attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}
                ),
            )
            self.order_fields(self.field_order)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if not cleaned.get("phone") and not cleaned.get("email"):
            raise ValidationError(_("请填写手机号或邮箱。"), code="login_required")
        if cleaned.get("invite_code") and invite_code_owner(cleaned["invite_code"]) is None:
            self.add_error("invite_code", _("邀请码不存在，请核对后重新输入。"))
        if settings.JIFEN_REGISTRATION_CODE_REQUIRED:
            try:
                recipient = tokens.code_recipient(
                    phone=cleaned.get("phone"), email=cleaned.get("email")
                )
                self.verification = tokens.code_check(
                    recipient=recipient, purpose="register", code=cleaned.get("code", "")
                )
            except DomainError as error:
                self.add_error("code", error.message)
        return cleaned

    def save(self, request):
        with transaction.atomic():
            if self.verification is not None:
                tokens.code_consume(verification=self.verification)
            user = super().save(request)
            referral_register(
                invitee=user,
                invite_code=self.cleaned_data.get("invite_code"),
                ip=client_ip(request),
                device=request.COOKIES.get("jf_device"),
            )
            return user


class SignupCodeForm(forms.Form):
    """Where to send a registration code: the phone, else the e-mail, typed on the sign-up."""

    phone = forms.CharField(max_length=20, required=False)
    email = forms.CharField(max_length=254, required=False)


class HistoryFilterForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("", _("全部"))] + [(kind, kind) for kind in PUBLIC_KINDS], required=False
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)


class TransferForm(forms.Form):
    recipient = forms.CharField(
        label=_("收款人"),
        max_length=254,
        help_text=_("对方的手机号、邮箱或会员号"),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "placeholder": _("手机号 / 邮箱 / 会员号")}
        ),
    )
    points = forms.IntegerField(
        label=pgettext_lazy("transfer form field", "转赠积分"),
        min_value=1,
        max_value=100_000_000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "100"}),
    )
    note = forms.CharField(
        label=_("留言（选填）"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("例如：生日快乐")}),
    )


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("昵称"), max_length=100, required=False)
    birthday = forms.DateField(
        label=_("生日"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    gender = forms.ChoiceField(label=_("性别"), choices=User.Gender.choices, required=False)
    avatar = forms.FileField(
        label=_("头像"),
        required=False,
        help_text=_("JPG、PNG、GIF 或 WebP 图片，不超过 2 MB"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and not dt.date(1900, 1, 1) <= birthday <= clock.business_date():
            raise ValidationError(_("请填写真实的生日。"), code="invalid_birthday")
        return birthday

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        if upload.size > AVATAR_MAX_BYTES:
            raise ValidationError(_("头像不能超过 2 MB。"), code="avatar_too_large")
        # Trust the bytes, not the file name or the browser's content type.
        image_field = forms.ImageField()
        try:
            image_field.clean(upload)
        except ValidationError:
            raise ValidationError(_("请上传有效的图片文件。"), code="avatar_not_image") from None
        if getattr(upload, "image", None) is None or upload.image.format not in AVATAR_TYPES:
            raise ValidationError(_("请上传有效的图片文件。"), code="avatar_not_image")
        upload.seek(0)
        return upload


class AddressForm(forms.Form):
    recipient = forms.CharField(label=_("收件人"), max_length=50)
    phone = forms.CharField(
        label=_("电话"), max_length=20, widget=forms.TextInput(attrs={"type": "tel"})
    )
    province = forms.CharField(label=_("省"), max_length=30)
    city = forms.CharField(label=_("市"), max_length=30)
    district = forms.CharField(label=_("区"), max_length=30, required=False)
    detail = forms.CharField(label=_("详细地址"), max_length=200)
    postal_code = forms.CharField(label=_("邮编"), max_length=10, required=False)
    is_default = forms.BooleanField(label=_("设为默认地址"), required=False)
