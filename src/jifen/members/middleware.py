"""Bearer tokens for the JSON API.

Runs after AuthenticationMiddleware and before jifen.core.idempotency.IdempotencyMiddleware,
which scopes Idempotency-Keys to the caller and so must know who the caller is.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from jifen.members.tokens import token_resolve

API_PREFIX = "/api/"


class BearerTokenMiddleware:
    """For /api/ requests with `Authorization: Bearer <token>`: the token's user is the user.

    A valid token sets `request.user` and `request.api_token` and exempts the request from
    CSRF (a bearer token is not sent by browsers on their own, so no cross-site request can
    carry it). A wrong, expired or revoked token is answered 401 at once, with the API's
    error shape: a client that sends a token means to be that user, never anonymous.
    Other schemes (and requests outside /api/) pass through untouched.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.api_token = None
        if request.path.startswith(API_PREFIX):
            scheme, _sep, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() == "bearer":
                api_token = token_resolve(raw.strip())
                if api_token is None:
                    return JsonResponse(
                        {
                            "error": {
                                "code": "invalid_token",
                                "message": _("登录凭证无效或已过期，请重新登录。"),
                                "fields": {},
                            }
                        },
                        status=401,
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                    )
                user = api_token.user
                request.api_token = api_token
                request.user = user
                request._cached_user = user

                async def auser():
                    return user

                request.auser = auser
                request._dont_enforce_csrf_checks = True
        return self.get_response(request)
