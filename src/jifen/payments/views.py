"""Payment pages: the sandbox gateway page and the providers' callback endpoint.

Both are thin: they parse the request, call one service or selector and render its answer.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from jifen.core.errors import DomainError, NotFound
from jifen.payments import selectors, services
from jifen.payments.providers.sandbox import sandbox_enabled


@require_http_methods(["GET", "POST"])
def sandbox_gateway(request, token: str):
    """The sandbox provider's cashier page (NOT a real gateway: no money moves).

    Open to whoever holds the signed link, as a real gateway's page is. "确认支付" records
    the sandbox trade and sends the signed callback; either button returns the member to
    the payment's return_url. 404 unless the sandbox is enabled (DEBUG, tests or
    JIFEN_ALLOW_SANDBOX_PAY): on a production site it would let anyone pay for free.
    """
    if not sandbox_enabled():
        raise Http404
    try:
        payment = selectors.sandbox_payment_for_token(token=token)
    except NotFound:
        raise Http404 from None
    error = None
    if request.method == "POST":
        if request.POST.get("action") == "confirm":
            try:
                services.sandbox_trade_confirm(payment_number=payment.number)
            except DomainError as failure:
                error = failure.message
            else:
                messages.success(request, _("支付成功，订单状态稍后更新。"))
                return HttpResponseRedirect(payment.return_url)
        else:
            messages.warning(request, _("支付未完成，可在订单中重新支付。"))
            return HttpResponseRedirect(payment.return_url)
        payment.refresh_from_db()
    context = {
        "payment": payment,
        "error": error,
        "merchant": getattr(settings, "JIFEN_SITE_NAME", "") or _("积分商城"),
        "payable": payment.status == payment.Status.CREATED,
    }
    return render(request, "payments/sandbox_gateway.html", context, status=409 if error else 200)


@csrf_exempt  # the gateway cannot send our CSRF token; the body's signature authenticates it
@require_POST
def provider_callback(request, provider: str):
    """A provider's signed callback. The sandbox's answers 404 unless the sandbox is enabled
    (its key derives from SECRET_KEY, but no production site should accept its word)."""
    if provider == "sandbox" and not sandbox_enabled():
        raise Http404
    try:
        reply = services.payment_callback_handle(
            provider=provider, body=request.body, headers=request.headers
        )
    except NotFound:
        raise Http404 from None
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
