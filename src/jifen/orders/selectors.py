"""Reads of orders and carts (docs/mall.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from jifen.catalog.models import Item, Sku
from jifen.core.errors import DomainError, NotFound, ValidationFailed
from jifen.orders import conf
from jifen.orders.models import CartLine, Order


def order_get_for_member(*, number: str, member_id: int) -> Order:
    """The member's order by number; NotFound `order_not_found` for unknown numbers and for
    other members' orders alike (no hint that the number exists)."""
    order = (
        Order.objects.filter(number=str(number or "")[:20], member_id=member_id)
        .select_related("hold")
        .first()
    )
    if order is None:
        raise NotFound(_("订单不存在。"), code="order_not_found", fields={"number": number})
    return order


# --- lines and pricing -------------------------------------------------------------------------

MAX_LINES = 50
MAX_LINE_QUANTITY = 999


def clean_lines(lines) -> list[tuple[int, int]]:
    """[(sku_id, quantity)] from any iterable of pairs or {"sku", "quantity"} dicts, with
    repeated SKUs merged (first position kept). ValidationFailed `invalid_lines` for an
    empty order, too many lines, non-integer ids or quantities outside 1..999."""

    def bad(message, **fields):
        return ValidationFailed(message, code="invalid_lines", fields=fields)

    if not isinstance(lines, list | tuple) or not lines:
        raise bad(_("请选择要兑换的商品。"))
    if len(lines) > MAX_LINES:
        raise bad(_("一单最多 %(n)s 种商品。") % {"n": MAX_LINES})
    merged: dict[int, int] = {}
    for line in lines:
        if isinstance(line, dict):
            sku_id, quantity = line.get("sku"), line.get("quantity")
        elif isinstance(line, list | tuple) and len(line) == 2:
            sku_id, quantity = line
        else:
            raise bad(_("商品行格式不正确。"))
        for value, name in ((sku_id, "sku"), (quantity, "quantity")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(_("商品和数量须为正整数。"), **{name: value})
        merged[sku_id] = merged.get(sku_id, 0) + quantity
        if merged[sku_id] > MAX_LINE_QUANTITY:
            raise bad(_("单个商品最多兑换 %(n)s 件。") % {"n": MAX_LINE_QUANTITY}, sku=sku_id)
    return list(merged.items())


@dataclass
class QuoteLine:
    sku: Sku
    item: Item
    quantity: int
    unit_points: int
    unit_cash: Decimal
    points_subtotal: int
    points_paid: int
    cash_paid: Decimal

    @property
    def needs_shipping(self) -> bool:
        return self.item.fulfilment == Item.Fulfilment.SHIPPING


@dataclass
class Quote:
    """What an order of these lines costs this member now."""

    lines: list[QuoteLine]
    discount_factor: Decimal
    points_subtotal: int
    points_total: int
    cash_subtotal: Decimal
    shipping_fee: Decimal
    cash_total: Decimal
    currency: str
    needs_shipping: bool
    free_shipping_by_tier: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def points_discount(self) -> int:
        return self.points_subtotal - self.points_total

    @property
    def goods_value(self) -> Decimal:
        return self.cash_subtotal + Decimal(self.points_total) * conf.point_value()


def member_discount(member_id: int) -> Decimal:
    """The member's tier price factor on points (1 = none), never above 1 or below 0."""
    from jifen.tiers.selectors import member_mall_discount

    factor = Decimal(member_mall_discount(member_id))
    return min(max(factor, Decimal(0)), Decimal(1))


def discounted_points(points: int, factor: Decimal) -> int:
    """Points after the tier discount, rounded down (in the member's favour)."""
    return int((Decimal(points) * factor).to_integral_value(rounding=ROUND_FLOOR))


def shipping_fee_for(*, member_id: int, needs_shipping: bool, goods_value: Decimal):
    """(fee, free_by_tier). Only physical goods ship. Free when the member's tier grants it,
    or when the goods' value (cash + points at JIFEN_POINT_VALUE, after discount) reaches
    JIFEN_FREE_SHIPPING_OVER; otherwise JIFEN_SHIPPING_FEE."""
    from jifen.tiers.selectors import member_free_shipping

    if not needs_shipping:
        return Decimal("0.00"), False
    if member_free_shipping(member_id):
        return Decimal("0.00"), True
    if goods_value >= conf.free_shipping_over():
        return Decimal("0.00"), False
    return conf.shipping_fee().quantize(Decimal("0.01")), False


def checkout_quote(*, member_id: int, lines) -> Quote:
    """Price `lines` for the member: each checked by catalog's item_redeem_check (visible to
    them, within the per-order limit), points discounted per line by the tier factor and
    floored, cash as listed, plus the shipping fee. Raises what item_redeem_check raises and
    ValidationFailed `invalid_lines`. Stock and per-member limits are enforced at placing."""
    from jifen.catalog.services import item_redeem_check

    cleaned = clean_lines(lines)
    factor = member_discount(member_id)
    skus = {sku.pk: sku for sku in Sku.objects.filter(pk__in=[s for s, _q in cleaned])}
    quote_lines: list[QuoteLine] = []
    for sku_id, quantity in cleaned:
        item = item_redeem_check(sku_id=sku_id, member_id=member_id, quantity=quantity)
        sku = skus[sku_id]
        subtotal = sku.points * quantity
        quote_lines.append(
            QuoteLine(
                sku=sku,
                item=item,
                quantity=quantity,
                unit_points=sku.points,
                unit_cash=sku.cash,
                points_subtotal=subtotal,
                points_paid=discounted_points(subtotal, factor),
                cash_paid=(sku.cash * quantity).quantize(Decimal("0.01")),
            )
        )
    needs_shipping = any(line.needs_shipping for line in quote_lines)
    points_total = sum(line.points_paid for line in quote_lines)
    cash_subtotal = sum((line.cash_paid for line in quote_lines), Decimal("0.00"))
    goods_value = cash_subtotal + Decimal(points_total) * conf.point_value()
    fee, by_tier = shipping_fee_for(
        member_id=member_id, needs_shipping=needs_shipping, goods_value=goods_value
    )
    return Quote(
        lines=quote_lines,
        discount_factor=factor,
        points_subtotal=sum(line.points_subtotal for line in quote_lines),
        points_total=points_total,
        cash_subtotal=cash_subtotal,
        shipping_fee=fee,
        cash_total=cash_subtotal + fee,
        currency=settings.JIFEN_CURRENCY,
        needs_shipping=needs_shipping,
        free_shipping_by_tier=by_tier,
    )


# --- carts -------------------------------------------------------------------------------------


@dataclass
class CartRow:
    line: CartLine
    sku: Sku
    item: Item
    problem: str = ""

    @property
    def points(self) -> int:
        return self.sku.points * self.line.quantity

    @property
    def cash(self) -> Decimal:
        return self.sku.cash * self.line.quantity


@dataclass
class CartView:
    rows: list[CartRow]
    points_total: int
    cash_total: Decimal
    currency: str

    @property
    def orderable(self) -> list[CartRow]:
        return [row for row in self.rows if not row.problem]

    @property
    def count(self) -> int:
        return sum(row.line.quantity for row in self.rows)


def cart_count(*, member_id: int | None) -> int:
    """Units in the member's cart (the header badge); 0 for anonymous visitors."""
    if not member_id:
        return 0
    total = CartLine.objects.filter(cart__member_id=member_id).aggregate(n=Sum("quantity"))["n"]
    return int(total or 0)


def cart_get(*, member_id: int) -> CartView:
    """The member's cart with each line's current price and any reason it cannot be ordered
    now (off the shelf, sold out, over the per-order limit). Totals count orderable lines."""
    from jifen.catalog.services import item_redeem_check

    rows: list[CartRow] = []
    lines = CartLine.objects.filter(cart__member_id=member_id).select_related("sku", "sku__item")
    for line in lines:
        row = CartRow(line=line, sku=line.sku, item=line.sku.item)
        try:
            row.item = item_redeem_check(
                sku_id=line.sku_id, member_id=member_id, quantity=line.quantity
            )
        except DomainError as error:
            row.problem = error.message
        else:
            if line.sku.remaining < line.quantity:
                row.problem = _("已售罄") if line.sku.remaining == 0 else _("库存不足")
        rows.append(row)
    orderable = [row for row in rows if not row.problem]
    return CartView(
        rows=rows,
        points_total=sum(row.points for row in orderable),
        cash_total=sum((row.cash for row in orderable), Decimal("0.00")),
        currency=settings.JIFEN_CURRENCY,
    )


# --- orders ------------------------------------------------------------------------------------


def orders_for_member(*, member_id: int, status: str | None = None):
    """The member's orders, newest first, optionally of one status (ValidationFailed
    `invalid_status` for an unknown one)."""
    queryset = Order.objects.filter(member_id=member_id)
    if status:
        if status not in Order.Status.values:
            raise ValidationFailed(
                _("未知的订单状态。"), code="invalid_status", fields={"status": status}
            )
        queryset = queryset.filter(status=status)
    return queryset.prefetch_related("lines").order_by("-created_at", "-pk")


def order_status_counts(*, member_id: int) -> dict[str, int]:
    rows = Order.objects.filter(member_id=member_id).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def order_pay_url(order: Order) -> str | None:
    """Where the member pays the cash part of a pending order, or None (nothing to pay)."""
    from jifen.payments.selectors import payment_for, payment_pay_url

    if order.status != Order.Status.PENDING_PAYMENT or order.cash_total <= 0:
        return None
    payment = payment_for(purpose="order", reference=order.number)
    return payment_pay_url(payment) if payment is not None else None
