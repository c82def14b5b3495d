"""Writes of the integration API: clients, members from the CRM, and events.

Invariants:
- An event has at most one effect (I5): its row, unique on (client, event_id), is inserted
  first in the same database transaction as its effect and stored result. A redelivery
  (even concurrent: PostgreSQL makes the second insert wait for the first to commit) finds
  the row and gets the stored result; an event that failed left no row, so it may be fixed
  and sent again under the same id.
- A purchase is recorded once per (client, order_id); its points are posted by
  jifen.ledger.services.points_earn with reference "int:<client id>:ev:<event id>".
- Refunds never return more than was bought: `refunded_amount` grows by a guarded update
  under the purchase's row lock; their points are reversed by transaction_reverse.

Errors: ValidationFailed (422), NotFound (404: unknown member or purchase), Conflict (409:
order already recorded, event id reused with another payload, member closed).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from jifen.integrations import hooks
from jifen.integrations.models import ApiClient, CustomAction, Event, Purchase, Refund
from jifen.integrations.signing import derive_secret
from jifen.ledger.services import points_earn, transaction_reverse
from jifen.members.models import User
from jifen.members.selectors import PHONE_RE, normalize_phone
from jifen.members.services import member_register, profile_update
from jifen.rules.services import purchase_award
from jifen.tiers.services import tier_evaluate_after_commit

MAX_EVENTS = 1000
MAX_LINES = 500
MAX_AMOUNT = Decimal("10000000000")  # ¥10 billion: anything larger is a bug upstream
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
TEXT_LIMITS = {"order_id": 100, "store": 100, "channel": 50, "sku": 100, "category": 100}
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
SHORTFALL_POLICIES = ("debt", "available")


# --- clients --------------------------------------------------------------------------------------


@transaction.atomic
def api_client_create(*, name: str, by=None) -> tuple[ApiClient, str]:
    """A new active client and its secret, which is returned here once and never stored."""
    name = str(name or "").strip()
    if not name or len(name) > 100 or "\x00" in name:
        raise ValidationFailed(
            _("名称为 1 到 100 个字符。"), code="invalid_name", fields={"name": "1 to 100"}
        )
    key_id = "jk_" + secrets.token_hex(12)
    salt = secrets.token_hex(32)
    secret = derive_secret(key_id=key_id, salt=salt)
    client = ApiClient.objects.create(
        name=name,
        key_id=key_id,
        salt=salt,
        secret_hint=secret[-4:],
        created_by=by if getattr(by, "pk", None) else None,
    )
    return client, secret


@transaction.atomic
def api_client_set_active(*, client_id: int, active: bool) -> ApiClient:
    """Enable or disable a client; a disabled key is refused (401) from the next request."""
    updated = ApiClient.objects.filter(pk=client_id).update(
        is_active=active, disabled_at=None if active else timezone.now()
    )
    if not updated:
        raise NotFound(_("接入系统不存在。"), code="client_not_found")
    return ApiClient.objects.get(pk=client_id)


# --- input parsing ------------------------------------------------------------------------------


def _text(data: dict, name: str, errors: dict, *, required: bool = False) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "order_id":
        value = str(value)
    if not isinstance(value, str) or "\x00" in value:
        errors[name] = "string required"
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = "required"
    elif len(value) > TEXT_LIMITS.get(name, 200):
        errors[name] = f"at most {TEXT_LIMITS.get(name, 200)} characters"
    return value


def _amount(value: Any, name: str, errors: dict, *, required: bool = True) -> Decimal | None:
    """A cash amount: a decimal string ("9.90") or a number, 0 ≤ x ≤ 10^10, 2 decimals."""
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[name] = "decimal string required"
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        errors[name] = "decimal string required"
        return None
    if not amount.is_finite():
        errors[name] = "decimal string required"
    elif amount < 0:
        errors[name] = "must not be negative"
    elif amount > MAX_AMOUNT:
        errors[name] = "too large"
    elif amount != amount.quantize(Decimal("0.01")):
        errors[name] = "at most 2 decimal places"
    else:
        return amount.quantize(Decimal("0.01"))
    return None


def _moment(value: Any, name: str, errors: dict) -> dt.datetime | None:
    if value is None:
        return clock.now()
    if not isinstance(value, str):
        errors[name] = "ISO 8601 with offset"
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        errors[name] = "ISO 8601 with offset"
        return None
    if timezone.is_naive(moment):
        errors[name] = "ISO 8601 with offset"
        return None
    if moment > clock.now() + FUTURE_TOLERANCE:
        errors[name] = "in the future"
        return None
    return moment


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationFailed(_("事件内容不正确。"), code="invalid_event", fields=errors)


def member_resolve(reference: Any) -> User:
    """The member an event names: {"external_id"}, {"phone"} or {"member_number"}.

    A bare string is taken as an external id. NotFound when no member matches.
    """
    if isinstance(reference, str):
        reference = {"external_id": reference}
    if not isinstance(reference, dict) or not reference:
        raise ValidationFailed(
            _("请指明会员。"),
            code="invalid_event",
            fields={"member": "external_id, phone or member_number"},
        )
    query = None
    for key in ("external_id", "member_number", "phone"):
        value = reference.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or len(value) > 100 or "\x00" in value:
            raise ValidationFailed(
                _("会员标识格式不正确。"), code="invalid_event", fields={f"member.{key}": "string"}
            )
        if key == "phone":
            value = normalize_phone(value)
        query = {key: value}
        break
    if query is None:
        raise ValidationFailed(
            _("请指明会员。"),
            code="invalid_event",
            fields={"member": "external_id, phone or member_number"},
        )
    member = User.objects.filter(**query).first()
    if member is None:
        raise NotFound(_("会员不存在。"), code="member_not_found", fields={"member": query})
    return member


# --- members from the CRM ---------------------------------------------------------------------


def _clean_member_data(data: dict) -> dict:
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if "phone" in data:
        phone = normalize_phone(data["phone"] or "")
        if phone and not PHONE_RE.match(phone):
            errors["phone"] = "invalid"
        cleaned["phone"] = phone or None
    if "email" in data:
        cleaned["email"] = (data["email"] or "").strip().lower() or None
        if cleaned["email"]:
            try:
                validate_email(cleaned["email"])
            except DjangoValidationError:
                errors["email"] = "invalid"
    for name in ("name", "gender", "birthday"):
        if name in data:
            cleaned[name] = data[name]
    if errors:
        raise ValidationFailed(_("会员资料格式不正确。"), code="invalid_member", fields=errors)
    return cleaned


def _external_id(value: str) -> str:
    if not isinstance(value, str) or not EVENT_ID_RE.match(value):
        raise ValidationFailed(
            _("外部编号格式不正确。"),
            code="invalid_external_id",
            fields={"external_id": "[A-Za-z0-9_.:-]{1,100}"},
        )
    return value


@transaction.atomic
def member_upsert(*, external_id: str, data: dict) -> tuple[User, bool]:
    """Create or update the member the CRM knows as `external_id`; (member, created).

    A new member is registered with a wallet (jifen.members.services.member_register). A
    member who registered on the site with the same phone or e-mail and has no external
    id yet is linked instead of duplicated. Conflict when the phone or e-mail belongs to
    another member; ValidationFailed for bad fields; nothing changes on error.
    """
    external_id = _external_id(external_id)
    cleaned = _clean_member_data(data)
    member = User.objects.select_for_update().filter(external_id=external_id).first()
    created = False
    if member is None:
        existing = None
        if cleaned.get("phone"):
            existing = User.objects.filter(phone=cleaned["phone"], external_id__isnull=True).first()
        if existing is None and cleaned.get("email"):
            existing = User.objects.filter(
                email__iexact=cleaned["email"], external_id__isnull=True
            ).first()
        if existing is not None:
            member = User.objects.select_for_update().get(pk=existing.pk)
            linked = User.objects.filter(pk=member.pk, external_id__isnull=True).update(
                external_id=external_id
            )
            if not linked:  # linked to another CRM id meanwhile
                raise Conflict(
                    _("该手机号或邮箱已属于其他会员。"),
                    code="already_registered",
                    fields={"external_id": external_id},
                )
        else:
            try:
                with transaction.atomic():
                    member = member_register(
                        email=cleaned.get("email"),
                        phone=cleaned.get("phone"),
                        name=str(cleaned.get("name") or ""),
                        external_id=external_id,
                    )
                    created = True
            except Conflict:
                member = User.objects.select_for_update().filter(external_id=external_id).first()
                if member is None:
                    raise
    if member.is_closed:
        raise Conflict(_("会员已注销。"), code="member_closed")
    contact = {}
    for name in ("phone", "email"):
        if name in cleaned and cleaned[name] != getattr(member, name):
            contact[name] = cleaned[name]
    if contact:
        if not (contact.get("phone", member.phone) or contact.get("email", member.email)):
            raise ValidationFailed(
                _("请填写手机号或邮箱。"), code="login_required", fields={"phone": "required"}
            )
        try:
            with transaction.atomic():
                User.objects.filter(pk=member.pk).update(**contact)
        except IntegrityError:
            raise Conflict(
                _("该手机号或邮箱已属于其他会员。"), code="already_registered", fields=contact
            ) from None
        member.refresh_from_db()
    profile = {name: cleaned[name] for name in ("name", "gender", "birthday") if name in cleaned}
    if profile:
        member = profile_update(member=member, data=profile)
    return member, created


# --- events -------------------------------------------------------------------------------------


class _Duplicate(Exception):
    def __init__(self, event: Event):
        self.event = event


def _event_key(raw: Any) -> tuple[str, str]:
    if not isinstance(raw, dict):
        raise ValidationFailed(
            _("事件必须是 JSON 对象。"), code="invalid_event", fields={"event": "object"}
        )
    if "\\u0000" in _canonical(raw):  # PostgreSQL cannot store NUL in text or jsonb
        raise ValidationFailed(
            _("事件内容不能包含 NUL 字符。"), code="invalid_event", fields={"event": "NUL"}
        )
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not EVENT_ID_RE.match(event_id):
        raise ValidationFailed(
            _("event_id 格式不正确。"),
            code="invalid_event",
            fields={"event_id": "[A-Za-z0-9_.:-]{1,100}"},
        )
    kind = raw.get("type")
    if kind not in Event.Type.values:
        raise ValidationFailed(
            _("未知的事件类型。"), code="invalid_event", fields={"type": sorted(Event.Type.values)}
        )
    return event_id, kind


def event_process(*, client: ApiClient, raw: Any) -> tuple[dict, bool]:
    """Apply one event once; (result, duplicate).

    A delivery of an event already applied returns the stored result with duplicate=True;
    an event id already used with another payload is a Conflict. Raises the DomainError of
    an invalid or inapplicable event, having changed nothing.
    """
    event_id, kind = _event_key(raw)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    event = Event.objects.create(
                        client=client, event_id=event_id, type=kind, payload=raw
                    )
            except IntegrityError:
                existing = Event.objects.filter(client=client, event_id=event_id).first()
                if existing is None:  # pragma: no cover - the row's holder rolled back
                    raise Conflict(
                        _("事件正在处理，请稍后重试。"), code="event_in_progress"
                    ) from None
                raise _Duplicate(existing) from None
            handler = {
                Event.Type.PURCHASE: _purchase,
                Event.Type.REFUND: _refund,
                Event.Type.CUSTOM: _custom,
            }[kind]
            result, member, txn = handler(client=client, event=event, raw=raw)
            Event.objects.filter(pk=event.pk).update(result=result, member=member, transaction=txn)
            return result, False
    except _Duplicate as duplicate:
        if _canonical(duplicate.event.payload) != _canonical(raw):
            raise Conflict(
                _("该 event_id 已用于内容不同的事件。"),
                code="event_id_reused",
                fields={"event_id": event_id},
            ) from None
        return duplicate.event.result, True


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def events_ingest(*, client: ApiClient, body: Any) -> dict:
    """One event, or {"events": [...]} (1 to 1,000), each applied on its own.

    Returns {"results": [...], "processed", "duplicates", "errors"}; a failed event's item
    carries its error and leaves nothing behind. For a single event (no "events" key) the
    caller gets the one result, and its error is raised.
    """
    if not isinstance(body, dict):
        raise ValidationFailed(
            _("请求体必须是 JSON 对象。"), code="invalid_event", fields={"body": "object"}
        )
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise ValidationFailed(
            _("events 必须是非空数组。"),
            code="invalid_event",
            fields={"events": "1 to 1000 events"},
        )
    if len(events) > MAX_EVENTS:
        raise ValidationFailed(
            _("一次最多提交 %(n)s 个事件。") % {"n": MAX_EVENTS},
            code="too_many_events",
            fields={"events": f"at most {MAX_EVENTS}"},
        )
    results = []
    counts = {"processed": 0, "duplicates": 0, "errors": 0}
    for raw in events:
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        try:
            result, duplicate = event_process(client=client, raw=raw)
        except DomainError as error:
            counts["errors"] += 1
            results.append(
                {
                    "event_id": event_id if isinstance(event_id, str) else None,
                    "status": "error",
                    "error": {"code": error.code, "message": error.message, "fields": error.fields},
                }
            )
            continue
        counts["duplicates" if duplicate else "processed"] += 1
        results.append(
            {
                "event_id": event_id,
                "status": "duplicate" if duplicate else "processed",
                "result": result,
            }
        )
    return {"results": results, **counts}


def _member_for_points(raw: dict, errors: dict) -> User:
    _raise(errors)
    member = member_resolve(raw.get("member"))
    if member.is_closed:
        raise Conflict(_("会员已注销。"), code="member_closed")
    return member


def _lines(value: Any, errors: dict) -> list[dict]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > MAX_LINES:
        errors["lines"] = f"list of at most {MAX_LINES} lines"
        return []
    lines = []
    for index, line in enumerate(value):
        if not isinstance(line, dict):
            errors[f"lines.{index}"] = "object"
            continue
        line_errors: dict[str, str] = {}
        sku = _text(line, "sku", line_errors)
        category = _text(line, "category", line_errors)
        quantity = line.get("quantity", 1)
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= 100000
        ):
            line_errors["quantity"] = "integer 1–100000"
        amount = _amount(line.get("amount"), "amount", line_errors)
        for name, message in line_errors.items():
            errors[f"lines.{index}.{name}"] = message
        if not line_errors:
            lines.append(
                {"sku": sku, "category": category, "quantity": quantity, "amount": str(amount)}
            )
    return lines


def _currency(raw: dict, errors: dict) -> str:
    currency = raw.get("currency") or settings.JIFEN_CURRENCY
    if currency != settings.JIFEN_CURRENCY:
        errors["currency"] = f"only {settings.JIFEN_CURRENCY}"
    return currency


def _reference(client: ApiClient, event_id: str) -> str:
    return f"int:{client.pk}:ev:{event_id}"


def _order_reference(client: ApiClient, order_id: str) -> str:
    """How other apps (referrals) name an order: per client, like the order id itself."""
    return f"int:{client.pk}:order:{order_id}"


def _purchase(*, client: ApiClient, event: Event, raw: dict):
    errors: dict[str, str] = {}
    order_id = _text(raw, "order_id", errors, required=True)
    amount = _amount(raw.get("amount"), "amount", errors)
    currency = _currency(raw, errors)
    lines = _lines(raw.get("lines"), errors)
    store = _text(raw, "store", errors)
    channel = _text(raw, "channel", errors)
    occurred_at = _moment(raw.get("occurred_at"), "occurred_at", errors)
    if amount is not None and lines and sum(Decimal(line["amount"]) for line in lines) > amount:
        errors["lines"] = "line amounts exceed the order amount"
    member = _member_for_points(raw, errors)
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                member=member,
                client=client,
                event=event,
                order_id=order_id,
                amount=amount,
                currency=currency,
                store=store,
                channel=channel,
                occurred_at=occurred_at,
                lines=lines,
            )
    except IntegrityError:
        raise Conflict(
            _("该订单已记录。"), code="order_already_recorded", fields={"order_id": order_id}
        ) from None
    reference = _reference(client, event.event_id)
    award = purchase_award(
        member=member,
        amount=amount,
        occurred_at=occurred_at,
        reference=reference,
        lines=lines,
        store=store,
        channel=channel,
    )
    hooks.purchase_completed(
        member_id=member.pk,
        order_reference=_order_reference(client, order_id),
        reference=reference,
        occurred_at=occurred_at,
        details={"amount": str(amount), "store": store, "channel": channel},
    )
    txn = None
    pending_until = None
    if award.points > 0:
        if award.pending_days:
            pending_until = clock.business_date(occurred_at) + dt.timedelta(days=award.pending_days)
            if pending_until <= clock.business_date():
                pending_until = None
        txn = points_earn(
            member_id=member.pk,
            points=award.points,
            source="purchase",
            reference=reference,
            explanation=award.explanation,
            details={"order_id": order_id, "client": client.pk, "rules": award.applied_rule_ids},
            pending_until=pending_until,
        )
        tier_evaluate_after_commit(member_id=member.pk)
        Purchase.objects.filter(pk=purchase.pk).update(points=award.points, earn_transaction=txn)
    result = {
        "type": "purchase",
        "order_id": order_id,
        "member_number": member.member_number,
        "points": award.points,
        "pending_until": pending_until.isoformat() if pending_until else None,
        "explanation": award.explanation,
        "reference": txn.reference if txn else None,
    }
    return result, member, txn


def refund_points(
    *,
    points: int,
    amount: Decimal,
    refunded_before: Decimal,
    refunded_now: Decimal,
    reversed_before: int,
) -> int:
    """Points to take back for a refund, proportionally to the amount refunded.

    The member keeps floor(points × (amount − all refunds) / amount): the points kept round
    down, so a series of partial refunds reverses exactly all points once fully refunded.
    """
    if points <= 0 or amount <= 0:
        return 0
    left = amount - refunded_before - refunded_now
    kept = int((Decimal(points) * left / amount).to_integral_value(rounding=ROUND_FLOOR))
    return max(points - kept - reversed_before, 0)


def _refund(*, client: ApiClient, event: Event, raw: dict):
    errors: dict[str, str] = {}
    order_id = _text(raw, "order_id", errors, required=True)
    amount = _amount(raw.get("amount"), "amount", errors, required=False)
    occurred_at = _moment(raw.get("occurred_at"), "occurred_at", errors)
    _currency(raw, errors)
    if amount is not None and amount <= 0 and "amount" not in errors:
        errors["amount"] = "must be positive"
    _raise(errors)
    # The purchase's row lock serialises the refunds of one order.
    purchase = Purchase.objects.select_for_update().filter(client=client, order_id=order_id).first()
    if purchase is None:
        raise NotFound(
            _("找不到要退款的订单。"), code="purchase_not_found", fields={"order_id": order_id}
        )
    refundable = purchase.amount - purchase.refunded_amount
    if amount is None:
        amount = refundable
    if amount <= 0 or amount > refundable:
        raise ValidationFailed(
            _("退款金额超过可退金额（¥%(left)s）。") % {"left": refundable},
            code="refund_exceeds_purchase",
            fields={"amount": str(refundable)},
        )
    points = refund_points(
        points=purchase.points,
        amount=purchase.amount,
        refunded_before=purchase.refunded_amount,
        refunded_now=amount,
        reversed_before=purchase.points_reversed,
    )
    updated = Purchase.objects.filter(
        pk=purchase.pk, refunded_amount__lte=purchase.amount - amount
    ).update(
        refunded_amount=F("refunded_amount") + amount, points_reversed=F("points_reversed") + points
    )
    if updated != 1:  # pragma: no cover - the row lock makes this unreachable
        raise Conflict(_("退款冲突，请重试。"), code="refund_conflict")
    if amount == refundable:  # fully refunded now: it no longer qualifies a referral
        hooks.purchase_refunded(
            member_id=purchase.member_id, order_reference=_order_reference(client, order_id)
        )
    policy = getattr(settings, "JIFEN_REFUND_SHORTFALL", "debt")
    if policy not in SHORTFALL_POLICIES:
        policy = "debt"
    txn = None
    if points and purchase.earn_transaction_id:
        txn = transaction_reverse(
            transaction_id=purchase.earn_transaction_id,
            reference=_reference(client, event.event_id),
            points=points,
            shortfall=policy,
            reason=_("订单 %(order)s 退款 ¥%(amount)s，退回 %(points)s 积分")
            % {"order": order_id, "amount": amount, "points": points},
        )
        tier_evaluate_after_commit(member_id=purchase.member_id, after_reversal=True)
    debt = int(txn.details.get("debt", 0)) if txn else 0
    forgiven = int(txn.details.get("forgiven", 0)) if txn else 0
    Refund.objects.create(
        purchase=purchase,
        event=event,
        amount=amount,
        points=points,
        shortfall=policy,
        debt=debt,
        forgiven=forgiven,
        reversal_transaction=txn,
        occurred_at=occurred_at,
    )
    result = {
        "type": "refund",
        "order_id": order_id,
        "amount": str(amount),
        "refunded_total": str(purchase.refunded_amount + amount),
        "points_reversed": points,
        "debt": debt,
        "forgiven": forgiven,
        "reference": txn.reference if txn else None,
    }
    return result, purchase.member, txn


def _custom(*, client: ApiClient, event: Event, raw: dict):
    errors: dict[str, str] = {}
    name = raw.get("name")
    if not isinstance(name, str) or not ACTION_RE.match(name):
        errors["name"] = "[a-z][a-z0-9_]{0,49}"
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, dict) or len(_canonical(attributes)) > 4000:
        errors["attributes"] = "object of at most 4000 characters"
    occurred_at = _moment(raw.get("occurred_at"), "occurred_at", errors)
    member = _member_for_points(raw, errors)
    action = CustomAction.objects.create(
        client=client,
        event=event,
        member=member,
        name=name,
        attributes=attributes,
        occurred_at=occurred_at,
    )
    hooks.custom_action(
        member_id=member.pk,
        name=name,
        reference=_reference(client, event.event_id),
        occurred_at=occurred_at,
        details=attributes,
    )
    result = {
        "type": "custom",
        "name": name,
        "member_number": member.member_number,
        "action_id": action.pk,
    }
    return result, member, None
