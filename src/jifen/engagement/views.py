"""Member pages: the check-in calendar, the task center and the share button.

Each view parses input, calls one service or selector and renders. Writes answer htmx with
the refreshed panel (and a status line); without JavaScript they redirect back with a
message, so every page works with plain forms too.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jifen.core.errors import DomainError
from jifen.engagement import selectors, services
from jifen.engagement.models import Share


class MakeupForm(forms.Form):
    day = forms.DateField(input_formats=["%Y-%m-%d"])


class ShareForm(forms.Form):
    target = forms.CharField(max_length=120)
    channel = forms.ChoiceField(choices=Share.Channel.choices)
    next = forms.CharField(required=False, max_length=500)


def _checkin_panel(request, *, status: tuple[bool, str] | None = None):
    context = {
        "cal": selectors.checkin_calendar(member=request.user),
        "status": status,
        "nav": "checkin",
    }
    if request.htmx:
        # 200 even for a refusal: htmx swaps only successful responses; the panel says why.
        return render(request, "engagement/partials/checkin_panel.html", context)
    if status:
        messages.add_message(request, messages.SUCCESS if status[0] else messages.ERROR, status[1])
    return redirect("engagement:checkin")


@require_GET
@login_required
def checkin_page(request):
    context = {"cal": selectors.checkin_calendar(member=request.user), "nav": "checkin"}
    return render(request, "engagement/checkin.html", context)


@require_POST
@login_required
def checkin_submit(request):
    try:
        checkin = services.checkin_create(member_id=request.user.pk)
    except DomainError as error:
        # A double click lands here: the first click's panel is already right.
        return _checkin_panel(request, status=(False, error.message))
    text = _("签到成功，获得 %(points)s 积分。") % {"points": checkin.points + checkin.bonus}
    return _checkin_panel(request, status=(True, text))


@require_POST
@login_required
def checkin_makeup(request):
    form = MakeupForm(request.POST)
    if not form.is_valid():
        return _checkin_panel(request, status=(False, _("日期格式不正确。")))
    try:
        checkin = services.checkin_makeup(member_id=request.user.pk, day=form.cleaned_data["day"])
    except DomainError as error:
        return _checkin_panel(request, status=(False, error.message))
    text = _("已补签 %(date)s，获得 %(points)s 积分。") % {
        "date": checkin.day.isoformat(),
        "points": checkin.points + checkin.bonus,
    }
    return _checkin_panel(request, status=(True, text))


def _task_panel(request, *, status: tuple[bool, str] | None = None):
    context = {
        "tasks": selectors.task_list_for_member(member=request.user),
        "status": status,
        "nav": "tasks",
    }
    if request.htmx:
        return render(request, "engagement/partials/task_panel.html", context)
    if status:
        messages.add_message(request, messages.SUCCESS if status[0] else messages.ERROR, status[1])
    return redirect("engagement:tasks")


@require_GET
@login_required
def task_page(request):
    context = {
        "tasks": selectors.task_list_for_member(member=request.user),
        "share": selectors.share_summary(member_id=request.user.pk),
        "nav": "tasks",
    }
    return render(request, "engagement/tasks.html", context)


@require_POST
@login_required
def task_claim(request, code: str):
    try:
        completion = services.task_claim(member_id=request.user.pk, code=code)
    except DomainError as error:
        return _task_panel(request, status=(False, error.message))
    parts = []
    if completion.points:
        parts.append(_("%(points)s 积分") % {"points": completion.points})
    if completion.makeup_cards:
        parts.append(_("%(cards)s 张补签卡") % {"cards": completion.makeup_cards})
    text = _("领取成功：%(reward)s。") % {"reward": "、".join(parts)}
    return _task_panel(request, status=(True, text))


@require_POST
@login_required
def share_submit(request):
    """The share button's POST: record the share, answer with a status line."""
    form = ShareForm(request.POST)
    if form.is_valid():
        try:
            share = services.share_create(
                member_id=request.user.pk,
                target=form.cleaned_data["target"],
                channel=form.cleaned_data["channel"],
            )
        except DomainError as error:
            ok, text = False, error.message
        else:
            ok = True
            text = (
                _("分享成功，获得 %(points)s 积分。") % {"points": share.points}
                if share.points
                else _("分享成功。今日的分享奖励已领取，本次不加积分。")
            )
    else:
        ok, text = False, _("分享内容或渠道无效。")
    next_url = form.data.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.htmx:
        link_shared = ok and form.cleaned_data.get("channel") == Share.Channel.LINK
        context = {
            "target": form.data.get("target", ""),
            "share_next": next_url,
            "share_status": (ok, text),
            "share_link": request.build_absolute_uri(next_url or "/") if link_shared else "",
        }
        # 200 even for a refusal: htmx swaps only successful responses, and the box
        # carries the error line.
        return render(request, "engagement/includes/share_button.html", context)
    messages.add_message(request, messages.SUCCESS if ok else messages.ERROR, text)
    return redirect(next_url or "engagement:tasks")
