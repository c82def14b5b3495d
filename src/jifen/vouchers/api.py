"""My coupons and cards (我的卡券) in the JSON API, and coupon redemption for the shop.

- `GET /me/vouchers`: the member's vouchers, newest first, `{"items", "count"}`; filters
  `status` (unused, used, expired, revoked — as displayed: an unused voucher past its
  validity is expired) and `kind` (code, link, coupon, voucher).
- `GET /me/vouchers/{id}`: one of them, with its code or link.
- `POST /integration/coupons/{code}/redeem`: the enterprise's shop redeems a coupon or
  service voucher by its code for one of its orders (`order_ref`, required; signed like
  every /integration path). The same order again is a replay; another order of a used
  coupon is 409 `voucher_used`.
"""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from jifen.catalog.selectors import money
from jifen.core.errors import NotFound
from jifen.integrations.api import integration_auth
from jifen.members.api import ERRORS, Text, local
from jifen.members.auth import member_auth
from jifen.vouchers import selectors, services
from jifen.vouchers.models import MemberVoucher

router = Router(tags=["vouchers"])

MAX_ID = 2**63 - 1
Status = Literal["unused", "used", "expired", "revoked"]
Kind = Literal["code", "link", "coupon", "voucher"]


class VoucherOut(Schema):
    id: int
    item_id: int
    sku_id: int
    item_name: str
    kind: str
    status: str = Field(
        description="unused / used / expired / revoked（已过有效期的未使用券为 expired）"
    )
    code: str = Field(description="卡密、券码或服务凭证码；兑换链接类为空")
    link: str
    value: str | None = Field(description='优惠券面额，如 "50.00"')
    threshold: str | None = Field(description='使用门槛，如 "299.00"；"0.00" 为无门槛')
    currency: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    used_at: dt.datetime | None
    order_line_id: int | None
    created_at: dt.datetime


class VoucherList(Schema):
    items: list[VoucherOut]
    count: int


class VoucherFilters(Schema):
    status: Status | None = None
    kind: Kind | None = None
    page: int = Field(1, ge=1, le=10**6)
    page_size: int = Field(20, ge=1, le=100)


def voucher_out(voucher: MemberVoucher) -> dict:
    return {
        "id": voucher.pk,
        "item_id": voucher.item_id,
        "sku_id": voucher.sku_id,
        "item_name": voucher.item_name,
        "kind": voucher.kind,
        "status": voucher.display_status,
        "code": voucher.code,
        "link": voucher.link,
        "value": money(voucher.value) if voucher.value is not None else None,
        "threshold": money(voucher.threshold) if voucher.threshold is not None else None,
        "currency": voucher.currency,
        "valid_from": local(voucher.valid_from),
        "valid_until": local(voucher.valid_until),
        "used_at": local(voucher.used_at),
        "order_line_id": voucher.order_line_id,
        "created_at": local(voucher.created_at),
    }


@router.get("/me/vouchers", auth=member_auth, response={200: VoucherList, **ERRORS})
def my_vouchers(request: HttpRequest, filters: Query[VoucherFilters]):
    """My coupons and cards, newest first."""
    result = selectors.member_vouchers(
        member_id=request.auth.pk,
        status=filters.status,
        kind=filters.kind,
        page=filters.page,
        page_size=filters.page_size,
    )
    return {"items": [voucher_out(v) for v in result.items], "count": result.count}


@router.get("/me/vouchers/{voucher_id}", auth=member_auth, response={200: VoucherOut, **ERRORS})
def my_voucher(request: HttpRequest, voucher_id: int):
    """One of my vouchers; another member's is 404 `voucher_not_found`."""
    if not 1 <= voucher_id <= MAX_ID:
        raise NotFound(code="voucher_not_found")
    voucher = selectors.member_voucher_get(voucher_id=voucher_id, member_id=request.auth.pk)
    return voucher_out(voucher)


# --- the enterprise's shop: verify and redeem a coupon ------------------------------------------


class CouponOut(Schema):
    code: str
    kind: str
    item_name: str
    status: str
    value: str | None
    threshold: str | None
    currency: str
    valid_until: dt.datetime | None
    used_at: dt.datetime | None
    member_number: str


class RedeemIn(Schema):
    model_config = ConfigDict(extra="forbid")

    order_ref: Text = Field(
        ...,
        min_length=1,
        max_length=100,
        description="商城订单号：同一订单重试为重放，其他订单 409",
    )
    order_amount: Decimal | None = Field(
        None,
        ge=0,
        le=Decimal("99999999.99"),
        decimal_places=2,
        description="订单金额；有使用门槛的券必填",
    )
    note: Text = Field("", max_length=200, description="备注")


def coupon_out(voucher: MemberVoucher) -> dict:
    return {
        "code": voucher.code,
        "kind": voucher.kind,
        "item_name": voucher.item_name,
        "status": voucher.display_status,
        "value": money(voucher.value) if voucher.value is not None else None,
        "threshold": money(voucher.threshold) if voucher.threshold is not None else None,
        "currency": voucher.currency,
        "valid_until": local(voucher.valid_until),
        "used_at": local(voucher.used_at),
        "member_number": voucher.member.member_number,
    }


@router.get(
    "/integration/coupons/{code}", auth=integration_auth, response={200: CouponOut, **ERRORS}
)
def coupon_get(request: HttpRequest, code: str):
    """Check a coupon or service voucher code before redeeming it."""
    return coupon_out(selectors.generated_voucher_get(code=code))


@router.post(
    "/integration/coupons/{code}/redeem",
    auth=integration_auth,
    response={200: CouponOut, **ERRORS},
)
def coupon_redeem(request: HttpRequest, code: str, payload: RedeemIn):
    """Redeem a coupon or service voucher for one shop order (it becomes used).

    `order_ref` is required: the same client and order_ref again returns the voucher as it is
    (a retry); a used voucher redeemed for another order is 409 `voucher_used`. 409
    `voucher_expired` / `voucher_revoked`; 422 `order_amount_required` for a coupon with a
    threshold when `order_amount` is missing, `below_threshold` when it is under it."""
    order_ref = payload.order_ref.strip()
    note = f"{request.auth.name}: {order_ref}"
    if payload.note.strip():
        note = f"{note} {payload.note.strip()}"
    voucher = services.voucher_mark_used(
        code=code,
        note=note[:200],
        order_amount=payload.order_amount,
        client_id=request.auth.pk,
        reference=order_ref,
    )
    return coupon_out(voucher)
