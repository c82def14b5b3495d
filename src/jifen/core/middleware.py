"""A shorter middleware chain for bearer-token API requests (docs/performance.md).

A request to /api/ that carries `Authorization: Bearer …` is answered by the token's user or
refused 401 by jifen.members.middleware.BearerTokenMiddleware; the session, CSRF (a bearer
request is exempt), flash messages, htmx and allauth play no part in it. Running them
anyway costs about a fifth of such a request's CPU. `ApiBearerShortcut` sends those
requests through settings.API_BEARER_MIDDLEWARE instead, a subsequence of
settings.MIDDLEWARE in the same order (locale, common, bearer tokens, integration
signatures, Idempotency-Key, X-Frame-Options), and every other request through the rest of
the full chain. Cookie-authenticated API calls keep the full chain: session, CSRF and all.

Place it right after SecurityMiddleware, so both chains get its headers.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

API_PREFIX = "/api/"


def _short_chain(names: list[str]):
    """A synchronous handler running `names` around the view, as Django builds its own."""
    full = list(settings.MIDDLEWARE)
    positions = [full.index(name) for name in names if name in full]
    if len(positions) != len(names) or positions != sorted(positions):
        raise ImproperlyConfigured(
            "API_BEARER_MIDDLEWARE must be a subsequence of MIDDLEWARE, in the same order."
        )
    handler = BaseHandler()
    handler._view_middleware = []
    handler._template_response_middleware = []
    handler._exception_middleware = []
    chain = convert_exception_to_response(handler._get_response)
    for name in reversed(names):
        instance = import_string(name)(chain)
        if hasattr(instance, "process_view"):
            handler._view_middleware.insert(0, instance.process_view)
        if hasattr(instance, "process_template_response"):
            handler._template_response_middleware.append(instance.process_template_response)
        if hasattr(instance, "process_exception"):
            handler._exception_middleware.append(instance.process_exception)
        chain = convert_exception_to_response(instance)
    handler._middleware_chain = chain
    return chain


class ApiBearerShortcut:
    def __init__(self, get_response):
        self.get_response = get_response
        self.bearer_chain = _short_chain(list(settings.API_BEARER_MIDDLEWARE))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):  # as BearerTokenMiddleware decides
            authorization = request.META.get("HTTP_AUTHORIZATION")
            if authorization and authorization[:7].lower() == "bearer ":
                return self.bearer_chain(request)
        return self.get_response(request)
