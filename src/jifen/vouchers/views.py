"""My coupons and cards (我的卡券): the list by tab and one card with its code."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from jifen.core.errors import DomainError, NotFound
from jifen.vouchers import selectors

PAGE_SIZE = 20
TABS = [("usable", _("可用")), ("used", _("已使用")), ("expired", _("已过期"))]


@login_required
def card_list(request):
    tab = request.GET.get("tab") or "usable"
    if tab not in selectors.TABS:
        tab = "usable"
    try:
        page = int(request.GET.get("page") or 1)
        result = selectors.member_vouchers(
            member_id=request.user.pk, tab=tab, page=page, page_size=PAGE_SIZE
        )
    except (ValueError, DomainError):
        page = 1
        result = selectors.member_vouchers(
            member_id=request.user.pk, tab=tab, page=1, page_size=PAGE_SIZE
        )
    counts = selectors.member_voucher_counts(member_id=request.user.pk)
    return render(
        request,
        "vouchers/cards.html",
        {
            "tab": tab,
            "tabs": [(key, label, counts[key]) for key, label in TABS],
            "result": result,
            "previous_page": result.page - 1 if result.page > 1 else None,
            "next_page": result.page + 1 if result.page < result.pages else None,
            "nav": "me",
        },
    )


@login_required
def card_detail(request, voucher_id: int):
    try:
        voucher = selectors.member_voucher_get(voucher_id=voucher_id, member_id=request.user.pk)
    except NotFound as error:
        raise Http404(error.message) from error
    return render(request, "vouchers/card.html", {"voucher": voucher, "nav": "me"})
