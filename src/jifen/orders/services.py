"""Writes to orders (docs/mall.md).

Errors raised: ValidationFailed, NotFound, Conflict (`invalid_transition`, ...),
InsufficientPoints, OutOfStock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.catalog.models import Item, Sku
from jifen.catalog.services import (
    item_quota_return,
    item_quota_take,
    item_redeem_check,
    stock_commit,
    stock_release,
    stock_reserve_lines,
    stock_return,
)
from jifen.core import clock
from jifen.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from jifen.ledger.models import Hold
from jifen.ledger.services import (
    points_hold,
    points_hold_capture,
    points_hold_release,
    transaction_reverse,
)
from jifen.members.models import Address
from jifen.orders import conf
from jifen.orders.models import Cart, CartLine, Order, OrderEvent, OrderLine
from jifen.orders.selectors import checkout_quote, clean_lines

logger = logging.getLogger(__name__)

S = Order.Status

# The only moves an order may make (issue 4 §6). Everything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.COMPLETED, S.CANCELLED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

# The timestamp each status sets when an order reaches it.
_STAMPS = {
    S.PAID: "paid_at",
    S.SHIPPED: "shipped_at",
    S.DELIVERED: "delivered_at",
    S.COMPLETED: "completed_at",
    S.CANCELLED: "cancelled_at",
    S.REFUNDED: "refunded_at",
}


def _lock_order(order_id: int) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("订单不存在。"), code="order_not_found")
    return order


@transaction.atomic
def order_transition(
    *, order_id: int, to: str, by=None, actor_label: str = "", reason: str = ""
) -> Order:
    """Move an order to `to`, writing one OrderEvent and the matching *_at timestamp.

    Locks the order row. Conflict `invalid_transition` for a move not in TRANSITIONS
    (nothing changes). Moving to the status the order already has returns it unchanged and
    writes no event, so retries are harmless. Points, stock and cash are the caller's: it
    does those first, in the same transaction.
    """
    order = _lock_order(order_id)
    if order.status == to:
        return order
    if to not in TRANSITIONS.get(order.status, ()):
        raise Conflict(
            _("订单状态为“%(status)s”，不能执行此操作。") % {"status": order.get_status_display()},
            code="invalid_transition",
            fields={"from": order.status, "to": to},
        )
    now = timezone.now()
    from_status = order.status
    changes = {"status": to, "updated_at": now}
    stamp = _STAMPS.get(to)
    if stamp:
        changes[stamp] = now
    # Guarded by the status we read under the lock (a second line of defence).
    Order.objects.filter(pk=order.pk, status=from_status).update(**changes)
    for name, value in changes.items():
        setattr(order, name, value)
    OrderEvent.objects.create(
        order=order,
        from_status=from_status,
        to_status=to,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=actor_label[:60],
        reason=str(reason)[:300],
    )
    return order


# --- cart --------------------------------------------------------------------------------------


def _cart_id(member_id: int) -> int:
    cart, _created = Cart.objects.get_or_create(member_id=member_id)
    return cart.pk


def _cart_line(member_id: int, line_id) -> CartLine:
    line = None
    if isinstance(line_id, int) and not isinstance(line_id, bool) and 0 < line_id < 2**63:
        line = CartLine.objects.filter(pk=line_id, cart__member_id=member_id).first()
    if line is None:
        raise NotFound(_("购物车中没有这件商品。"), code="cart_line_not_found")
    return line


@transaction.atomic
def cart_add(*, member_id: int, sku_id: int, quantity: int = 1) -> CartLine:
    """Put `quantity` units of a SKU in the member's cart (added to what is there).

    Checked by catalog's item_redeem_check on the resulting quantity: NotFound
    `sku_not_found`/`item_not_found`, ValidationFailed `per_order_limit`/`invalid_lines`.
    Stock is checked at checkout, not here (a cart reserves nothing).
    """
    clean_lines([(sku_id, quantity)])
    if not Sku.objects.filter(pk=sku_id).exists():
        raise NotFound(_("SKU 不存在。"), code="sku_not_found", fields={"sku": sku_id})
    line, created = CartLine.objects.get_or_create(
        cart_id=_cart_id(member_id), sku_id=sku_id, defaults={"quantity": quantity}
    )
    if not created:
        # Added by one UPDATE, so two taps at once count twice rather than once.
        CartLine.objects.filter(pk=line.pk).update(
            quantity=F("quantity") + quantity, updated_at=timezone.now()
        )
        line.refresh_from_db()
    # Validate the total; an error rolls the addition back.
    clean_lines([(sku_id, line.quantity)])
    item_redeem_check(sku_id=sku_id, member_id=member_id, quantity=line.quantity)
    return line


@transaction.atomic
def cart_line_update(*, member_id: int, line_id: int, quantity: int) -> CartLine:
    """Set a cart line's quantity (1..999, within the per-order limit)."""
    line = _cart_line(member_id, line_id)
    clean_lines([(line.sku_id, quantity)])
    item_redeem_check(sku_id=line.sku_id, member_id=member_id, quantity=quantity)
    CartLine.objects.filter(pk=line.pk).update(quantity=quantity, updated_at=timezone.now())
    line.refresh_from_db()
    return line


def cart_line_remove(*, member_id: int, line_id: int) -> None:
    """Take a line out of the member's cart; NotFound for another member's line."""
    _cart_line(member_id, line_id).delete()


# --- placing an order --------------------------------------------------------------------------


def _new_number() -> str:
    """A readable, unguessable order number: "J" + the business date + 7 random digits."""
    return f"J{clock.business_date():%y%m%d}{secrets.randbelow(10**7):07d}"


def _address_snapshot(member_id: int, address_id) -> dict:
    if address_id is None or address_id == "":
        raise ValidationFailed(
            _("请选择收货地址。"), code="address_required", fields={"address_id": address_id}
        )
    address = None
    if isinstance(address_id, int) and not isinstance(address_id, bool) and 0 < address_id < 2**63:
        address = Address.objects.filter(pk=address_id, member_id=member_id).first()
    if address is None:
        raise NotFound(
            _("收货地址不存在。"), code="address_not_found", fields={"address_id": address_id}
        )
    return {
        "ship_name": address.recipient,
        "ship_phone": address.phone,
        "ship_region": " ".join(
            part for part in (address.province, address.city, address.district) if part
        ),
        "ship_detail": address.detail,
    }


def _clean_token(token) -> str | None:
    if token in (None, ""):
        return None
    if not isinstance(token, str) or len(token) > 64:
        raise ValidationFailed(_("下单令牌无效。"), code="invalid_checkout_token")
    return token


def _checkout_fingerprint(lines, address_id) -> str:
    """sha256 of what a checkout asked for: the lines (merged per SKU, in SKU order) and the
    address id. Input that clean_lines refuses is hashed as given (it never makes an order,
    and a replay of its token with it differs from the first order's content anyway)."""
    try:
        content = sorted(clean_lines(lines))
    except ValidationFailed:
        content = repr(lines)
    payload = json.dumps({"lines": content, "address": address_id}, default=str, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _replayed(order: Order, fingerprint: str) -> Order:
    """The order a checkout token already made, if the replay asks for the same content;
    Conflict `checkout_token_reused` otherwise (orders placed before fingerprints were
    kept have none and are returned as before)."""
    if order.checkout_fingerprint and fingerprint and order.checkout_fingerprint != fingerprint:
        raise Conflict(
            _("该下单请求已提交过其他内容，请刷新页面后重新下单。"),
            code="checkout_token_reused",
            fields={"checkout_token": order.checkout_token},
        )
    return order


class _Replay(Exception):
    def __init__(self, order: Order):
        self.order = order


def order_place(
    *,
    member_id: int,
    lines,
    address_id: int | None = None,
    checkout_token: str | None = None,
    from_cart: bool = False,
    return_url: str = "",
) -> Order:
    """Place an order of `lines` [(sku_id, quantity)] in ONE transaction: per line
    item_redeem_check and item_quota_take; all lines' stock reserved (ascending SKU order,
    until the payment window + a margin); the points held ("order:<number>:hold"); the order,
    its lines and its first event. A points-only order is then paid at once (points
    captured, stock committed, virtual lines fulfilled); an order with cash waits in
    pending_payment and gets a payment (payments.payment_start) after commit.

    Once per `checkout_token` (per member): a double submit — also two at once — returns
    the first order. With `from_cart`, the ordered SKUs leave the member's cart.

    Errors (nothing changes): ValidationFailed `invalid_lines`, `address_required`,
    `per_order_limit`; NotFound `sku_not_found`, `item_not_found`, `address_not_found`;
    OutOfStock; Conflict `per_member_limit`; InsufficientPoints.
    """
    token = _clean_token(checkout_token)
    fingerprint = _checkout_fingerprint(lines, address_id) if token else ""
    if token:
        existing = Order.objects.filter(member_id=member_id, checkout_token=token).first()
        if existing is not None:
            return _replayed(existing, fingerprint)
    try:
        order = _order_place_atomic(
            member_id=member_id,
            lines=lines,
            address_id=address_id,
            token=token,
            fingerprint=fingerprint,
            from_cart=from_cart,
        )
    except _Replay as replay:
        return _replayed(replay.order, fingerprint)
    if order.status == Order.Status.PENDING_PAYMENT:
        try:
            order_payment_start(order=order, return_url=return_url)
        except DomainError:  # the order stands; "pay" on its page starts the payment again
            logger.exception("payment start failed for order %s", order.number)
    return order


def _insert_order(token: str | None, **fields) -> Order:
    """Insert the order row first, so a concurrent submit of the same token waits here on
    the unique index and then finds the committed order (a replay) instead of holding
    points twice. A clash of the random number is retried."""
    for _attempt in range(5):
        number = _new_number()
        try:
            with transaction.atomic():
                return Order.objects.create(number=number, checkout_token=token, **fields)
        except IntegrityError:
            if token:
                existing = Order.objects.filter(
                    member_id=fields["member_id"], checkout_token=token
                ).first()
                if existing is not None:
                    raise _Replay(existing) from None
    raise Conflict(_("订单号生成失败，请重试。"), code="order_number_clash")


@transaction.atomic
def _order_place_atomic(*, member_id, lines, address_id, token, fingerprint, from_cart) -> Order:
    quote = checkout_quote(member_id=member_id, lines=lines)
    snapshot = _address_snapshot(member_id, address_id) if quote.needs_shipping else {}
    now = timezone.now()
    expires_at = now + dt.timedelta(minutes=conf.payment_minutes())
    order = _insert_order(
        token,
        checkout_fingerprint=fingerprint,
        member_id=member_id,
        status=Order.Status.PENDING_PAYMENT,
        points_subtotal=quote.points_subtotal,
        points_total=quote.points_total,
        discount_factor=quote.discount_factor,
        cash_subtotal=quote.cash_subtotal,
        shipping_fee=quote.shipping_fee,
        cash_total=quote.cash_total,
        currency=quote.currency,
        needs_shipping=quote.needs_shipping,
        expires_at=expires_at if quote.cash_total > 0 else None,
        **snapshot,
    )
    # Lock order: quota rows, then SKUs (ascending, in stock_reserve_lines), then the wallet.
    references = [f"order:{order.number}:{n}" for n in range(1, len(quote.lines) + 1)]
    # Quota rows in ascending item id (a member's two tabs never lock them in a cycle).
    for line, reference in sorted(
        zip(quote.lines, references, strict=True), key=lambda pair: pair[0].item.pk
    ):
        item_quota_take(
            item_id=line.item.pk, member_id=member_id, quantity=line.quantity, reference=reference
        )
    stock_reserve_lines(
        lines=[
            (line.sku.pk, line.quantity, reference)
            for line, reference in zip(quote.lines, references, strict=True)
        ],
        expires_at=expires_at + dt.timedelta(minutes=conf.reservation_margin_minutes()),
    )
    if quote.points_total > 0:
        hold = points_hold(
            member_id=member_id,
            points=quote.points_total,
            reference=f"order:{order.number}:hold",
            explanation=_("兑换订单 %(number)s") % {"number": order.number},
            details={"order": order.number},
            expires_at=order.expires_at,
        )
        Order.objects.filter(pk=order.pk).update(hold=hold)
        order.hold = hold
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            item=line.item,
            sku=line.sku,
            quantity=line.quantity,
            unit_points=line.unit_points,
            unit_cash=line.unit_cash,
            points_paid=line.points_paid,
            cash_paid=line.cash_paid,
            item_name=line.item.name[:80],
            sku_label=line.sku.label[:200],
            kind=line.item.kind,
            fulfilment=line.item.fulfilment,
            stock_reference=reference,
        )
        for line, reference in zip(quote.lines, references, strict=True)
    )
    OrderEvent.objects.create(
        order=order,
        from_status="",
        to_status=Order.Status.PENDING_PAYMENT,
        actor_id=member_id,
        actor_label="member",
        reason=_("提交订单"),
    )
    if from_cart:
        CartLine.objects.filter(
            cart__member_id=member_id, sku_id__in=[line.sku.pk for line in quote.lines]
        ).delete()
    if quote.cash_total <= 0:
        _settle_paid(order, actor_label="system", reason=_("积分支付"))
        order.refresh_from_db()
    return order


def _payment_description(order: Order) -> str:
    """What the member sees on the gateway: "无线蓝牙耳机 黑色 ×2 等 3 件商品", at most the
    gateway's 128 characters."""
    lines = list(order.lines.order_by("pk"))
    first = lines[0]
    text = f"{first.item_name} {first.sku_label}".strip() + f" ×{first.quantity}"
    if len(lines) > 1:
        units = sum(line.quantity for line in lines)
        text += _(" 等 %(n)s 件商品") % {"n": units}
    return text[:128]


def order_payment_start(*, order: Order, return_url: str = ""):
    """Open (or find) the payment of a pending order's cash part; None when there is
    nothing to pay. Idempotent per order (payments keys payments by (purpose, reference))."""
    from jifen.payments.services import payment_start

    if order.status != Order.Status.PENDING_PAYMENT or order.cash_total <= 0:
        return None
    if not return_url:
        return_url = reverse("orders:detail", kwargs={"number": order.number})
    return payment_start(
        purpose="order",
        reference=order.number,
        member_id=order.member_id,
        amount=order.cash_total,
        currency=order.currency,
        description=_payment_description(order),
        return_url=return_url,
        expires_at=order.expires_at,
    )


# --- paying ------------------------------------------------------------------------------------


def _fulfil_virtual(order: Order) -> None:
    """Issue the vouchers, codes or links of the order's virtual lines (once per line
    reference)."""
    from jifen.vouchers.services import vouchers_issue

    # Ascending sku id: a code pool's rows are locked per SKU (the SKU lock order).
    virtual = [line for line in _by_sku(order.lines.all()) if not line.needs_shipping]
    for line in virtual:
        vouchers_issue(
            member_id=order.member_id,
            order_line_id=line.pk,
            item_id=line.item_id,
            sku_id=line.sku_id,
            quantity=line.quantity,
            reference=line.stock_reference,
        )
    return True


def _settle_paid(order: Order, *, actor_label: str, reason: str = "", payment_id=None) -> None:
    """The order's money is in: stock sold, points captured, virtual lines fulfilled, then
    paid (and completed when nothing ships). The caller holds the order lock.

    SKU rows are committed in ascending sku id (the house lock order, as stock_reserve_lines
    and cancels do): two payments of orders holding the same SKUs in opposite line order
    would otherwise deadlock."""
    for line in _by_sku(order.lines.all()):
        stock_commit(reference=line.stock_reference)
    if order.hold_id:
        points_hold_capture(
            hold_id=order.hold_id,
            reference=f"order:{order.number}:capture",
            purpose="mall",
            explanation=_("兑换订单 %(number)s") % {"number": order.number},
        )
    if payment_id is not None:
        Order.objects.filter(pk=order.pk).update(paid_payment_id=payment_id)
    order_transition(
        order_id=order.pk, to=Order.Status.PAID, actor_label=actor_label, reason=reason
    )
    _fulfil_virtual(order)
    if not order.needs_shipping:
        order_transition(
            order_id=order.pk,
            to=Order.Status.COMPLETED,
            actor_label="system",
            reason=_("虚拟商品已发放"),
        )


@transaction.atomic
def order_payment_succeeded(payment) -> bool:
    """Payments calls this (purpose "order") when the cash part is paid, inside its own
    transaction, holding the payment row (lock order: payment, then order).

    pending_payment → settle and True; already paid by this payment → True (a replay);
    cancelled (timed out or cancelled meanwhile) or paid by another payment → False, and
    payments refunds this one. Amount mismatch → False.
    """
    order = Order.objects.select_for_update().filter(number=payment.reference).first()
    if order is None:
        logger.error("payment %s for unknown order %s", payment.pk, payment.reference)
        return False
    if order.status == Order.Status.PENDING_PAYMENT:
        if Decimal(payment.amount) != order.cash_total or payment.member_id != order.member_id:
            logger.error("payment %s does not match order %s", payment.pk, order.number)
            return False
        _settle_paid(order, actor_label="payment", reason=_("现金支付成功"), payment_id=payment.pk)
        return True
    return order.paid_payment_id == payment.pk


# --- cancelling and timing out -----------------------------------------------------------------


def _by_sku(lines) -> list[OrderLine]:
    """Lines in the SKU lock order: ascending sku id (then line id)."""
    return sorted(lines, key=lambda line: (line.sku_id, line.pk))


def _by_item(lines) -> list[OrderLine]:
    """Lines in the quota lock order: ascending item id (then line id)."""
    return sorted(lines, key=lambda line: (line.item_id, line.pk))


def _give_back_unpaid(order: Order, reason: str) -> None:
    """Pending order: quota, stock and held points come back (lock order: quota, SKUs,
    wallet)."""
    for line in _by_item(order.lines.all()):
        item_quota_return(reference=line.stock_reference)
    for line in _by_sku(order.lines.all()):
        stock_release(reference=line.stock_reference)
    if order.hold_id:
        points_hold_release(
            hold_id=order.hold_id, reference=f"order:{order.number}:release", explanation=reason
        )


def _give_back_paid(order: Order, reason: str) -> None:
    """Paid order: unused vouchers revoked, quota and sold stock returned, the captured
    points reversed back into their original lots (original expiry)."""
    for line in order.lines.all():
        if not line.needs_shipping:
            revoked = _revoke(line, reason)
            if revoked < line.quantity:
                raise Conflict(
                    _("虚拟商品已使用，不能取消。"), code="vouchers_used", fields={"line": line.pk}
                )
    for line in _by_item(order.lines.all()):
        item_quota_return(reference=line.stock_reference)
    for line in _by_sku(order.lines.all()):
        if line.fulfilment == Item.Fulfilment.CODE:
            # A pool code the member has seen is spent even when voided: putting the unit
            # back on sale would sell a unit with no code behind it. It stays sold.
            continue
        stock_return(
            reference=line.stock_reference,
            quantity=line.quantity,
            return_reference=f"{line.stock_reference}:cancel",
        )
    if order.hold_id:
        hold = Hold.objects.get(pk=order.hold_id)
        if hold.settle_transaction_id and hold.status == Hold.Status.CAPTURED:
            transaction_reverse(
                transaction_id=hold.settle_transaction_id,
                reference=f"order:{order.number}:refund",
                reason=reason,
            )


def _revoke(line: OrderLine, reason: str) -> int:
    from jifen.vouchers.services import vouchers_revoke

    return vouchers_revoke(reference=line.stock_reference, quantity=line.quantity, reason=reason)


def _after_commit_money(order: Order, *, was_paid: bool, reason: str) -> None:
    """Close the unpaid payment, or send the cash refund recorded on the order, once our
    locks are gone (payments locks its own rows: never while we hold the order)."""
    number, order_id = order.number, order.pk
    if was_paid:
        if order.cash_refund_status == Order.CashRefund.PENDING:
            transaction.on_commit(lambda: order_cash_refund_send(order_id=order_id), robust=True)
        return
    if order.cash_total <= 0:
        return

    def close():
        from jifen.payments.services import payment_close

        payment_close(purpose="order", reference=number)

    # robust: a failure to close must not undo a committed cancel (the payment then
    # expires by itself, and a late "paid" callback is refunded by payments).
    transaction.on_commit(close, robust=True)


def _aftersale_blocks_cancel(order: Order) -> None:
    """After-sales and cancelling must not both give the same things back: while an
    after-sale of the order is open, or once one has refunded anything, the order can no
    longer be cancelled (the member finishes through the after-sale, which refunds the
    rest). Read under the order lock, which after-sale requests and refunds also take."""
    from jifen.aftersales.models import OPEN_STATUSES, AfterSale

    statuses = (*OPEN_STATUSES, AfterSale.Status.REFUNDED)
    if AfterSale.objects.filter(order_id=order.pk, status__in=statuses).exists():
        raise Conflict(
            _("该订单已申请售后，不能直接取消；请在售后单中办理退款。"),
            code="aftersale_open",
            fields={"order": order.number},
        )


@transaction.atomic
def order_cancel(
    *, order_id: int, by=None, actor_label: str = "member", reason: str = "", member_id=None
) -> Order:
    """Cancel an order before shipment; points, stock and quota come back at once.

    pending_payment: hold released, reservations released, the payment closed (after
    commit). paid (not yet shipped): vouchers revoked (Conflict `vouchers_used` if one was
    used), stock returned, the capture reversed (the points go back to their lots with their
    original expiry), the cash refunded through payments after commit — its outcome is
    recorded on the order (`cash_refund_status` pending → succeeded | failed; a failure is
    retried by `order_cash_refund_retry` and the periodic job). With `member_id`, only that
    member's order (NotFound otherwise). Cancelling a cancelled order returns it.
    Conflict `invalid_transition` after shipment or completion; Conflict `aftersale_open`
    while an after-sale of the order is open or once one has refunded anything (nothing
    changes).
    """
    order = _lock_order(order_id)
    if member_id is not None and order.member_id != member_id:
        raise NotFound(_("订单不存在。"), code="order_not_found")
    reason = str(reason or "")[:200] or _("会员取消")
    if order.status == Order.Status.CANCELLED:
        return order
    if Order.Status.CANCELLED not in TRANSITIONS[order.status]:
        raise Conflict(
            _("订单状态为“%(status)s”，不能取消。") % {"status": order.get_status_display()},
            code="invalid_transition",
            fields={"from": order.status, "to": Order.Status.CANCELLED},
        )
    _aftersale_blocks_cancel(order)
    was_paid = order.status == Order.Status.PAID
    changes: dict = {"cancel_reason": reason}
    if was_paid:
        _give_back_paid(order, reason)
        if order.shipping_fee > 0:
            # The cancel refunds cash_total, fee included.
            changes["shipping_refunded"] = True
        if order.paid_payment_id and order.cash_total > 0:
            changes.update(
                cash_refund_status=Order.CashRefund.PENDING,
                cash_refund_reference=f"order:{order.number}:cancel",
                cash_refund_attempts=1,
                cash_refund_error="",
            )
    else:
        _give_back_unpaid(order, reason)
    Order.objects.filter(pk=order.pk).update(**changes)
    order = order_transition(
        order_id=order.pk, to=Order.Status.CANCELLED, by=by, actor_label=actor_label, reason=reason
    )
    for name, value in changes.items():
        setattr(order, name, value)
    _after_commit_money(order, was_paid=was_paid, reason=reason)
    return order


# --- the cash refund of a cancelled paid order --------------------------------------------------

MAX_AUTO_REFUND_ATTEMPTS = 5


def _refund_of(*, refund_id=None, reference: str = ""):
    """The payments Refund by id or by reference, or None."""
    from jifen.payments.models import Refund

    if refund_id:
        return Refund.objects.filter(pk=refund_id).first()
    return Refund.objects.filter(reference=reference).first() if reference else None


def _from_refund(refund) -> dict:
    """The order's cash refund fields that mirror a payments Refund."""
    status = {
        "succeeded": Order.CashRefund.SUCCEEDED,
        "failed": Order.CashRefund.FAILED,
    }.get(refund.status, Order.CashRefund.PENDING)
    return {
        "cash_refund_status": status,
        "cash_refund_id": refund.pk,
        "cash_refund_error": refund.failure if status == Order.CashRefund.FAILED else "",
    }


def _after_refusal(order: Order, reference: str, error: DomainError) -> dict:
    """payments refused the attempt (no Refund was made under `reference`, or it was).
    `refund_exceeds_paid` means the money is, or was, going back under another refund of
    the payment (an earlier attempt): wait on a pending one, or call it succeeded when the
    succeeded ones cover the order; only otherwise is the attempt failed."""
    from django.db.models import Sum

    from jifen.payments.models import Refund

    refund = _refund_of(reference=reference)
    if refund is not None:
        return _from_refund(refund)
    if error.code == "refund_exceeds_paid" and order.paid_payment_id:
        refunds = Refund.objects.filter(payment_id=order.paid_payment_id)
        waiting = refunds.filter(status=Refund.Status.PENDING).order_by("-pk").first()
        if waiting is not None:
            return {
                "cash_refund_status": Order.CashRefund.PENDING,
                "cash_refund_id": waiting.pk,
                "cash_refund_error": _("等待退款单 %(reference)s 的结果")
                % {"reference": waiting.reference},
            }
        done = refunds.filter(status=Refund.Status.SUCCEEDED)
        if (done.aggregate(total=Sum("amount"))["total"] or 0) >= order.cash_total:
            return {
                "cash_refund_status": Order.CashRefund.SUCCEEDED,
                "cash_refund_id": done.order_by("-pk").values_list("pk", flat=True).first(),
                "cash_refund_error": "",
            }
    return {"cash_refund_status": Order.CashRefund.FAILED, "cash_refund_error": error.message}


def _record(order: Order, reference: str, changes: dict) -> Order:
    """Write the attempt's outcome, guarded by its reference and the pending status: an
    answer to an older attempt never overwrites a newer one."""
    changes["cash_refund_error"] = str(changes.get("cash_refund_error", ""))[:300]
    Order.objects.filter(
        pk=order.pk, cash_refund_status=Order.CashRefund.PENDING, cash_refund_reference=reference
    ).update(**changes, updated_at=timezone.now())
    order.refresh_from_db()
    if order.cash_refund_status == Order.CashRefund.FAILED:
        logger.error(
            "cash refund %s of cancelled order %s failed: %s",
            reference,
            order.number,
            order.cash_refund_error,
        )
    return order


def order_cash_refund_send(*, order_id: int) -> Order:
    """Send the pending cash refund of a cancelled paid order under its current reference
    (`payments.payment_refund`, idempotent by reference: a repeat re-reads the refund) and
    record the Refund's status: succeeded, failed, or pending (the gateway did not answer:
    payments' job re-sends it, and `orders_cash_refunds_retry` reads the outcome). A refusal
    by payments is failed unless a Refund shows the money is going back (see
    `_after_refusal`); an unexpected error after the Refund was made records that Refund
    (pending), never failed. Call it outside a transaction (the provider is called after
    commit). Does nothing unless the status is pending."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.cash_refund_status != Order.CashRefund.PENDING:
        return order
    reference = order.cash_refund_reference
    try:
        from jifen.payments.services import payment_refund, refund_submit

        refund = payment_refund(
            payment_id=order.paid_payment_id,
            amount=order.cash_total,
            reference=reference,
            reason=(order.cancel_reason or _("订单取消"))[:200],
        )
        if refund.status == "pending":
            # Submitted after payments' commit; when that was deferred (a caller's
            # transaction) ask once now. refund_submit claims the refund first, so this is
            # a no-op while another submitter is talking to the gateway.
            refund = refund_submit(refund_id=refund.pk)
    except DomainError as error:
        changes = _after_refusal(order, reference, error)
    except Exception as error:  # an unexpected failure is recorded, never lost
        logger.exception("cash refund of cancelled order %s failed", order.number)
        refund = _refund_of(reference=reference)
        if refund is not None:  # made and reserved before the error: follow it
            changes = _from_refund(refund)
        else:
            changes = {
                "cash_refund_status": Order.CashRefund.FAILED,
                "cash_refund_error": f"{type(error).__name__}: {error}",
            }
    else:
        changes = _from_refund(refund)
    return _record(order, reference, changes)


def order_cash_refund_sync(*, order_id: int) -> Order:
    """Settle a pending cash refund from its Refund's final status (read only: re-sending
    pending refunds is payments' job, `refunds_retry`). Sends it when no Refund exists yet
    (the after-commit step never ran)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.cash_refund_status != Order.CashRefund.PENDING:
        return order
    refund = _refund_of(refund_id=order.cash_refund_id, reference=order.cash_refund_reference)
    if refund is None:
        return order_cash_refund_send(order_id=order.pk)
    if refund.status == "pending":
        return order
    changes = _from_refund(refund)
    if changes["cash_refund_status"] == Order.CashRefund.FAILED and refund.reference != (
        order.cash_refund_reference
    ):
        # The refund this attempt waited on failed: the attempt itself was never made.
        changes = {
            "cash_refund_status": Order.CashRefund.FAILED,
            "cash_refund_id": None,
            "cash_refund_error": refund.failure,
        }
    return _record(order, order.cash_refund_reference, changes)


def order_cash_refund_retry(*, order_id: int, by=None, actor_label: str = "system") -> Order:
    """Start a new attempt of a failed cash refund of a cancelled order: a new reference
    f"order:{number}:cancel:{attempt}" (a failed refund is final for its reference), one
    OrderEvent saying who retried, then the refund is sent after commit. Payments never
    refunds more than was paid (a refund that did go through makes the retry fail with
    `refund_exceeds_paid`, recorded). Conflict `refund_not_failed` unless the order's cash
    refund has failed (nothing changes). Call it outside a transaction."""
    with transaction.atomic():
        order = _lock_order(order_id)
        if order.cash_refund_status != Order.CashRefund.FAILED:
            raise Conflict(
                _("该订单没有失败的现金退款。"),
                code="refund_not_failed",
                fields={"cash_refund_status": order.cash_refund_status},
            )
        attempt = order.cash_refund_attempts + 1
        reference = f"order:{order.number}:cancel:{attempt}"
        moved = Order.objects.filter(
            pk=order.pk,
            cash_refund_status=Order.CashRefund.FAILED,
            cash_refund_attempts=order.cash_refund_attempts,
        ).update(
            cash_refund_status=Order.CashRefund.PENDING,
            cash_refund_reference=reference,
            cash_refund_attempts=F("cash_refund_attempts") + 1,
            cash_refund_id=None,
            cash_refund_error="",
            updated_at=timezone.now(),
        )
        if not moved:  # pragma: no cover - only if the lock was bypassed
            raise Conflict(_("请稍后再试。"), code="refund_not_failed")
        OrderEvent.objects.create(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=by if getattr(by, "pk", None) else None,
            actor_label=str(actor_label)[:60],
            reason=_("重新发起现金退款（第 %(n)s 次，%(reference)s）")
            % {"n": attempt, "reference": reference},
        )
        transaction.on_commit(lambda: order_cash_refund_send(order_id=order.pk), robust=True)
    return Order.objects.get(pk=order.pk)


def orders_cash_refunds_retry(
    *, now: dt.datetime | None = None, min_age_minutes: int = 10, batch_size: int = 200
) -> int:
    """The periodic job: cash refunds of cancelled orders that did not end well, untouched
    for `min_age_minutes`: failed ones get a new attempt (up to MAX_AUTO_REFUND_ATTEMPTS;
    after that they wait for an operator's "retry"); pending ones are settled from their
    Refund's status (`order_cash_refund_sync`: it only reads; payments' `refunds_retry` is
    the one job that re-sends a refund to the gateway), or sent when the after-commit step
    never ran. Returns how many orders it touched."""
    now = now or timezone.now()
    due = now - dt.timedelta(minutes=min_age_minutes)
    stale = Order.objects.filter(updated_at__lte=due, status=Order.Status.CANCELLED)
    failed = list(
        stale.filter(
            cash_refund_status=Order.CashRefund.FAILED,
            cash_refund_attempts__lt=MAX_AUTO_REFUND_ATTEMPTS,
        ).values_list("pk", flat=True)[:batch_size]
    )
    pending = list(
        stale.filter(cash_refund_status=Order.CashRefund.PENDING).values_list("pk", flat=True)[
            :batch_size
        ]
    )
    touched = 0
    for order_id in failed:
        try:
            order_cash_refund_retry(order_id=order_id, actor_label="system")
        except Conflict:
            continue  # retried by an operator meanwhile
        touched += 1
    for order_id in pending:
        order_cash_refund_sync(order_id=order_id)
        touched += 1
    return touched


def orders_expire_unpaid(*, now: dt.datetime | None = None, batch_size: int = 200) -> int:
    """Cancel pending orders whose payment window has passed (reason "超时未支付"), each in
    its own transaction, then close their payments after commit. Safe to run twice or beside
    a payment callback: whichever locks the order first wins. Returns how many it cancelled."""
    now = now or timezone.now()
    ids = list(
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    cancelled = 0
    for order_id in ids:
        with transaction.atomic():
            order = _lock_order(order_id)
            if order.status != Order.Status.PENDING_PAYMENT or order.expires_at > now:
                continue  # paid (or changed) meanwhile
            order_cancel(order_id=order_id, actor_label="system", reason=_("超时未支付"))
            cancelled += 1
    return cancelled


# --- after payment -----------------------------------------------------------------------------


@transaction.atomic
def order_change_address(*, order_id: int, member_id: int, address_id: int) -> Order:
    """Replace the address snapshot of a member's physical order before shipment (pending or
    paid), writing an event. Conflict `invalid_transition` once shipped; ValidationFailed
    `no_shipping` for a virtual-only order."""
    order = _lock_order(order_id)
    if order.member_id != member_id:
        raise NotFound(_("订单不存在。"), code="order_not_found")
    if not order.needs_shipping:
        raise ValidationFailed(_("该订单无需配送。"), code="no_shipping")
    if order.status not in (Order.Status.PENDING_PAYMENT, Order.Status.PAID):
        raise Conflict(
            _("订单已发货，不能修改地址。"),
            code="invalid_transition",
            fields={"from": order.status},
        )
    snapshot = _address_snapshot(member_id, address_id)
    Order.objects.filter(pk=order.pk).update(**snapshot, updated_at=timezone.now())
    OrderEvent.objects.create(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor_id=member_id,
        actor_label="member",
        reason=_("修改收货地址：%(name)s %(region)s %(detail)s")
        % {
            "name": snapshot["ship_name"],
            "region": snapshot["ship_region"],
            "detail": snapshot["ship_detail"],
        },
    )
    order.refresh_from_db()
    return order


@transaction.atomic
def order_confirm_receipt(*, order_id: int, member_id: int) -> Order:
    """The member confirms receipt: shipped or delivered → completed (a repeat returns the
    completed order). Conflict `invalid_transition` before shipment."""
    order = _lock_order(order_id)
    if order.member_id != member_id:
        raise NotFound(_("订单不存在。"), code="order_not_found")
    if order.status not in (Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.COMPLETED):
        raise Conflict(
            _("订单尚未发货。"), code="invalid_transition", fields={"from": order.status}
        )
    return order_transition(
        order_id=order.pk,
        to=Order.Status.COMPLETED,
        by=order.member,
        actor_label="member",
        reason=_("确认收货"),
    )


def orders_auto_complete(*, now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Complete shipped or delivered orders JIFEN_ORDER_AUTO_COMPLETE_DAYS after shipment,
    each in its own transaction. Safe to run twice. Returns how many it completed."""
    now = now or timezone.now()
    due = now - dt.timedelta(days=conf.auto_complete_days())
    ids = list(
        Order.objects.filter(
            status__in=(Order.Status.SHIPPED, Order.Status.DELIVERED), shipped_at__lte=due
        ).values_list("pk", flat=True)[:batch_size]
    )
    done = 0
    for order_id in ids:
        try:
            order_transition(
                order_id=order_id,
                to=Order.Status.COMPLETED,
                actor_label="system",
                reason=_("超时自动确认收货"),
            )
        except Conflict:
            continue
        done += 1
    return done
