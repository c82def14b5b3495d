"""Member pages of the mall's cart, checkout and orders (thin: parse, call, render)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from jifen.catalog.selectors import member_balance
from jifen.core.errors import DomainError, NotFound
from jifen.members.models import Address
from jifen.orders import conf, selectors, services
from jifen.orders.models import Order

PAGE_SIZE = 10
STATUS_TABS = [
    ("", gettext_lazy("全部")),
    (Order.Status.PENDING_PAYMENT, Order.Status.PENDING_PAYMENT.label),
    (Order.Status.PAID, Order.Status.PAID.label),
    (Order.Status.SHIPPED, Order.Status.SHIPPED.label),
    (Order.Status.COMPLETED, Order.Status.COMPLETED.label),
    (Order.Status.CANCELLED, Order.Status.CANCELLED.label),
]


def _int(value) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return default


# --- cart --------------------------------------------------------------------------------------


@login_required
def cart_page(request):
    cart = selectors.cart_get(member_id=request.user.pk)
    return render(
        request,
        "orders/cart.html",
        {"cart": cart, "balance": member_balance(request.user.pk), "nav": "mall"},
    )


@login_required
@require_POST
def cart_add(request):
    sku_id, quantity = _int(request.POST.get("sku")), _int(request.POST.get("quantity") or 1)
    try:
        services.cart_add(member_id=request.user.pk, sku_id=sku_id, quantity=quantity)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(_safe_next(request, reverse("orders:cart")))
    messages.success(request, _("已加入购物车。"))
    return redirect(_safe_next(request, reverse("orders:cart")))


@login_required
@require_POST
def buy_now(request):
    """ "立即兑换": straight to checkout with this one line (the cart is left alone)."""
    sku_id, quantity = _int(request.POST.get("sku")), _int(request.POST.get("quantity") or 1)
    if not sku_id or not quantity:
        messages.error(request, _("请选择规格和数量。"))
        return redirect(_safe_next(request, reverse("catalog:home")))
    return redirect(f"{reverse('orders:checkout')}?{urlencode({'sku': sku_id, 'qty': quantity})}")


@login_required
@require_POST
def cart_line_update(request, line_id: int):
    try:
        services.cart_line_update(
            member_id=request.user.pk, line_id=line_id, quantity=_int(request.POST.get("quantity"))
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("数量已更新。"))
    return redirect("orders:cart")


@login_required
@require_POST
def cart_line_remove(request, line_id: int):
    try:
        services.cart_line_remove(member_id=request.user.pk, line_id=line_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已从购物车移除。"))
    return redirect("orders:cart")


# --- checkout ----------------------------------------------------------------------------------


def _checkout_lines(request, data) -> tuple[list[tuple[int, int]], bool]:
    """(lines, from_cart): one buy-now line (?sku=&qty=), posted lines, or the cart's
    orderable lines."""
    if data.get("sku"):
        return [(_int(data.get("sku")), _int(data.get("qty") or 1))], False
    posted = data.getlist("line") if hasattr(data, "getlist") else []
    if posted:
        lines = []
        for value in posted:
            sku, _sep, qty = str(value).partition(":")
            lines.append((_int(sku), _int(qty)))
        return lines, data.get("from_cart") == "1"
    cart = selectors.cart_get(member_id=request.user.pk)
    return [(row.sku.pk, row.line.quantity) for row in cart.orderable], True


def _checkout_blocked(quote, affordable: bool, balance: int, addresses) -> str:
    """Why the order cannot be placed as it stands ("" when it can), shown under the
    disabled button: every reason at once, so the member fixes them in one go."""
    if quote is None:
        return ""
    reasons = []
    if not affordable:
        short = f"{quote.points_total - balance:,}"
        reasons.append(_("积分不足：还差 %(n)s 积分。") % {"n": short})
    if quote.needs_shipping and not addresses:
        reasons.append(_("请先添加收货地址。"))
    return " ".join(reasons)


def _tier_name(member_id: int) -> str:
    from jifen.tiers.selectors import member_tier_name

    return member_tier_name(member_id)


def _checkout_context(request, lines, from_cart, token, address_id=None, error=None):
    quote, problem = None, error
    try:
        quote = selectors.checkout_quote(member_id=request.user.pk, lines=lines)
    except DomainError as failure:
        problem = problem or failure.message
    addresses = list(Address.objects.filter(member_id=request.user.pk))
    if address_id is None and addresses:
        address_id = addresses[0].pk  # the default comes first
    balance = member_balance(request.user.pk) or 0
    affordable = quote is not None and balance >= quote.points_total
    return {
        "quote": quote,
        "error": problem,
        "addresses": addresses,
        "address_id": address_id,
        "token": token,
        "from_cart": from_cart,
        "balance": balance,
        "affordable": affordable,
        "blocked": _checkout_blocked(quote, affordable, balance, addresses),
        "tier_name": _tier_name(request.user.pk) if quote and quote.points_discount else "",
        "free_shipping_over": conf.free_shipping_over(),
        "line_values": [f"{sku}:{qty}" for sku, qty in lines if sku and qty],
        # Back to this checkout (its lines are in the query string) once the address exists.
        "address_add_url": reverse("web:address_add")
        + "?"
        + urlencode({"next": request.get_full_path()}),
        "payment_minutes": conf.payment_minutes(),
        "nav": "mall",
    }


@login_required
def checkout(request):
    if request.method == "POST":
        lines, from_cart = _checkout_lines(request, request.POST)
        token = str(request.POST.get("token") or "")[:64]
        address_id = _int(request.POST.get("address_id"))
        try:
            order = services.order_place(
                member_id=request.user.pk,
                lines=lines,
                address_id=address_id,
                checkout_token=token or None,
                from_cart=from_cart,
            )
        except DomainError as error:
            context = _checkout_context(request, lines, from_cart, token, address_id, error.message)
            return render(request, "orders/checkout.html", context, status=400)
        pay_url = selectors.order_pay_url(order)
        if pay_url:
            return redirect(pay_url)
        messages.success(request, _("兑换成功！"))
        return redirect("orders:detail", number=order.number)
    lines, from_cart = _checkout_lines(request, request.GET)
    if not lines:
        messages.info(request, _("购物车是空的，先去挑选商品吧。"))
        return redirect("orders:cart")
    context = _checkout_context(request, lines, from_cart, secrets.token_urlsafe(24))
    return render(request, "orders/checkout.html", context)


# --- orders ------------------------------------------------------------------------------------


@login_required
def order_list(request):
    status = request.GET.get("status") or ""
    if status not in Order.Status.values:
        status = ""
    orders = selectors.orders_for_member(
        member_id=request.user.pk, status=status or None
    ).prefetch_related("lines__item__images")
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "orders/order_list.html",
        {
            "page": page,
            "status": status,
            "status_label": Order.Status(status).label if status else "",
            "tabs": STATUS_TABS,
            "counts": selectors.order_status_counts(member_id=request.user.pk),
            "nav": "me",
        },
    )


def _member_order(request, number: str) -> Order:
    try:
        return selectors.order_get_for_member(number=number, member_id=request.user.pk)
    except NotFound as error:
        raise Http404(error.message) from error


ACTORS = {
    "member": gettext_lazy("我"),
    "system": gettext_lazy("系统"),
    "payment": gettext_lazy("支付"),
    "carrier": gettext_lazy("物流"),
}


def _actor(label: str) -> str:
    """Who did it, as the member reads it: an operator's name shows as 客服."""
    if not label:
        return ""
    return str(ACTORS.get(label, _("客服")))


def _timeline(order: Order) -> list[dict]:
    """The order's events, newest first, each with a title (the status it reached; the
    first one is 提交订单), who did it and the reason when it says more than the title."""
    rows = []
    for event in order.events.order_by("-created_at", "-pk"):
        if not event.from_status:
            title = _("提交订单")
        elif event.to_status == Order.Status.PAID and not order.needs_shipping:
            title = _("已支付")  # 待发货 reads wrong when nothing ships
        elif event.from_status != event.to_status:
            title = event.to_status_display
        else:
            title = _("订单更新")
        # Reasons are stored as written, usually the Chinese source text of a message: shown
        # through the catalog so an English page reads "Order placed", not "提交订单".
        note = _(event.reason) if event.reason else ""
        note = "" if note == title else note
        rows.append(
            {"event": event, "title": title, "actor": _actor(event.actor_label), "note": note}
        )
    return rows


def _steps(order: Order) -> list[dict]:
    """The progress bar: submitted → paid → (shipped →) completed, with the time of each
    step reached. Empty for cancelled and refunded orders (the hero explains those)."""
    if order.status in (Order.Status.CANCELLED, Order.Status.REFUNDED):
        return []
    steps = [
        {"label": _("提交订单"), "at": order.created_at},
        {"label": _("支付"), "at": order.paid_at},
    ]
    if order.needs_shipping:
        steps.append({"label": _("发货"), "at": order.shipped_at})
        steps.append({"label": _("完成"), "at": order.completed_at})
    else:
        steps.append({"label": _("发放"), "at": order.completed_at})
    reached = [n for n, step in enumerate(steps) if step["at"]]
    if reached:
        steps[reached[-1]]["current"] = True
    return steps


def _cancel_note(order: Order) -> str:
    """Why there is no 取消订单 button, for the orders that had one before."""
    if order.status in (Order.Status.SHIPPED, Order.Status.DELIVERED):
        return _("已发货的订单不能取消；收货后如有问题可申请售后。")
    if order.status == Order.Status.PAID and not order.needs_shipping:
        return _("虚拟商品发放后不能取消。")
    return ""


@login_required
def order_detail(request, number: str):
    order = _member_order(request, number)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "lines": list(order.lines.select_related("item")),
            "timeline": _timeline(order),
            "steps": _steps(order),
            "cancel_note": _cancel_note(order),
            "pay_url": selectors.order_pay_url(order),
            "addresses": list(Address.objects.filter(member_id=request.user.pk))
            if order.needs_shipping and order.status in ("pending_payment", "paid")
            else [],
            "nav": "me",
        },
    )


@login_required
@require_POST
def order_pay(request, number: str):
    order = _member_order(request, number)
    try:
        services.order_payment_start(order=order)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("orders:detail", number=order.number)
    pay_url = selectors.order_pay_url(order)
    if not pay_url:
        messages.error(request, _("该订单当前无需支付。"))
        return redirect("orders:detail", number=order.number)
    return redirect(pay_url)


def _order_action(request, number: str, action, success: str):
    order = _member_order(request, number)
    try:
        action(order)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect("orders:detail", number=order.number)


@login_required
@require_POST
def order_cancel(request, number: str):
    reason = str(request.POST.get("reason") or "").strip()[:200]
    return _order_action(
        request,
        number,
        lambda order: services.order_cancel(
            order_id=order.pk,
            member_id=request.user.pk,
            by=request.user,
            actor_label="member",
            reason=reason or _("会员取消"),
        ),
        _("订单已取消，积分和库存已退回。"),
    )


@login_required
@require_POST
def order_change_address(request, number: str):
    return _order_action(
        request,
        number,
        lambda order: services.order_change_address(
            order_id=order.pk,
            member_id=request.user.pk,
            address_id=_int(request.POST.get("address_id")),
        ),
        _("收货地址已修改。"),
    )


@login_required
@require_POST
def order_confirm(request, number: str):
    return _order_action(
        request,
        number,
        lambda order: services.order_confirm_receipt(order_id=order.pk, member_id=request.user.pk),
        _("已确认收货，感谢兑换！"),
    )
