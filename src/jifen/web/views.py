"""Member site pages. Each view parses input, calls one service or selector, and renders."""

from __future__ import annotations

import math
import secrets
import time
import uuid
from urllib.parse import urlencode

from allauth.account.views import SignupView as AllauthSignupView
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from jifen.core.errors import DomainError
from jifen.core.ratelimit import client_ip
from jifen.ledger.selectors import PUBLIC_KINDS, points_history, points_summary
from jifen.ledger.services import points_transfer
from jifen.members import services as member_services
from jifen.members import tokens
from jifen.members.selectors import member_find_by_login
from jifen.web.forms import (
    AddressForm,
    HistoryFilterForm,
    ProfileForm,
    SignupCodeForm,
    TransferForm,
    add_domain_error,
)
from jifen.web.templatetags.jifen_web import masked_identity

HISTORY_PAGE_SIZE = 15
TRANSFER_TOKEN_MAX_AGE = 15 * 60  # a confirmation page left open longer must be redone
TRANSFER_PENDING_KEY = "jifen_transfer_pending"
TRANSFER_PENDING_MAX = 5  # confirmations a member may have open at once (e.g. two tabs)
TRANSFER_DONE_KEY = "jifen_transfer_done"


def kind_labels() -> dict[str, str]:
    return {
        "earn": pgettext("history filter", "获得"),
        "spend": pgettext("history filter", "使用"),
        "expire": pgettext("history filter", "过期"),
        "transfer": pgettext("history filter", "转赠"),
        "adjust": pgettext("history filter", "调整"),
        "refund": pgettext("history filter", "退回"),
    }


# --- registration code ------------------------------------------------------------------------


@require_POST
def signup_code(request):
    """Send a registration code to the phone (or e-mail) typed on the sign-up page.

    Answers with a short status line for htmx to put under the button (or, without
    JavaScript, a redirect back to the sign-up page with a message).
    """
    form = SignupCodeForm(request.POST)
    form.is_valid()
    try:
        recipient = tokens.code_recipient(
            phone=form.cleaned_data.get("phone"), email=form.cleaned_data.get("email")
        )
        sent = tokens.code_send(recipient=recipient, purpose="register", ip=client_ip(request))
    except DomainError as error:
        ok, text = False, error.message
    else:
        minutes = max(round((sent.expires_at - timezone.now()).total_seconds() / 60), 1)
        ok, text = True, _("验证码已发送，%(minutes)s 分钟内有效。") % {"minutes": minutes}
    if not request.htmx:
        messages.add_message(request, messages.SUCCESS if ok else messages.ERROR, text)
        return redirect("account_signup")
    return render(request, "web/partials/signup_code_status.html", {"ok": ok, "text": text})


# --- home and history -------------------------------------------------------------------------


def quick_links() -> list[dict]:
    """Home's shortcuts (two rows of four): the first eight of these whose page exists."""
    candidates = [
        ("catalog:home", _("积分商城"), "gift", ""),
        ("engagement:checkin", _("每日签到"), "check", "gold"),
        ("engagement:tasks", _("任务中心"), "star", ""),
        ("rules:earn", _("赚积分"), "coin", "gold"),
        ("tiers:home", _("会员等级"), "shield", ""),
        ("referrals:codes", _("扫码积分"), "scan", "gold"),
        ("referrals:invite", _("邀请好友"), "user", ""),
        ("web:transfer", _("转赠积分"), "send", "gold"),
        ("web:history", _("积分明细"), "list", ""),
        ("web:addresses", _("收货地址"), "pin", ""),
    ]
    links = []
    for name, label, icon, tone in candidates:
        try:
            links.append({"url": reverse(name), "label": label, "icon": icon, "tone": tone})
        except NoReverseMatch:
            continue
    return links[:8]


@login_required
def home(request):
    summary = points_summary(member_id=request.user.pk)
    rows, total = points_history(member_id=request.user.pk, page=1, page_size=5)
    return render(
        request,
        "web/home.html",
        {
            "summary": summary,
            "rows": rows,
            "total": total,
            "quick_links": quick_links(),
            "nav": "home",
        },
    )


@login_required
def history(request):
    form = HistoryFilterForm(request.GET)
    kind, page = "", 1
    if form.is_valid():
        kind, page = form.cleaned_data["kind"], form.cleaned_data["page"] or 1
    rows, total = points_history(
        member_id=request.user.pk, kind=kind or None, page=page, page_size=HISTORY_PAGE_SIZE
    )
    pages = max(1, math.ceil(total / HISTORY_PAGE_SIZE))
    context = {
        "rows": rows,
        "total": total,
        "kind": kind,
        "page": page,
        "pages": pages,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < pages else None,
        "kinds": [(key, kind_labels()[key]) for key in PUBLIC_KINDS],
        "nav": "history",
    }
    partial = request.htmx and request.htmx.target == "history-panel"
    response = render(
        request, "web/partials/history_list.html" if partial else "web/history.html", context
    )
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# --- transfer ---------------------------------------------------------------------------------


def _transfer_context(request, form, **extra):
    return {
        "form": form,
        "summary": points_summary(member_id=request.user.pk),
        "transfer_min": settings.JIFEN_TRANSFER_MIN,
        "transfer_limit": settings.JIFEN_TRANSFER_DAILY_LIMIT,
        "nav": "transfer",
        **extra,
    }


@login_required
def transfer(request):
    """Step 1: who and how much. A valid form leads to the confirmation page."""
    if request.method != "POST":
        # "Edit" on the confirmation page comes back with what was typed.
        initial = {
            key: request.GET[key][:254] for key in TransferForm.base_fields if key in request.GET
        }
        form = TransferForm(initial=initial)
        return render(request, "web/transfer.html", _transfer_context(request, form))
    form = TransferForm(request.POST)
    summary = points_summary(member_id=request.user.pk)
    if form.is_valid():
        # Early, friendly checks; points_transfer stays the authority at step 2.
        points = form.cleaned_data["points"]
        if points < settings.JIFEN_TRANSFER_MIN:
            form.add_error(
                "points",
                _("每次至少转赠 %(min)s 积分。") % {"min": settings.JIFEN_TRANSFER_MIN},
            )
        elif points > summary["available"]:
            form.add_error(
                "points",
                _("积分不足：可用 %(available)s 积分。")
                % {"available": f"{summary['available']:,}"},
            )
        recipient = member_find_by_login(form.cleaned_data["recipient"])
        if recipient is None or recipient.is_closed:
            form.add_error("recipient", _("找不到该会员，请检查手机号、邮箱或会员号。"))
        elif recipient.pk == request.user.pk:
            form.add_error("recipient", _("不能转赠给自己。"))
        if form.is_valid():
            # What the member is about to confirm stays in the session under a random
            # one-time token; the posting's reference is derived from the token, so a double
            # submit posts once, and nothing the browser sends back can change the transfer.
            token = secrets.token_urlsafe(16)
            pending = request.session.get(TRANSFER_PENDING_KEY, {})
            pending[token] = {
                "recipient": recipient.pk,
                "recipient_name": masked_identity(recipient),
                "recipient_login": recipient.masked_login,
                "points": points,
                "note": form.cleaned_data["note"],
                "typed": form.cleaned_data["recipient"],
                "at": time.time(),
            }
            newest = sorted(pending.items(), key=lambda item: item[1]["at"])[-TRANSFER_PENDING_MAX:]
            request.session[TRANSFER_PENDING_KEY] = dict(newest)
            context = _transfer_context(
                request,
                form,
                recipient=recipient,
                points=points,
                note=form.cleaned_data["note"],
                after=summary["available"] - points,
                edit_query=urlencode(
                    {
                        "recipient": form.cleaned_data["recipient"],
                        "points": points,
                        "note": form.cleaned_data["note"],
                    }
                ),
                token=token,
            )
            return render(request, "web/transfer_confirm.html", context)
    return render(request, "web/transfer.html", _transfer_context(request, form), status=422)


@login_required
@require_POST
def transfer_confirm(request):
    """Step 2: post the transfer the member confirmed (once, however often it is sent)."""
    token = request.POST.get("token", "")
    data = request.session.get(TRANSFER_PENDING_KEY, {}).get(token)
    if data is None:
        messages.error(request, _("转赠请求无效，请重新填写。"))
        return redirect("web:transfer")
    if time.time() - data["at"] > TRANSFER_TOKEN_MAX_AGE:
        messages.error(request, _("确认页面已过期，请重新填写。"))
        return redirect("web:transfer")
    try:
        points_transfer(
            sender_id=request.user.pk,
            recipient_id=data["recipient"],
            points=data["points"],
            reference=f"web:transfer:{request.user.pk}:{token}",
            note=data["note"],
        )
    except DomainError as error:
        # Back to the form, filled in as confirmed, with the reason on top.
        form = TransferForm(
            {"recipient": data["typed"], "points": data["points"], "note": data["note"]}
        )
        form.is_valid()
        add_domain_error(form, error)
        return render(request, "web/transfer.html", _transfer_context(request, form), status=422)
    request.session[TRANSFER_DONE_KEY] = {
        key: data[key] for key in ("recipient_name", "recipient_login", "points", "note")
    }
    messages.success(request, _("转赠成功。"))
    return redirect("web:transfer_done")


@login_required
def transfer_done(request):
    done = request.session.get(TRANSFER_DONE_KEY)
    if not done:
        return redirect("web:transfer")
    return render(
        request,
        "web/transfer_done.html",
        {"summary": points_summary(member_id=request.user.pk), "done": done, "nav": "transfer"},
    )


# --- profile and addresses --------------------------------------------------------------------


@login_required
def profile(request):
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                member_services.profile_update(
                    member=user,
                    data={
                        "name": form.cleaned_data["name"],
                        "birthday": form.cleaned_data["birthday"],
                        "gender": form.cleaned_data["gender"],
                    },
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                avatar = form.cleaned_data["avatar"]
                if avatar:
                    _avatar_store(user, avatar)
                messages.success(request, _("资料已保存。"))
                return redirect("web:profile")
        return render(request, "web/profile.html", {"form": form, "nav": "me"}, status=422)
    form = ProfileForm(
        initial={"name": user.name, "birthday": user.birthday, "gender": user.gender}
    )
    return render(request, "web/profile.html", {"form": form, "nav": "me"})


def _avatar_store(user, upload) -> None:
    """Keep the validated image under a random name (the upload's name is not trusted)."""
    extension = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}[upload.image.format]
    old = user.avatar.name if user.avatar else ""
    user.avatar.save(f"{uuid.uuid4().hex}.{extension}", upload, save=False)
    get_user_model().objects.filter(pk=user.pk).update(avatar=user.avatar.name)
    if old:
        user.avatar.storage.delete(old)


@login_required
def addresses(request):
    return render(
        request,
        "web/addresses.html",
        {"addresses": list(request.user.addresses.all()), "nav": "me"},
    )


def _address_of(request, address_id):
    address = request.user.addresses.filter(pk=address_id).first()
    if address is None:
        raise Http404
    return address


def _safe_next(request) -> str | None:
    """A `?next=` path on this site to return to (checkout's 新增地址), or None."""
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
def address_form(request, address_id=None):
    """Add (no id) or edit an address."""
    address = _address_of(request, address_id) if address_id else None
    if request.method == "POST":
        form = AddressForm(request.POST)
        if form.is_valid():
            try:
                if address is None:
                    member_services.address_create(member=request.user, data=form.cleaned_data)
                    messages.success(request, _("地址已添加。"))
                else:
                    member_services.address_update(
                        member=request.user, address_id=address.pk, data=form.cleaned_data
                    )
                    messages.success(request, _("地址已更新。"))
            except DomainError as error:
                add_domain_error(form, error)
            else:
                return redirect(_safe_next(request) or "web:addresses")
        status = 422
    else:
        initial = {}
        if address is not None:
            initial = {name: getattr(address, name) for name in AddressForm.base_fields}
        form = AddressForm(initial=initial)
        status = 200
    return render(
        request,
        "web/address_form.html",
        {"form": form, "address": address, "nav": "me"},
        status=status,
    )


@login_required
@require_POST
def address_delete(request, address_id):
    try:
        member_services.address_delete(member=request.user, address_id=address_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("地址已删除。"))
    return redirect("web:addresses")


@login_required
@require_POST
def address_make_default(request, address_id):
    address = _address_of(request, address_id)
    data = {name: getattr(address, name) for name in AddressForm.base_fields}
    try:
        member_services.address_update(
            member=request.user, address_id=address.pk, data={**data, "is_default": True}
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已设为默认地址。"))
    return redirect("web:addresses")


class SignupView(AllauthSignupView):
    """allauth's sign-up, with the invite code of the link the visitor came by filled in."""

    def get_initial(self) -> dict:
        initial = super().get_initial()
        code = self.request.GET.get("invite_code") or self.request.session.get("jifen_invite_code")
        if code:
            initial["invite_code"] = str(code)[:32]
        return initial
