"""The JSON API: /api/v1, OpenAPI at /api/openapi.json, browsable at /api/docs.

One error shape for everything: {"error": {"code", "message", "fields"}}.
"""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from jifen.core.errors import DomainError

api = NinjaAPI(
    title="Jifen API",
    version="1.0.0",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    description="积分商城 API. See docs/api.md for authentication, idempotency and errors.",
)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return api.create_response(
        request, error_body(exc.code, exc.message, exc.fields), status=exc.status
    )


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    fields: dict[str, str] = {}
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", []) if part not in ("body", "payload")]
        fields[".".join(location) or "body"] = error.get("msg", "invalid")
    return api.create_response(
        request, error_body("validation_error", _("请求参数不正确。"), fields), status=422
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return api.create_response(request, error_body("unauthenticated", _("请先登录。")), status=401)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(request, error_body("not_found", _("未找到。")), status=404)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return api.create_response(request, error_body("http_error", str(exc)), status=exc.status_code)


# Routers are added by jifen.config.api_routes to keep this module free of domain imports.
from jifen.config import api_routes  # noqa: E402,F401
