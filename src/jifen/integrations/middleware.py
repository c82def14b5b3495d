"""Authenticates integration clients before Idempotency-Key handling.

jifen.core.idempotency scopes keys to `request.integration_client`, and runs before Ninja's
auth; so this middleware must come before "jifen.core.idempotency.IdempotencyMiddleware" in
settings.MIDDLEWARE. For /api/v1/integration/ paths it checks the signature: a refused one
is answered 401 at once (nothing runs, nothing is remembered); a good one sets
`request.integration_client` and exempts the request from CSRF (no browser sends it).
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from jifen.core.errors import Unauthenticated
from jifen.integrations.signing import signature_verify

INTEGRATION_PREFIX = "/api/v1/integration/"


class IntegrationSignatureMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(INTEGRATION_PREFIX):
            try:
                client = signature_verify(request)
            except Unauthenticated as refused:
                return _error(401, refused.code, refused.message)
            except RequestDataTooBig:
                return _error(
                    413,
                    "body_too_large",
                    _("请求体过大，请分批提交（DATA_UPLOAD_MAX_MEMORY_SIZE）。"),
                )
            request.integration_client = client
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)
