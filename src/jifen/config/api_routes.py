"""Mounts each app's Ninja router on the API, and refines how parse errors are reported."""

from django.utils.translation import gettext as _
from ninja import Router
from ninja.errors import HttpError

from jifen.config.api import api, error_body, on_http_error
from jifen.core.errors import NotFound

# Each domain app contributes `router` in its api.py; add them here as they are built.
ROUTERS: list[tuple[str, str]] = [
    ("", "jifen.members.api"),
    ("", "jifen.ledger.api"),
    ("", "jifen.integrations.api"),
    ("", "jifen.rules.api"),
    ("", "jifen.tiers.api"),
    ("", "jifen.engagement.api"),
    ("", "jifen.referrals.api"),
    ("", "jifen.catalog.api"),
    ("", "jifen.orders.api"),
    ("", "jifen.payments.api"),
    ("", "jifen.vouchers.api"),
    ("", "jifen.shipping.api"),
    ("", "jifen.aftersales.api"),
    ("", "jifen.reviews.api"),
]

for prefix, dotted in ROUTERS:
    module = __import__(dotted, fromlist=["router"])
    api.add_router(prefix, module.router)


@api.exception_handler(HttpError)
def on_http_error_with_body(request, exc: HttpError):
    """A body that is not JSON (or not UTF-8) is the client's error: 400 malformed_json.

    Ninja raises HttpError(400) from the parser's exception; anything else keeps the
    generic mapping of jifen.config.api.
    """
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        return api.create_response(
            request, error_body("malformed_json", _("请求体不是有效的 JSON。")), status=400
        )
    return on_http_error(request, exc)


# Last, after every app's router: a path under /api/v1 that no router knows gets the API's
# JSON 404 instead of Django's HTML page. (Keep this below the ROUTERS loop.)
fallback = Router(tags=["fallback"])


@fallback.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:path}", include_in_schema=False
)
def unknown_path(request, path: str):
    raise NotFound(_("接口不存在。"), code="not_found")


api.add_router("", fallback)
