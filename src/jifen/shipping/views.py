"""The carrier callback endpoint: POST /shipping/callback/<carrier code>/.

Plain Django (no session, no CSRF: the carrier authenticates by signing the raw body). The
handler is jifen.shipping.services.callback_handle; this view only maps its errors to the
API's error shape: 401 for a bad, missing or stale signature (nothing changes), 404 for an
unknown carrier or tracking number, 422 for a body that is not a valid callback.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from jifen.core.errors import DomainError
from jifen.shipping.services import callback_handle


@csrf_exempt
@require_POST
def carrier_callback(request: HttpRequest, carrier_code: str) -> JsonResponse:
    try:
        events = callback_handle(
            carrier_code=carrier_code, body=request.body, headers=request.headers
        )
    except DomainError as error:
        return JsonResponse(
            {"error": {"code": error.code, "message": error.message, "fields": error.fields}},
            status=error.status,
        )
    return JsonResponse({"ok": True, "events": len(events)})
