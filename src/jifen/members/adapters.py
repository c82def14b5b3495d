"""django-allauth adapter: phone numbers live on our User model."""

from allauth.account.adapter import DefaultAccountAdapter

from jifen.members.models import User
from jifen.members.senders import code_sender


class AccountAdapter(DefaultAccountAdapter):
    def set_phone(self, user, phone: str, verified: bool):
        user.phone = phone
        user.save(update_fields=["phone"])

    def get_phone(self, user):
        return (user.phone, True) if user.phone else None

    def set_phone_verified(self, user, phone):
        return None

    def get_user_by_phone(self, phone):
        return User.objects.filter(phone=phone).first()

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs):
        code_sender().send(phone, f"验证码 / code: {code}")

    def send_unknown_account_sms(self, phone: str, **kwargs):
        return None

    def save_user(self, request, user, form, commit=True):
        from jifen.ledger.services import wallet_create

        user = super().save_user(request, user, form, commit=False)
        if not user.member_number:
            from jifen.members.models import new_member_number

            user.member_number = new_member_number()
        if commit:
            user.save()
            wallet_create(member=user)
        return user
