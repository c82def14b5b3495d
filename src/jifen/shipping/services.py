"""Writes of the shipping app.

- `shipment_create(order_id, carrier_code, tracking_number, by)`: ships a paid order that
  has physical goods, and moves it to "shipped" in the same transaction. It ships what is
  still to ship: each physical line's quantity minus the units after-sales refunded before
  shipment (`selectors.order_units_to_ship`).
- `shipment_update_tracking(shipment_id, carrier_code, tracking_number, by, reason)`: a
  correction of a typo, before the carrier reported anything; writes an order event.
- `shipments_import_csv(csv_text, by, filename)`: bulk shipping, each row on its own.
- `tracking_event_record(carrier_code, tracking_number, status, …)`: one carrier event;
  "delivered" moves the order to delivered.
- `callback_handle(carrier_code, body, headers)`: a signed carrier callback (the view and
  the sandbox carrier both call it with the raw body and headers).
- `carrier_save(...)`: add or edit a carrier.

Guarantees:
- Once only: one shipment per order (unique), one shipment per (carrier, tracking number)
  (unique), one tracking event per (shipment, occurred_at, status) (unique). A retry of any
  call returns what the first did and changes nothing.
- Lock order: the order row, then the shipment row (order_transition locks the order; every
  path here locks the order before it touches a shipment), so shipping and a callback for
  the same order cannot deadlock.
- Bad input raises a DomainError before anything is written; a failure after a write rolls
  the whole transaction back (a CSV row never half-applies).

Errors raised: ValidationFailed, NotFound, Conflict, Unauthenticated (callbacks).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from jifen.orders.models import Order, OrderEvent
from jifen.shipping.models import BulkShipImport, Carrier, Shipment, ShipmentStatus, TrackingEvent

TRACKING_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{3,39}$")
CSV_COLUMNS = ("order_number", "carrier", "tracking_number")
CSV_MAX_ROWS = 5000
CSV_MAX_CHARS = 2 * 1024 * 1024
CALLBACK_MAX_EVENTS = 100
STATUSES = {value for value, _label in ShipmentStatus.choices}


# --- validation -------------------------------------------------------------------------------


def _tracking_number(value) -> str:
    number = value.strip() if isinstance(value, str) else ""
    if not TRACKING_NUMBER_RE.match(number):
        raise ValidationFailed(
            _("运单号须为 4 到 40 位字母、数字或连字符。"),
            code="invalid_tracking_number",
            fields={"tracking_number": value if isinstance(value, str) else str(value)},
        )
    return number.upper()


def _carrier(code, *, active_only: bool = True) -> Carrier:
    carrier = None
    if isinstance(code, str) and code.strip() and len(code) <= 40:
        value = code.strip()
        carrier = (
            Carrier.objects.filter(Q(code__iexact=value) | Q(name=value)).order_by("pk").first()
        )
    if carrier is None or (active_only and not carrier.is_active):
        raise NotFound(
            _("找不到该承运商。"),
            code="carrier_not_found",
            fields={"carrier": code if isinstance(code, str) else str(code)},
        )
    return carrier


def _text(value, name: str, max_length: int) -> str:
    value = "" if value is None else value
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > max_length:
        raise ValidationFailed(
            _("%(field)s 不能超过 %(n)s 个字符。") % {"field": name, "n": max_length},
            code="invalid_text",
            fields={name: value if isinstance(value, str) else str(value)},
        )
    return value.strip()


def _actor_label(by) -> str:
    if by is None:
        return "system"
    return getattr(by, "display_name", "") or str(by)


# --- shipping an order ------------------------------------------------------------------------


def _refuse_open_aftersale(order: Order) -> None:
    """A paid order with an open after-sale (a refund-only request made before shipment)
    is not shipped until an operator decides it: shipping it would send goods whose refund
    may already be agreed. Read under the order lock, which after-sale requests take too."""
    from jifen.aftersales.models import OPEN_STATUSES, AfterSale

    if AfterSale.objects.filter(order_id=order.pk, status__in=OPEN_STATUSES).exists():
        raise Conflict(
            _("订单 %(number)s 有处理中的售后单，请先处理售后再发货。") % {"number": order.number},
            code="aftersale_open",
        )


def units_to_ship(order: Order) -> list:
    """[(physical order line, quantity still to ship)]: what the parcel holds (the line's
    quantity minus the units refunded by after-sales before shipment)."""
    from jifen.shipping.selectors import order_units_to_ship

    return order_units_to_ship(order=order)


def shipment_create(*, order_id: int, carrier_code: str, tracking_number: str, by=None) -> Shipment:
    """Ship an order: create its Shipment (with a first "已发货" tracking event) and move the
    order paid → shipped through orders.services.order_transition, in one transaction.

    Idempotent: the same order with the same carrier and tracking number returns the
    existing shipment and changes nothing.

    Raises ValidationFailed (invalid_tracking_number), NotFound (order_not_found,
    carrier_not_found), Conflict: already_shipped (the order has another tracking number —
    use shipment_update_tracking), order_not_shippable (not paid), no_shipping_needed
    (virtual goods only), aftersale_open (an after-sale of the order is still open),
    nothing_to_ship (every physical unit was refunded before shipment),
    tracking_number_in_use (another order's parcel). Nothing changes
    when it raises.
    """
    from jifen.orders.services import order_transition

    number = _tracking_number(tracking_number)
    carrier = _carrier(carrier_code)
    with transaction.atomic():
        # The order row first (see the module's lock order).
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("找不到该订单。"), code="order_not_found")
        existing = Shipment.objects.select_related("carrier").filter(order_id=order.pk).first()
        if existing is not None:
            if existing.carrier_id == carrier.pk and existing.tracking_number == number:
                return existing
            raise Conflict(
                _("订单 %(number)s 已发货（%(carrier)s %(tracking)s）；如需更正请修改运单。")
                % {
                    "number": order.number,
                    "carrier": existing.carrier.name,
                    "tracking": existing.tracking_number,
                },
                code="already_shipped",
            )
        if not order.needs_shipping:
            raise Conflict(
                _("订单 %(number)s 没有实物商品，无需发货。") % {"number": order.number},
                code="no_shipping_needed",
            )
        if order.status != Order.Status.PAID:
            raise Conflict(
                _("订单 %(number)s 当前状态为「%(status)s」，不能发货。")
                % {"number": order.number, "status": order.get_status_display()},
                code="order_not_shippable",
            )
        _refuse_open_aftersale(order)
        if order.lines.filter(fulfilment="shipping").exists() and not units_to_ship(order):
            # Every physical unit was refunded before shipment (and went back on the
            # shelf): the after-sale refund completes or refunds the order; nothing ships.
            raise Conflict(
                _("订单 %(number)s 的实物商品已全部退款，无需发货。") % {"number": order.number},
                code="nothing_to_ship",
            )
        now = timezone.now().replace(microsecond=0)  # carriers report whole seconds
        try:
            with transaction.atomic():
                shipment = Shipment.objects.create(
                    order=order,
                    member_id=order.member_id,
                    carrier=carrier,
                    tracking_number=number,
                    status=ShipmentStatus.SHIPPED,
                    shipped_by=by,
                    shipped_at=now,
                    last_event_at=now,
                )
        except IntegrityError:
            raise Conflict(
                _("运单号 %(tracking)s 已用于其他订单。") % {"tracking": number},
                code="tracking_number_in_use",
                fields={"tracking_number": number},
            ) from None
        TrackingEvent.objects.create(
            shipment=shipment,
            status=ShipmentStatus.SHIPPED,
            description=_("商家已发货，%(carrier)s 已揽收") % {"carrier": carrier.name},
            occurred_at=now,
        )
        order_transition(
            order_id=order.pk,
            to=Order.Status.SHIPPED,
            by=by,
            actor_label=_actor_label(by),
            reason=_("发货：%(carrier)s %(tracking)s")
            % {"carrier": carrier.name, "tracking": number},
        )
    return shipment


def shipment_update_tracking(
    *, shipment_id: int, carrier_code: str, tracking_number: str, by=None, reason: str = ""
) -> Shipment:
    """Correct a shipment's carrier or tracking number (an operator's typo), while the
    carrier has reported nothing yet (status "shipped"); writes an order event saying what
    changed. The same values again change nothing.

    Raises ValidationFailed, NotFound (shipment_not_found, carrier_not_found), Conflict
    (tracking_in_progress: the carrier already reported progress; tracking_number_in_use).
    """
    number = _tracking_number(tracking_number)
    carrier = _carrier(carrier_code)
    reason = _text(reason, "reason", 200)
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(_("找不到该发货单。"), code="shipment_not_found")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        shipment = (
            Shipment.objects.select_for_update().select_related("carrier").get(pk=shipment_id)
        )
        if shipment.carrier_id == carrier.pk and shipment.tracking_number == number:
            return shipment
        if (
            shipment.status != ShipmentStatus.SHIPPED
            or shipment.events.exclude(status=ShipmentStatus.SHIPPED).exists()
        ):
            raise Conflict(_("承运商已有物流动态，不能再修改运单。"), code="tracking_in_progress")
        before = f"{shipment.carrier.name} {shipment.tracking_number}"
        try:
            with transaction.atomic():
                Shipment.objects.filter(pk=shipment.pk).update(
                    carrier=carrier, tracking_number=number, updated_at=timezone.now()
                )
        except IntegrityError:
            raise Conflict(
                _("运单号 %(tracking)s 已用于其他订单。") % {"tracking": number},
                code="tracking_number_in_use",
                fields={"tracking_number": number},
            ) from None
        text = _("更正运单：%(before)s → %(after)s") % {
            "before": before,
            "after": f"{carrier.name} {number}",
        }
        OrderEvent.objects.create(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=by,
            actor_label=_actor_label(by),
            reason=f"{text}（{reason}）" if reason else text,
        )
    shipment.refresh_from_db()
    return shipment


# --- bulk shipping ----------------------------------------------------------------------------


def _csv_rows(csv_text) -> list[tuple[int, dict]]:
    if not isinstance(csv_text, str) or "\x00" in csv_text:
        raise ValidationFailed(_("文件不是文本 CSV。"), code="invalid_csv")
    if len(csv_text) > CSV_MAX_CHARS:
        raise ValidationFailed(_("文件过大（最多 2 MB）。"), code="csv_too_large")
    text = csv_text.lstrip("\ufeff")  # Excel's UTF-8 BOM
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        header = [cell.strip().lower() for cell in header or []]
        if header[: len(CSV_COLUMNS)] != list(CSV_COLUMNS):
            raise ValidationFailed(
                _("第一行须为表头：order_number,carrier,tracking_number"), code="invalid_csv_header"
            )
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            cells = [*cells, "", "", ""]
            rows.append(
                (reader.line_num, dict(zip(CSV_COLUMNS, (c.strip() for c in cells), strict=False)))
            )
            if len(rows) > CSV_MAX_ROWS:
                raise ValidationFailed(
                    _("一次最多导入 %(n)s 行。") % {"n": CSV_MAX_ROWS}, code="csv_too_many_rows"
                )
    except csv.Error as error:
        raise ValidationFailed(
            _("CSV 格式错误：%(error)s") % {"error": error}, code="invalid_csv"
        ) from None
    if not rows:
        raise ValidationFailed(_("文件中没有发货数据。"), code="csv_empty")
    return rows


def shipments_import_csv(*, csv_text: str, by=None, filename: str = "") -> BulkShipImport:
    """Ship every row of a CSV (header order_number,carrier,tracking_number; carrier by code
    or name). Each row runs in its own transaction through `shipment_create`, so a bad row
    changes nothing and never stops the others. A row already shipped with the same
    tracking number is "unchanged" (uploading a file twice ships nothing twice).

    Returns the BulkShipImport with one result per row. Raises ValidationFailed
    (invalid_csv, invalid_csv_header, csv_empty, csv_too_large, csv_too_many_rows) for a
    file that cannot be read at all; then nothing is recorded.
    """
    rows = _csv_rows(csv_text)
    filename = (filename or "")[:200]
    results = []
    for line, row in rows:
        result = {"line": line, **row, "outcome": "failed", "code": "", "message": ""}
        try:
            order_id = (
                Order.objects.filter(number=row["order_number"])
                .values_list("pk", flat=True)
                .first()
                if row["order_number"]
                else None
            )
            if order_id is None:
                raise NotFound(
                    _("找不到订单 %(number)s。") % {"number": row["order_number"]},
                    code="order_not_found",
                )
            already = Shipment.objects.filter(order_id=order_id).exists()
            shipment = shipment_create(
                order_id=order_id,
                carrier_code=row["carrier"],
                tracking_number=row["tracking_number"],
                by=by,
            )
        except DomainError as error:
            result.update(code=error.code, message=error.message)
        else:
            result.update(
                outcome="unchanged" if already else "shipped",
                message=_("已发货") if not already else _("此前已发货，未改变"),
                tracking_number=shipment.tracking_number,
            )
        results.append(result)
    failed = sum(1 for r in results if r["outcome"] == "failed")
    return BulkShipImport.objects.create(
        filename=filename,
        content=csv_text,
        created_by=by,
        rows_total=len(results),
        rows_ok=len(results) - failed,
        rows_failed=failed,
        results=results,
    )


# --- tracking ---------------------------------------------------------------------------------


def _occurred_at(value) -> dt.datetime:
    moment = value
    if isinstance(value, str):
        moment = parse_datetime(value.strip()) if len(value) <= 40 else None
    if not isinstance(moment, dt.datetime):
        raise ValidationFailed(
            _("时间格式不正确（ISO 8601，带时区）。"),
            code="invalid_occurred_at",
            fields={"occurred_at": str(value)[:40]},
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now() + dt.timedelta(days=1):
        raise ValidationFailed(
            _("物流动态的时间不能晚于当前时间。"),
            code="invalid_occurred_at",
            fields={"occurred_at": moment.isoformat()},
        )
    return moment.replace(microsecond=0)


def tracking_event_record(
    *,
    carrier_code: str,
    tracking_number: str,
    status: str,
    description: str = "",
    location: str = "",
    occurred_at,
) -> TrackingEvent:
    """Record one carrier event on the shipment with this tracking number.

    Idempotent by (shipment, occurred_at, status): a repeated event returns the first and
    changes nothing. The shipment's status follows the latest event by the carrier's time
    (an event that arrives late does not move it back) and "delivered" is final. A
    delivered event moves a shipped order to delivered (order_transition, actor "carrier")
    in the same transaction; an order already past that (completed, refunded) keeps its
    status and only the event is kept.

    Raises ValidationFailed (invalid_status, invalid_occurred_at, invalid_text,
    invalid_tracking_number), NotFound (carrier_not_found, shipment_not_found).
    """
    from jifen.orders.services import order_transition

    if status not in STATUSES:
        raise ValidationFailed(
            _("未知的物流状态。"), code="invalid_status", fields={"status": str(status)[:40]}
        )
    number = _tracking_number(tracking_number)
    carrier = _carrier(carrier_code, active_only=False)
    description = _text(description, "description", 200)
    location = _text(location, "location", 60)
    moment = _occurred_at(occurred_at)
    found = (
        Shipment.objects.filter(carrier=carrier, tracking_number=number)
        .values("pk", "order_id")
        .first()
    )
    if found is None:
        raise NotFound(
            _("找不到该运单。"), code="shipment_not_found", fields={"tracking_number": number}
        )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=found["order_id"])
        shipment = Shipment.objects.select_for_update().get(pk=found["pk"])
        event = TrackingEvent.objects.filter(
            shipment=shipment, occurred_at=moment, status=status
        ).first()
        if event is not None:
            return event
        event = TrackingEvent.objects.create(
            shipment=shipment,
            status=status,
            description=description,
            location=location,
            occurred_at=moment,
        )
        changes: dict = {}
        if shipment.status != ShipmentStatus.DELIVERED:
            if status == ShipmentStatus.DELIVERED:
                changes = {"status": status, "last_event_at": moment, "delivered_at": moment}
            elif moment >= shipment.last_event_at:
                changes = {"status": status, "last_event_at": moment}
        if changes:
            Shipment.objects.filter(pk=shipment.pk).exclude(status=ShipmentStatus.DELIVERED).update(
                updated_at=timezone.now(), **changes
            )
        if status == ShipmentStatus.DELIVERED and order.status == Order.Status.SHIPPED:
            order_transition(
                order_id=order.pk,
                to=Order.Status.DELIVERED,
                actor_label="carrier",
                reason=_("%(carrier)s：%(description)s")
                % {"carrier": carrier.name, "description": description or _("已签收")},
            )
    return event


def callback_handle(
    *, carrier_code: str, body: bytes, headers: Mapping[str, str]
) -> list[TrackingEvent]:
    """Verify and apply one carrier callback: the raw body and its headers, exactly as they
    arrived (the view, and the sandbox carrier, call this).

    The body is JSON {"tracking_number": "...", "events": [{"status", "description",
    "location", "occurred_at"}, ...]}, signed as the carrier's backend says (see
    jifen.shipping.carriers). Every event is checked before any is recorded, and all are
    recorded in one transaction. Returns the events (existing ones for a repeat).

    Raises NotFound (carrier_not_found), Unauthenticated (signature_required,
    invalid_timestamp, stale_timestamp, invalid_signature) before reading the body, and
    ValidationFailed (invalid_callback, and the errors of tracking_event_record).
    """
    from jifen.shipping.carriers import backend_for

    carrier = _carrier(carrier_code, active_only=False)
    backend = backend_for(carrier)
    backend.verify_callback(carrier=carrier, body=body, headers=headers)
    tracking_number, events = backend.parse_callback(body)
    if not events or len(events) > CALLBACK_MAX_EVENTS:
        raise ValidationFailed(
            _("回调须包含 1 到 %(n)s 条物流动态。") % {"n": CALLBACK_MAX_EVENTS},
            code="invalid_callback",
        )
    recorded = []
    with transaction.atomic():
        for event in events:
            recorded.append(
                tracking_event_record(
                    carrier_code=carrier.code, tracking_number=tracking_number, **event
                )
            )
    return recorded


def callback_body(*, tracking_number: str, events: list[dict]) -> bytes:
    """The JSON body of a callback in the Jifen carrier protocol (docs/shipping.md)."""
    return json.dumps(
        {"tracking_number": tracking_number, "events": events}, ensure_ascii=False
    ).encode()


# --- carriers ---------------------------------------------------------------------------------


@transaction.atomic
def carrier_save(
    *,
    code: str,
    name: str,
    tracking_url_template: str = "",
    is_sandbox: bool = False,
    is_active: bool = True,
    sort_order: int = 0,
) -> Carrier:
    """Create the carrier with this code, or update its name, link template, flags and
    order (the code and the salt never change: the callback secret derives from them).

    Raises ValidationFailed (invalid_carrier_code, invalid_text, required); Conflict
    carrier_sandbox_locked when the sandbox flag of a carrier with shipments would change
    (a real carrier switched to sandbox could have real parcels "delivered" by simulation).
    """
    if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,19}", code):
        raise ValidationFailed(
            _("承运商代码须为 1 到 20 位小写字母、数字、- 或 _。"),
            code="invalid_carrier_code",
            fields={"code": str(code)[:40]},
        )
    name = _text(name, "name", 40)
    if not name:
        raise ValidationFailed(_("请填写名称。"), code="required", fields={"name": ""})
    template = _text(tracking_url_template, "tracking_url_template", 300)
    if template and not template.startswith(("https://", "http://")):
        raise ValidationFailed(
            _("查询链接须以 http:// 或 https:// 开头。"),
            code="invalid_url",
            fields={"tracking_url_template": template},
        )
    current = Carrier.objects.select_for_update().filter(code=code).first()
    if (
        current is not None
        and current.is_sandbox != bool(is_sandbox)
        and current.shipments.exists()
    ):
        raise Conflict(
            _("承运商已有发货单，不能切换沙箱标志。"),
            code="carrier_sandbox_locked",
            fields={"is_sandbox": str(current.is_sandbox)},
        )
    carrier, _created = Carrier.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "tracking_url_template": template,
            "is_sandbox": bool(is_sandbox),
            "is_active": bool(is_active),
            "sort_order": int(sort_order),
        },
    )
    return carrier


# --- the sandbox carrier ----------------------------------------------------------------------


def shipment_simulate_progress(*, shipment_id: int, inline: bool | None = None) -> str:
    """Move a sandbox shipment one step (in transit → out for delivery → delivered) by a
    real signed callback, as the sandbox carrier would send it: the body is built here and
    signed and handled by the task `sandbox_callback_send` — inline when Celery runs eagerly
    (or `inline=True`), else on a worker. Writes nothing itself. Returns the status the
    callback carries.

    Raises NotFound (shipment_not_found), Conflict (not_sandbox, already_delivered).
    """
    from jifen.config.celery import app
    from jifen.shipping.carriers import SandboxCarrier
    from jifen.shipping.tasks import sandbox_callback_send

    shipment = Shipment.objects.select_related("carrier").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(_("找不到该发货单。"), code="shipment_not_found")
    if not shipment.carrier.is_sandbox:
        raise Conflict(_("只有沙箱承运商的运单可以模拟物流进度。"), code="not_sandbox")
    event = SandboxCarrier().next_event(shipment)
    if event is None:
        raise Conflict(_("该运单已签收。"), code="already_delivered")
    body = callback_body(tracking_number=shipment.tracking_number, events=[event]).decode()
    if inline or (inline is None and app.conf.task_always_eager):
        sandbox_callback_send(shipment.carrier.code, body)
    else:
        sandbox_callback_send.delay(shipment.carrier.code, body)
    return event["status"]
