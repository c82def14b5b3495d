"""The carrier interface and the Jifen carrier protocol.

A carrier (or the aggregator a company uses, such as 快递100 or 菜鸟) pushes tracking
updates to POST /shipping/callback/<carrier code>/. A backend turns such a request into
tracking events, after checking that the carrier sent it:

- `verify_callback(carrier, body, headers)`: raise Unauthenticated unless the request is
  authentic; it reads nothing but the headers and the raw body and changes nothing;
- `parse_callback(body) -> (tracking_number, [event kwargs])`: the events, each with
  status, description, location, occurred_at (raise ValidationFailed otherwise).

The Jifen protocol (SignedJsonCarrier, docs/shipping.md): headers X-Carrier-Timestamp (Unix
seconds) and X-Carrier-Signature = hex HMAC-SHA256(carrier secret, "<timestamp>.<raw body>"),
the timestamp within 300 s of the server's clock; body JSON {"tracking_number": "...",
"events": [{"status", "description", "location", "occurred_at"}]}.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from django.utils.translation import gettext as _

from jifen.core.errors import Unauthenticated, ValidationFailed

MAX_SKEW_SECONDS = 300
TIMESTAMP_HEADER = "X-Carrier-Timestamp"
SIGNATURE_HEADER = "X-Carrier-Signature"


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """hex HMAC-SHA256(secret, "<timestamp>.<raw body>")."""
    return hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # a plain dict from a caller that is not a request
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return str(value or "")


class CarrierBackend:
    """What every carrier backend provides (see the module docstring)."""

    def verify_callback(self, *, carrier, body: bytes, headers: Mapping[str, str]) -> None:
        raise NotImplementedError

    def parse_callback(self, body: bytes) -> tuple[str, list[dict]]:
        raise NotImplementedError

    def signed_headers(self, *, carrier, body: bytes, timestamp: int | None = None) -> dict:
        """The headers a carrier would send with `body` (the sandbox and tests use it)."""
        raise NotImplementedError


class SignedJsonCarrier(CarrierBackend):
    def verify_callback(self, *, carrier, body: bytes, headers: Mapping[str, str]) -> None:
        """Refuse (Unauthenticated, 401) a missing header, a malformed or stale timestamp
        (more than 300 s away), or a signature that matches no server key (compared in
        constant time)."""
        from jifen.shipping.models import carrier_server_keys

        timestamp = _header(headers, TIMESTAMP_HEADER).strip()
        signature = _header(headers, SIGNATURE_HEADER).strip().lower()
        if not timestamp or not signature:
            raise Unauthenticated(_("缺少签名请求头。"), code="signature_required")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise Unauthenticated(_("时间戳格式不正确。"), code="invalid_timestamp")
        if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Unauthenticated(_("请求时间与服务器相差超过 5 分钟。"), code="stale_timestamp")
        matched = False
        for server_key in carrier_server_keys():
            expected = sign(
                secret=carrier.callback_secret(server_key), timestamp=timestamp, body=body
            )
            matched |= hmac.compare_digest(expected, signature)
        if not matched:
            raise Unauthenticated(_("签名不正确。"), code="invalid_signature")

    def parse_callback(self, body: bytes) -> tuple[str, list[dict]]:
        invalid = ValidationFailed(
            _("回调内容须为 JSON：tracking_number 和 events 列表。"), code="invalid_callback"
        )
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise invalid from None
        if not isinstance(data, dict) or not isinstance(data.get("tracking_number"), str):
            raise invalid
        events = data.get("events")
        if not isinstance(events, list):
            raise invalid
        parsed = []
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("status"), str):
                raise invalid
            parsed.append(
                {
                    "status": event["status"],
                    "description": event.get("description") or "",
                    "location": event.get("location") or "",
                    "occurred_at": event.get("occurred_at"),
                }
            )
        return data["tracking_number"], parsed

    def signed_headers(self, *, carrier, body: bytes, timestamp: int | None = None) -> dict:
        timestamp = int(time.time()) if timestamp is None else timestamp
        return {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(
                secret=carrier.callback_secret(), timestamp=timestamp, body=body
            ),
        }
