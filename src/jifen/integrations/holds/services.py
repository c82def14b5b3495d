"""Writes of points as cash: a hold per order of the enterprise's checkout, then its capture
(the order was paid), release (cancelled) or expiry (nobody came back).

Invariants:
- Once per (client, order_id): the IntegrationHold row is unique on it and its ledger hold
  is posted under the reference "integration:<client id>:hold:<order id>" (its capture,
  release and expiry under "integration:<client id>:hold-<step>:<hold id>", so no order id,
  whatever it contains, names another hold's step). A retried create
  with the same member, amount and points returns the same hold; anything else is 409
  `reference_conflict`. Concurrent creates of one order wait on the ledger's reference.
- A hold ends once: capture, release and expiry lock the IntegrationHold row, then change
  its status by a guarded update (`WHERE status = 'held'`) in the same database transaction
  as the ledger's points_hold_capture / points_hold_release; of a racing capture and
  release exactly one wins, the other answers 409 and changes nothing.
- Points never exceed the share of the order, the balance, nor go below the minimum; cash
  values are exact (points are a multiple of the terms' step).

Errors: ValidationFailed (422: bad input, below the minimum, above the share), NotFound
(404: unknown member, another client's hold), InsufficientPoints (409), Conflict (409:
reference_conflict, hold_not_held, hold_expired, member_closed).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.integrations.holds.selectors import MAX_ID, cash_terms
from jifen.integrations.models import ApiClient, IntegrationHold
from jifen.integrations.services import _amount, _text, member_resolve
from jifen.ledger.services import points_hold, points_hold_capture, points_hold_release

PURPOSE = "shop_checkout"  # the redemption account captured points go to
MAX_POINTS = 10**12

Status = IntegrationHold.Status


def _reference(client_id: int, order_id: str) -> str:
    """The ledger hold's reference: readable, carries the client's order id (any text)."""
    return f"integration:{client_id}:hold:{order_id}"


def _step_reference(hold: IntegrationHold, step: str) -> str:
    """The capture / release / expiry reference, from the hold's id, never its order id: a
    client order id may contain ":" ("X:capture"), and a reference built from it could be
    another order's step reference, which would then fail for ever with reference_conflict.
    "integration:<c>:hold-<step>:<id>" differs from every "integration:<c>:hold:<order id>"."""
    return f"integration:{hold.client_id}:hold-{step}:{hold.pk}"


def _explain(hold: IntegrationHold | None = None, **parts) -> dict:
    values = {"order": hold.order_id, "cash": hold.cash_value} if hold else {}
    return {**values, **parts}


def _invalid(fields: dict) -> ValidationFailed:
    return ValidationFailed(_("积分抵现请求不正确。"), code="invalid_hold", fields=fields)


def order_amount_clean(value: Any) -> Decimal:
    """An order amount: a positive decimal string with at most 2 places; else 422."""
    errors: dict[str, str] = {}
    amount = _amount(value, "order_amount", errors)
    if amount is not None and amount <= 0:
        errors["order_amount"] = "must be positive"
    if errors:
        raise _invalid(errors)
    return amount


def hold_input_clean(raw: Any) -> dict:
    """The parsed body of a create: member, order_id, order_amount (Decimal), points (int),
    currency. ValidationFailed `invalid_hold` names every bad field."""
    if not isinstance(raw, dict):
        raise _invalid({"body": "object"})
    errors: dict[str, str] = {}
    unknown = set(raw) - {"member", "order_id", "order_amount", "points", "currency"}
    for name in sorted(unknown):
        errors[name] = "unknown field"
    order_id = _text(raw, "order_id", errors, required=True)
    amount = _amount(raw.get("order_amount"), "order_amount", errors)
    if amount is not None and amount <= 0:
        errors["order_amount"] = "must be positive"
        amount = None
    points = raw.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        errors["points"] = "positive integer"
    currency = raw.get("currency") or settings.JIFEN_CURRENCY
    if currency != settings.JIFEN_CURRENCY:
        errors["currency"] = f"only {settings.JIFEN_CURRENCY}"
    member = raw.get("member")
    if not member or not isinstance(member, str | dict):
        errors["member"] = "external_id, phone or member_number"
    if errors:
        raise _invalid(errors)
    return {
        "member": raw["member"],
        "order_id": order_id,
        "order_amount": amount,
        "points": points,
        "currency": currency,
    }


def _same(hold: IntegrationHold, *, member_id: int, amount: Decimal, points: int) -> bool:
    return (hold.member_id, hold.order_amount, hold.points) == (member_id, amount, points)


def _conflict(order_id: str) -> Conflict:
    return Conflict(
        _("该订单号已用于内容不同的积分抵现。"),
        code="reference_conflict",
        fields={"order_id": order_id},
    )


@transaction.atomic
def integration_hold_create(
    *, client: ApiClient, raw: Any, now: dt.datetime | None = None
) -> tuple[IntegrationHold, bool]:
    """Hold `points` of a member as cash on the client's order; (hold, created).

    Refuses, changing nothing: bad input (422 invalid_hold), an unknown member (404), a
    closed member (409 member_closed), fewer points than the minimum (422
    points_below_minimum), not a multiple of the step (422 invalid_hold), more than the
    share of the order (422 points_exceed_share), more than the balance (409
    insufficient_points), the order id already used otherwise (409 reference_conflict).
    """
    data = hold_input_clean(raw)
    try:
        member = member_resolve(data["member"])
    except ValidationFailed as error:  # a malformed member reference: this API's own code
        raise _invalid(error.fields) from None
    order_id, amount, points = data["order_id"], data["order_amount"], data["points"]
    existing = IntegrationHold.objects.filter(client=client, order_id=order_id).first()
    if existing is not None:
        if not _same(existing, member_id=member.pk, amount=amount, points=points):
            raise _conflict(order_id)
        return existing, False
    if member.is_closed:
        raise Conflict(_("会员已注销。"), code="member_closed")
    terms = cash_terms()
    if points < terms.min_points:
        raise ValidationFailed(
            _("每次至少使用 %(n)s 积分。") % {"n": terms.min_points},
            code="points_below_minimum",
            fields={"points": f"at least {terms.min_points}"},
        )
    if points % terms.step:
        raise _invalid({"points": f"a multiple of {terms.step}"})
    limit = terms.share_limit(amount)
    if points > limit:
        raise ValidationFailed(
            _("积分最多抵扣订单金额的 %(share)s%%（%(n)s 积分）。")
            % {"share": (terms.max_share * 100).normalize(), "n": limit},
            code="points_exceed_share",
            fields={"points": f"at most {limit}"},
        )
    cash = terms.cash_value(points)
    expires_at = (now or timezone.now()) + dt.timedelta(minutes=terms.hold_minutes)
    # A concurrent create of the same order waits here on the ledger reference, then gets
    # the first one's ledger hold back (or reference_conflict if its points differ).
    ledger_hold = points_hold(
        member_id=member.pk,
        points=points,
        reference=_reference(client.pk, order_id),
        explanation=_("商城外订单 #%(order)s 积分抵现 ¥%(cash)s")
        % {"order": order_id, "cash": cash},
        details={"order_id": order_id, "cash_value": str(cash), "client": client.pk},
        expires_at=expires_at,
    )
    try:
        with transaction.atomic():
            hold = IntegrationHold.objects.create(
                client=client,
                member=member,
                order_id=order_id,
                order_amount=amount,
                currency=data["currency"],
                points=points,
                cash_value=cash,
                ledger_hold=ledger_hold,
                expires_at=expires_at,
            )
    except IntegrityError:  # the concurrent create of this order committed first
        hold = IntegrationHold.objects.filter(client=client, order_id=order_id).first()
        if hold is None:  # pragma: no cover - only a unique violation lands here
            raise
        if not _same(hold, member_id=member.pk, amount=amount, points=points):
            raise _conflict(order_id) from None
        return hold, False
    return hold, True


def _locked(client: ApiClient, hold_id: int) -> IntegrationHold:
    """The client's hold, its row locked: capture, release and expiry of one hold queue here."""
    hold = None
    if isinstance(hold_id, int) and 0 < hold_id < MAX_ID:
        hold = IntegrationHold.objects.select_for_update().filter(pk=hold_id, client=client).first()
    if hold is None:
        raise NotFound(_("抵现记录不存在。"), code="hold_not_found")
    return hold


def _settle(hold: IntegrationHold, *, to: str, now: dt.datetime) -> IntegrationHold:
    # The row lock makes this guard redundant; it stays as the backstop of "ends once".
    if not IntegrationHold.objects.filter(pk=hold.pk, status=Status.HELD).update(
        status=to, settled_at=now, updated_at=now
    ):  # pragma: no cover
        raise Conflict(_("积分抵现已处理。"), code="hold_not_held")
    hold.refresh_from_db()
    return hold


def _not_held(hold: IntegrationHold) -> Conflict:
    return Conflict(
        _("积分抵现已%(status)s，不能再处理。") % {"status": hold.get_status_display()},
        code="hold_not_held",
        fields={"status": hold.status},
    )


@transaction.atomic
def integration_hold_capture(
    *, client: ApiClient, hold_id: int, now: dt.datetime | None = None
) -> IntegrationHold:
    """The order was paid: the held points become a redemption (`redemption:shop_checkout`).

    Idempotent: capturing a captured hold returns it. Conflict `hold_not_held` (409) for a
    released or expired hold, `hold_expired` (409) past its expires_at (the expiry job
    releases it); NotFound for another client's hold. Nothing changes on error.
    """
    now = now or timezone.now()
    hold = _locked(client, hold_id)
    if hold.status == Status.CAPTURED:
        return hold
    if hold.status != Status.HELD:
        raise _not_held(hold)
    if hold.expires_at <= now:
        raise Conflict(
            _("积分抵现已超时，请重新下单。"),
            code="hold_expired",
            fields={"expires_at": hold.expires_at.isoformat()},
        )
    points_hold_capture(
        hold_id=hold.ledger_hold_id,
        reference=_step_reference(hold, "capture"),
        purpose=PURPOSE,
        explanation=_("商城外订单 #%(order)s 积分抵现 ¥%(cash)s（已支付）") % _explain(hold),
    )
    return _settle(hold, to=Status.CAPTURED, now=now)


@transaction.atomic
def integration_hold_release(
    *, client: ApiClient, hold_id: int, now: dt.datetime | None = None
) -> IntegrationHold:
    """The order was cancelled: the held points go back to the member's lots (original expiry).

    Idempotent: releasing a released or expired hold returns it. Conflict `hold_not_held`
    (409) for a captured hold; NotFound for another client's hold. Nothing changes on error.
    """
    now = now or timezone.now()
    hold = _locked(client, hold_id)
    if hold.status in (Status.RELEASED, Status.EXPIRED):
        return hold
    if hold.status != Status.HELD:
        raise _not_held(hold)
    points_hold_release(
        hold_id=hold.ledger_hold_id,
        reference=_step_reference(hold, "release"),
        explanation=_("商城外订单 #%(order)s 已取消，退回抵现积分") % _explain(hold),
    )
    return _settle(hold, to=Status.RELEASED, now=now)


@transaction.atomic
def _expire_one(hold_id: int, now: dt.datetime) -> bool:
    hold = IntegrationHold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None or hold.status != Status.HELD or hold.expires_at > now:
        return False  # captured or released meanwhile
    points_hold_release(
        hold_id=hold.ledger_hold_id,
        reference=_step_reference(hold, "expire"),
        explanation=_("商城外订单 #%(order)s 超时未支付，退回抵现积分") % _explain(hold),
    )
    _settle(hold, to=Status.EXPIRED, now=now)
    return True


def integration_holds_expire(*, now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Release holds whose expires_at has passed (status expired), each in its own
    transaction; safe to run twice or beside capture and release. Returns how many."""
    now = now or timezone.now()
    ids = list(
        IntegrationHold.objects.filter(status=Status.HELD, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    return sum(_expire_one(hold_id, now) for hold_id in ids)
