"""django-allauth adapter: phone numbers live on our User model."""

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.utils.translation import gettext_lazy as _

from jifen.members.models import User
from jifen.members.selectors import PHONE_RE, normalize_phone
from jifen.members.senders import code_sender


class PhoneField(forms.CharField):
    """A phone number as members type it: local ("13800001234") or international ("+86…")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("手机号"))
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        )
        kwargs.setdefault("max_length", 20)
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = normalize_phone(super().clean(value) or "")
        if value and not PHONE_RE.match(value):
            raise forms.ValidationError(_("手机号格式不正确。"), code="invalid_phone")
        return value


class AccountAdapter(DefaultAccountAdapter):
    def phone_form_field(self, **kwargs):
        return PhoneField(**kwargs)

    def set_phone(self, user, phone: str, verified: bool):
        user.phone = phone
        user.save(update_fields=["phone"])

    def get_phone(self, user):
        return (user.phone, True) if user.phone else None

    def set_phone_verified(self, user, phone):
        return None

    def get_user_by_phone(self, phone):
        return User.objects.filter(phone=normalize_phone(phone)).first()

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs):
        code_sender().send(phone, f"验证码 / code: {code}")

    def send_unknown_account_sms(self, phone: str, **kwargs):
        return None

    def save_user(self, request, user, form, commit=True):
        """Registration goes through `member_register`: the user and its wallet together.

        Blank phone / e-mail are stored as NULL (both are unique). allauth's own
        `save_user` would call `set_phone` on an unsaved user when commit=False.
        """
        from jifen.members.services import member_register

        data = form.cleaned_data
        password = data.get("password1") or data.get("password")
        if not commit:
            user.email = (data.get("email") or "").strip().lower() or None
            user.phone = data.get("phone") or None
            user.set_password(password) if password else user.set_unusable_password()
            return user
        # The form has validated the password (adapter.clean_password) and uniqueness.
        return member_register(
            email=data.get("email") or None,
            phone=data.get("phone") or None,
            password=password or None,
            validate=False,
        )
