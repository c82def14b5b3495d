"""Who may call an API operation: Ninja auth callbacks.

`member_auth`: a bearer token (resolved by jifen.members.middleware) or the session cookie.
`staff_auth`: the same, and the user must be staff (403 permission_denied otherwise).
`token_auth`: a bearer token only (revoking "this token" needs one).

Session requests that change something must pass Django's CSRF check, exactly as with
Ninja's `django_auth`; bearer requests need not (browsers never attach the header alone).
An operation tries bearer first, then the session; neither → 401 unauthenticated.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from jifen.core.errors import PermissionDenied


def _require_staff(user):
    if not user.is_staff:
        raise PermissionDenied(_("需要运营人员权限。"), code="staff_required")
    return user


class BearerAuth(HttpBearer):
    """The user of the token the middleware has already checked."""

    staff_only = False

    def __init__(self, *, staff_only: bool = False):
        self.staff_only = staff_only
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if getattr(request, "api_token", None) is None:
            return None
        return _require_staff(request.user) if self.staff_only else request.user


class SessionAuth(APIKeyCookie):
    """The session's user; unsafe methods must carry the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, *, staff_only: bool = False):
        self.staff_only = staff_only
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        if getattr(request, "api_token", None) is not None:
            return None  # a bearer request; BearerAuth answers it
        user = request.user
        if not user.is_authenticated or user.is_closed:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise PermissionDenied(_("CSRF 校验失败，请刷新页面后重试。"), code="csrf_failed")
        return _require_staff(user) if self.staff_only else user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover
        return None  # __call__ does the work


member_auth = [BearerAuth(), SessionAuth()]
staff_auth = [BearerAuth(staff_only=True), SessionAuth(staff_only=True)]
token_auth = [BearerAuth()]
