"""Member pages under /invite/: the referral page, its QR code, the invite landing page,
and product-code redemption. Each view parses input, calls services/selectors, renders.
"""

from __future__ import annotations

import io
import math
import secrets

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from jifen.core.errors import DomainError, RateLimited
from jifen.core.ratelimit import client_ip
from jifen.referrals import codes_selectors, codes_services, selectors, services
from jifen.referrals.alphabet import grouped, normalize

DEVICE_COOKIE = "jf_device"
DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600
INVITE_SESSION_KEY = "jifen_invite_code"
CODE_DONE_KEY = "jifen_code_done"
PAGE_SIZE = 20


def device_id(request) -> str:
    """The browser's random device id (cookie set by these pages), or ""."""
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.isascii() and value.isprintable() else ""


def _with_device_cookie(request, response):
    if not device_id(request):
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(24),
            max_age=DEVICE_COOKIE_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def _invite_url(request, code: str) -> str:
    return request.build_absolute_uri(reverse("referrals:landing", args=[code]))


# --- the referral page --------------------------------------------------------------------------


@login_required
def invite(request):
    member = request.user
    code = services.invite_code_ensure(member_id=member.pk)
    services.fingerprint_record(
        member_id=member.pk, ip=client_ip(request), device=device_id(request)
    )
    try:
        page = max(1, min(int(request.GET.get("page", 1)), 100_000))
    except ValueError:
        page = 1
    rows, total = selectors.referral_rows(
        referrer_id=member.pk, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    context = {
        "code": code.code,
        "invite_url": _invite_url(request, code.code),
        "program": selectors.referral_program(),
        "stats": selectors.referral_stats(referrer_id=member.pk),
        "rows": rows,
        "total": total,
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < pages else None,
        "nav": "invite",
    }
    return _with_device_cookie(request, render(request, "referrals/invite.html", context))


def invite_qr(request, code: str, fmt: str):
    """An invite link as a QR code: SVG (shown on the page) or PNG (to save and share).

    Public, like the link itself; 404 for a code that belongs to no active member.
    """
    if selectors.invite_code_owner(code) is None:
        raise Http404
    code = normalize(code)
    qr = qrcode.QRCode(border=2, box_size=10, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(_invite_url(request, code))
    qr.make(fit=True)
    buffer = io.BytesIO()
    if fmt == "svg":
        qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).save(buffer)
        content_type = "image/svg+xml"
    else:
        qr.make_image().save(buffer)
        content_type = "image/png"
    response = HttpResponse(buffer.getvalue(), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    if fmt == "png":
        response["Content-Disposition"] = f'attachment; filename="invite-{code}.png"'
    return response


def landing(request, code: str):
    """Where an invite link leads: who invites, what both get, and sign-up with the code.

    The code is kept in the session (`jifen_invite_code`) and passed as ?invite_code= to
    the sign-up page, which hands it to `referral_register`.
    """
    referrer = selectors.invite_code_owner(code)
    program = selectors.referral_program()
    normalized = normalize(code)
    if referrer is not None and not request.user.is_authenticated:
        request.session[INVITE_SESSION_KEY] = normalized
    context = {
        "referrer": referrer,
        "referrer_name": selectors.mask_identity(referrer) if referrer else "",
        "code": normalized,
        "program": program,
        "signup_url": reverse("account_signup") + f"?invite_code={normalized}",
    }
    response = render(request, "referrals/landing.html", context, status=200 if referrer else 404)
    return _with_device_cookie(request, response)


# --- product codes ------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("商品码"),
        max_length=64,
        help_text=gettext_lazy("16 位字母和数字，印在商品包装内；可扫码自动填写"),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "placeholder": "XXXX-XXXX-XXXX-XXXX",
                "class": "code-input",
            }
        ),
    )


def _codes_context(request, form, **extra):
    rows, total = codes_selectors.code_redemptions(member_id=request.user.pk, limit=10)
    return {"form": form, "rows": rows, "total": total, "nav": "codes", **extra}


@login_required
def codes(request):
    """Type (or scan into) a product code. A scanned QR opens this page with ?code=…,
    prefilled: redeeming always takes the member's explicit POST."""
    if request.method == "POST":
        return code_submit(request)
    typed = normalize(request.GET.get("code", ""))[:16]
    form = CodeForm(initial={"code": grouped(typed) if typed else ""})
    done = request.session.pop(CODE_DONE_KEY, None)
    return render(request, "referrals/codes.html", _codes_context(request, form, done=done))


@require_POST
@login_required
def code_submit(request):
    form = CodeForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            done = codes_services.code_redeem(
                member_id=request.user.pk, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except DomainError as error:
            form.add_error("code", error.message)
            status = 429 if isinstance(error, RateLimited) else 422
        else:
            request.session[CODE_DONE_KEY] = {"points": done.points, "batch": done.batch_name}
            messages.success(
                request, _("兑换成功，获得 %(points)s 积分。") % {"points": f"{done.points:,}"}
            )
            return redirect("referrals:codes")
    return render(request, "referrals/codes.html", _codes_context(request, form), status=status)
