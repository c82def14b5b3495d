"""Request signatures of integration clients (docs/adr/0004-integration-signing.md).

A client signs `"<timestamp>.<raw body>"` with HMAC-SHA256 and its secret, and sends
`X-Jifen-Key`, `X-Jifen-Timestamp` and `X-Jifen-Signature` (hex). The secret is derived
from the server key and the client's stored salt, so the database never holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from jifen.core.errors import Unauthenticated

MAX_SKEW_SECONDS = 300
KEY_HEADER = "HTTP_X_JIFEN_KEY"
TIMESTAMP_HEADER = "HTTP_X_JIFEN_TIMESTAMP"
SIGNATURE_HEADER = "HTTP_X_JIFEN_SIGNATURE"


def server_keys() -> list[str]:
    """The key secrets are derived from: JIFEN_INTEGRATION_KEY, else SECRET_KEY (and its
    fallbacks, so rotating SECRET_KEY with SECRET_KEY_FALLBACKS keeps clients working)."""
    own = getattr(settings, "JIFEN_INTEGRATION_KEY", "")
    if own:
        return [own]
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def derive_secret(*, key_id: str, salt: str, server_key: str | None = None) -> str:
    """The client's secret: hex HMAC-SHA256(server key, "jifen-integration:<key id>:<salt>")."""
    key = (server_key if server_key is not None else server_keys()[0]).encode()
    return hmac.new(key, f"jifen-integration:{key_id}:{salt}".encode(), hashlib.sha256).hexdigest()


def sign(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature a client sends: hex HMAC-SHA256(secret, "<timestamp>.<raw body>")."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _refuse(code: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, code=code)


def signature_verify(request: HttpRequest):
    """The active ApiClient that signed this request; Unauthenticated otherwise.

    Refused (401): missing headers, an unknown or disabled key, a timestamp more than
    300 s from now, or a signature that does not match (compared in constant time). Every
    refusal reads nothing but the client row and changes nothing.
    """
    from jifen.integrations.models import ApiClient

    key_id = request.META.get(KEY_HEADER, "")
    timestamp = request.META.get(TIMESTAMP_HEADER, "")
    signature = request.META.get(SIGNATURE_HEADER, "").strip().lower()
    if not key_id or not timestamp or not signature:
        raise _refuse("signature_required", _("缺少签名请求头。"))
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise _refuse("invalid_timestamp", _("时间戳格式不正确。"))
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise _refuse("stale_timestamp", _("请求时间与服务器相差超过 5 分钟。"))
    client = None
    if len(key_id) <= 40 and key_id.isprintable():
        client = ApiClient.objects.filter(key_id=key_id).first()
    if client is None or not client.is_active:
        raise _refuse("invalid_key", _("密钥无效或已停用。"))
    body = request.body
    matched = False
    for server_key in server_keys():
        expected = sign(
            secret=derive_secret(key_id=client.key_id, salt=client.salt, server_key=server_key),
            timestamp=timestamp,
            body=body,
        )
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise _refuse("invalid_signature", _("签名不正确。"))
    return client
