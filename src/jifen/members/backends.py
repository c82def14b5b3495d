"""Password login by phone number, e-mail or member number."""

from django.contrib.auth.backends import ModelBackend

from jifen.members.models import User
from jifen.members.selectors import member_find_by_login


class LoginBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, login=None, **kwargs):
        identifier = login or username or kwargs.get("email") or kwargs.get("phone")
        if not identifier or password is None:
            return None
        user = member_find_by_login(identifier)
        if user is None:
            # Spend the same time as a real check, so timing does not reveal accounts.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
