"""App tokens, password login for apps, one-time codes and app registration.

Tokens: a random string shown once; only its SHA-256 is stored (members.ApiToken), so a
copy of the database lets nobody act as a member. A token is valid until it expires
(settings.JIFEN_API_TOKEN_DAYS) or is revoked.

Login brute force: failures are counted per account and per client IP in the shared cache
(jifen.core.ratelimit). An attempt is counted *before* the password is checked, so a burst
of concurrent guesses cannot all slip under the limit; a success gives the count back.
Beyond the limit the answer is RateLimited until JIFEN_LOGIN_LOCK_SECONDS have passed since
the failure that reached it.

One-time codes: six digits, stored as an HMAC keyed by SECRET_KEY (six digits are too few
for a bare hash), valid JIFEN_CODE_TTL_SECONDS, checked at most JIFEN_CODE_MAX_ATTEMPTS
times (a guarded counter, so concurrent guesses cannot exceed it) and consumed once by a
guarded UPDATE. Only the newest code for a recipient and purpose counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core import ratelimit
from jifen.core.errors import Conflict, RateLimited, Unauthenticated, ValidationFailed
from jifen.members import token_cache
from jifen.members.models import ApiToken, User, VerificationCode
from jifen.members.selectors import PHONE_RE, member_find_by_login, normalize_phone
from jifen.members.senders import code_sender
from jifen.members.services import member_register

TOKEN_PREFIX = "jf_"


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# --- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret; never stored
    expires_at: dt.datetime
    api_token: ApiToken


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_issue(*, user: User) -> IssuedToken:
    """A new bearer token for `user`, valid JIFEN_API_TOKEN_DAYS days."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + dt.timedelta(days=settings.JIFEN_API_TOKEN_DAYS)
    api_token = ApiToken.objects.create(
        user=user, token_hash=token_hash(raw), expires_at=expires_at
    )
    return IssuedToken(token=raw, expires_at=expires_at, api_token=api_token)


def token_resolve(raw: str) -> ApiToken | None:
    """The live token whose secret is `raw` (with its user), or None.

    None when unknown, revoked, expired, or when its user is deactivated or closed.
    One query.
    """
    if not raw or len(raw) > 200:
        return None
    if connection.vendor == "postgresql":
        api_token = _token_resolve_pg(token_hash(raw))
        if api_token is None or api_token.user.is_closed:
            return None
        return api_token
    api_token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=token_hash(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if api_token is None or api_token.user.is_closed:
        return None
    return api_token


_TOKEN_SQL: tuple[str, list[str], list[str]] | None = None


def _token_sql() -> tuple[str, list[str], list[str]]:
    """The token + user query, written once per process from the models' own columns."""
    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        token_fields = ApiToken._meta.concrete_fields
        user_fields = User._meta.concrete_fields
        columns = [f't."{f.column}"' for f in token_fields] + [
            f'u."{f.column}"' for f in user_fields
        ]
        # Names from the models' metadata, never from input; values are parameters.
        select = ", ".join(columns)
        tables = f"{ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id"
        where = "t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s"
        sql = f"SELECT {select} FROM {tables} WHERE {where}"  # noqa: S608
        _TOKEN_SQL = (
            sql,
            [f.attname for f in token_fields],
            [f.attname for f in user_fields],
        )
    return _TOKEN_SQL


def _token_resolve_pg(digest: str) -> ApiToken | None:
    """token_resolve's query without the ORM's query compilation (it runs on every request),
    answered from jifen.members.token_cache when it remembers the token."""
    sql, token_names, user_names = _token_sql()
    now = timezone.now()
    rows = token_cache.lookup(digest, now)
    if rows is None:
        split = len(token_names)

        def query():
            with connection.cursor() as cursor:
                cursor.execute(sql, [digest, now])
                row = cursor.fetchone()
            if row is None:
                return None
            token_row, user_row = row[:split], row[split:]
            token_fields = dict(zip(token_names, token_row, strict=True))
            return token_row, user_row, token_fields["user_id"], token_fields["expires_at"]

        rows = token_cache.resolve_and_remember(digest, query)
        if rows is None:
            return None
    token_row, user_row = rows
    # Fresh instances every time: nothing a request caches on its user outlives it.
    api_token = ApiToken.from_db("default", token_names, token_row)
    api_token.user = User.from_db("default", user_names, user_row)
    return api_token


def token_revoke(*, api_token: ApiToken) -> None:
    """Revoke the token; revoking twice is harmless."""
    ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def token_login(*, login: str, password: str, ip: str) -> IssuedToken:
    """Check a password login (phone, e-mail or member number) and issue a token.

    Raises RateLimited beyond JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT failures for the account
    (or JIFEN_LOGIN_MAX_FAILURES_PER_IP for the client IP) within the lock period, and
    Unauthenticated (code invalid_credentials) for a wrong login or password. An unknown
    login is counted and answered exactly like a wrong password.
    """
    lock = settings.JIFEN_LOGIN_LOCK_SECONDS
    max_account = settings.JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT
    max_ip = settings.JIFEN_LOGIN_MAX_FAILURES_PER_IP
    user = member_find_by_login(login)
    # One counter per account whichever identifier is typed; unknown logins by their text.
    account = f"user:{user.pk}" if user else f"login:{(login or '').strip().lower()}"
    # The IP first: a blocked IP does not get to count failures against accounts.
    ip_count = ratelimit.hit("login:ip", ip, window=lock)
    if ip_count > max_ip:
        raise RateLimited(_("登录失败次数过多，请稍后再试。"))
    account_count = ratelimit.hit("login:account", account, window=lock)
    if account_count > max_account:
        ratelimit.undo("login:ip", ip)  # refused unchecked: not a failure of this IP
        raise RateLimited(_("登录失败次数过多，请稍后再试。"))
    if user is None:
        User().set_password(password)  # spend the time a real check takes
        valid = False
    else:
        valid = user.check_password(password) and not user.is_closed
    if not valid:
        # The failure that reaches a limit starts a full lock period.
        if account_count == max_account:
            ratelimit.extend("login:account", account, window=lock)
        if ip_count == max_ip:
            ratelimit.extend("login:ip", ip, window=lock)
        raise Unauthenticated(_("账号或密码错误。"), code="invalid_credentials")
    ratelimit.reset("login:account", account)
    ratelimit.undo("login:ip", ip)
    return token_issue(user=user)


# --- one-time codes ---------------------------------------------------------------------------


def code_recipient(*, phone: str | None, email: str | None) -> str:
    """The normalised phone (preferred) or e-mail a code goes to; ValidationFailed if bad."""
    phone = normalize_phone(phone or "")
    email = (email or "").strip().lower()
    if phone:
        if not PHONE_RE.match(phone):
            raise ValidationFailed(
                _("手机号格式不正确。"), code="invalid_phone", fields={"phone": "invalid"}
            )
        return phone
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(
                _("邮箱格式不正确。"), code="invalid_email", fields={"email": "invalid"}
            ) from None
        return email
    raise ValidationFailed(
        _("请填写手机号或邮箱。"),
        code="login_required",
        fields={"phone": "required", "email": "required"},
    )


def _code_hash(*, recipient: str, purpose: str, code: str) -> str:
    message = f"{purpose}:{recipient}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def code_send(*, recipient: str, purpose: str, ip: str) -> VerificationCode:
    """Create a six-digit code for `recipient` and send it once the row is committed.

    Limits: one send per recipient every JIFEN_CODE_RESEND_SECONDS, JIFEN_CODE_MAX_PER_HOUR
    per recipient and JIFEN_CODE_MAX_PER_IP_HOUR per client IP (RateLimited beyond them).
    A registration code for a phone or e-mail already registered is refused (Conflict).
    """
    if purpose not in VerificationCode.Purpose.values:
        raise ValidationFailed(_("用途无效。"), code="invalid_purpose", fields={"purpose": purpose})
    if purpose == VerificationCode.Purpose.REGISTER and member_find_by_login(recipient):
        raise Conflict(_("该手机号或邮箱已注册。"), code="already_registered")
    subject = f"{purpose}:{recipient}"
    if (
        ratelimit.exceeded(
            "code:resend", subject, limit=1, window=_setting("JIFEN_CODE_RESEND_SECONDS", 60)
        )
        or ratelimit.exceeded(
            "code:hour", subject, limit=_setting("JIFEN_CODE_MAX_PER_HOUR", 5), window=3600
        )
        or ratelimit.exceeded(
            "code:ip", ip, limit=_setting("JIFEN_CODE_MAX_PER_IP_HOUR", 20), window=3600
        )
    ):
        raise RateLimited(_("验证码发送过于频繁，请稍后再试。"))
    code = f"{secrets.randbelow(10**6):06d}"
    ttl = _setting("JIFEN_CODE_TTL_SECONDS", 600)
    verification = VerificationCode.objects.create(
        recipient=recipient,
        purpose=purpose,
        code_hash=_code_hash(recipient=recipient, purpose=purpose, code=code),
        expires_at=timezone.now() + dt.timedelta(seconds=ttl),
    )
    message = _("您的验证码是 %(code)s，%(minutes)s 分钟内有效。") % {
        "code": code,
        "minutes": max(ttl // 60, 1),
    }
    transaction.on_commit(lambda: code_sender().send(recipient, message))
    return verification


def code_check(*, recipient: str, purpose: str, code: str) -> VerificationCode:
    """The newest live code for (recipient, purpose) if `code` matches it.

    Every check counts an attempt, committed with the caller's transaction even when the
    code is wrong (do not call this inside an atomic block that a failure rolls back).
    Raises ValidationFailed (code invalid_code) for a wrong, used, expired or exhausted code.
    """
    invalid = ValidationFailed(
        _("验证码错误或已失效。"), code="invalid_code", fields={"code": "invalid"}
    )
    verification = (
        VerificationCode.objects.filter(
            recipient=recipient,
            purpose=purpose,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if verification is None:
        raise invalid
    counted = VerificationCode.objects.filter(
        pk=verification.pk,
        used_at__isnull=True,
        attempts__lt=_setting("JIFEN_CODE_MAX_ATTEMPTS", 5),
    ).update(attempts=F("attempts") + 1)
    expected = _code_hash(recipient=recipient, purpose=purpose, code=str(code or "").strip())
    if not counted or not hmac.compare_digest(expected, verification.code_hash):
        raise invalid
    return verification


def code_consume(*, verification: VerificationCode) -> None:
    """Mark the code used; of two concurrent consumers exactly one succeeds."""
    if not VerificationCode.objects.filter(pk=verification.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    ):
        raise ValidationFailed(
            _("验证码错误或已失效。"), code="invalid_code", fields={"code": "invalid"}
        )


# --- registration from an app -----------------------------------------------------------------


def member_register_with_token(
    *,
    phone: str | None,
    email: str | None,
    password: str,
    name: str = "",
    code: str | None = None,
    ip: str,
    invite_code: str | None = None,
    device: str | None = None,
) -> tuple[User, IssuedToken]:
    """Register a member (members.services.member_register) and issue an app token.

    When settings.JIFEN_REGISTRATION_CODE_REQUIRED, `code` must be the newest live code
    sent to the phone (or, without a phone, the e-mail) for "register"; it is consumed in
    the same transaction as the registration, so a refused registration keeps it usable.
    Raises RateLimited beyond JIFEN_REGISTER_MAX_PER_IP_HOUR registrations per client IP.
    An `invite_code` links the member to its referrer (jifen.referrals); an unknown code
    refuses the whole registration.
    """
    from jifen.referrals.services import referral_register

    if ratelimit.exceeded(
        "register:ip", ip, limit=_setting("JIFEN_REGISTER_MAX_PER_IP_HOUR", 20), window=3600
    ):
        raise RateLimited(_("注册过于频繁，请稍后再试。"))
    verification = None
    if settings.JIFEN_REGISTRATION_CODE_REQUIRED:
        recipient = code_recipient(phone=phone, email=email)
        if not code:
            raise ValidationFailed(
                _("请填写验证码。"), code="code_required", fields={"code": "required"}
            )
        verification = code_check(
            recipient=recipient, purpose=VerificationCode.Purpose.REGISTER, code=code
        )
    with transaction.atomic():
        if verification is not None:
            code_consume(verification=verification)
        user = member_register(email=email, phone=phone, password=password, name=name)
        referral_register(invitee=user, invite_code=invite_code, ip=ip, device=device)
        issued = token_issue(user=user)
    return user, issued
