"""The member's after-sales pages: request from an order, my after-sales, detail with the
event timeline, cancel and the return-shipping form. Every write is one service call."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jifen.aftersales import selectors, services
from jifen.aftersales.forms import RequestForm, ReturnShippedForm
from jifen.core.errors import DomainError, NotFound
from jifen.orders.selectors import order_get_for_member

PAGE_SIZE = 20


def _form_error(form, error: DomainError) -> None:
    for name in error.fields:
        if name in form.fields:
            form.add_error(name, error.message)
            return
    form.add_error(None, error.message)


@login_required
def aftersale_list(request):
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    rows, count = selectors.aftersale_list_for_member(
        member_id=request.user.pk, page=min(page, 10**6), page_size=PAGE_SIZE
    )
    return render(
        request,
        "aftersales/list.html",
        {
            "aftersales": rows,
            "count": count,
            "page": page,
            "has_next": page * PAGE_SIZE < count,
            "nav": "me",
        },
    )


@login_required
def aftersale_new(request, order_number: str):
    try:
        order = order_get_for_member(number=order_number, member_id=request.user.pk)
    except NotFound as error:
        raise Http404(error.message) from error
    choices = selectors.order_line_choices(order=order)
    if request.method == "POST":
        form = RequestForm(request.POST, choices=choices)
        if form.is_valid():
            data = form.cleaned_data
            try:
                aftersale = services.aftersale_request(
                    member_id=request.user.pk,
                    order_number=order.number,
                    kind=data["kind"],
                    lines=form.picked_lines(),
                    reason=data["reason"],
                    reason_text=data["reason_text"],
                    # count and sizes checked before any file is read
                    photos=services.photos_from_uploads(request.FILES.getlist("photos")),
                    reference=f"aftersale-form:{request.user.pk}:{data['token']}",
                )
            except DomainError as error:
                _form_error(form, error)
            else:
                messages.success(request, _("售后申请已提交，请等待审核。"))
                return redirect("aftersales:detail", number=aftersale.number)
    else:
        form = RequestForm(initial={"token": uuid.uuid4().hex, "kind": "return_refund"})
    window_open = services.order_aftersale_window_open(order)
    return render(
        request,
        "aftersales/request.html",
        {
            "order": order,
            "form": form,
            "choices": choices,
            "window_open": window_open,
            "shipped": order.shipped_at is not None or order.status != "paid",
            "days": services.aftersale_days(),
            "max_photos": services.MAX_PHOTOS,
            "picked": {str(p["order_line"]): p["quantity"] for p in form.picked_lines()}
            if form.is_bound
            else {},
            "nav": "me",
        },
    )


def _member_aftersale(request, number: str):
    try:
        return selectors.aftersale_get_for_member(number=number, member_id=request.user.pk)
    except NotFound as error:
        raise Http404(error.message) from error


@login_required
def aftersale_detail(request, number: str, return_form=None):
    aftersale = _member_aftersale(request, number)
    return render(
        request,
        "aftersales/detail.html",
        {
            "aftersale": aftersale,
            "return_form": return_form or ReturnShippedForm(),
            "events": list(aftersale.events.all())[::-1],
            "nav": "me",
        },
    )


@login_required
@require_POST
def aftersale_cancel(request, number: str):
    aftersale = _member_aftersale(request, number)
    try:
        services.aftersale_cancel(aftersale_id=aftersale.pk, member_id=request.user.pk)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("售后申请已撤销。"))
    return redirect("aftersales:detail", number=aftersale.number)


@login_required
@require_POST
def aftersale_return_shipped(request, number: str):
    aftersale = _member_aftersale(request, number)
    form = ReturnShippedForm(request.POST)
    if form.is_valid():
        try:
            services.aftersale_return_shipped(
                aftersale_id=aftersale.pk,
                member_id=request.user.pk,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("退货物流已提交。"))
            return redirect("aftersales:detail", number=aftersale.number)
    return aftersale_detail(request, number, return_form=form)
