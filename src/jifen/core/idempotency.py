"""Idempotency-Key handling for the JSON API (DESIGN.md, "Idempotency").

Flow for a mutating request that carries the header:
1. Claim (owner, key) by inserting an in-flight row in its own committed transaction.
   A concurrent duplicate hits the unique constraint and is answered 409.
2. Run the view inside one database transaction together with the row's completion, so the
   effect and the stored result commit together or not at all: a crash in between cannot
   leave an effect whose key would let a retry act again.
3. A replay with the same body gets the stored status and body; with another body, 422.
A 5xx (or an exception) releases the claim so the client may retry.
A claim is identified by its `created_at`: a retry that takes over a stale claim renews it,
and the first attempt, should it still finish, can then neither complete nor release the
claim: its effects roll back and it answers 409, so one key never acts twice.
Authentication endpoints (/api/v1/auth/) are left out: their responses carry new tokens,
which must not be stored. So does a refusal
that comes before the operation runs (401, 403, 429: credentials, CSRF, permission, rate
limit): it has no effect to protect, and storing it would replay the refusal to the
corrected retry (a session client whose CSRF token had rotated could never use its key).
"""

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from jifen.core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# An in-flight claim older than this is taken to belong to a process that died.
STALE_AFTER = timedelta(seconds=120)
MAX_KEY_LENGTH = 255
EXCLUDED_PREFIXES = ("/api/v1/auth/",)
# Refusals before the operation runs: not results to remember (see the module docstring).
NOT_REMEMBERED = {401, 403, 429}


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def request_owner(request: HttpRequest) -> str | None:
    """Who the key belongs to: an integration client, else the authenticated user."""
    client = getattr(request, "integration_client", None)
    if client is not None:
        return f"client:{client.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def request_fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path_info.encode())
    digest.update(b"\0")
    digest.update(request.META.get("QUERY_STRING", "").encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _claim(owner: str, key: str, fingerprint: str) -> IdempotencyRecord | HttpResponse:
    """Insert the in-flight row, or answer from the existing one."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(owner=owner, key=key, request_hash=fingerprint)
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if existing is None:  # released by a failed first attempt between our two statements
        return error_response(409, "request_in_progress", "The same request is being retried.")
    if existing.request_hash != fingerprint:
        return error_response(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
        )
    if existing.state == IdempotencyRecord.State.DONE:
        response = HttpResponse(
            bytes(existing.response_body or b""),
            status=existing.response_status,
            content_type=existing.response_content_type or "application/json",
        )
        response["Idempotent-Replayed"] = "true"
        return response
    stale = existing.created_at < timezone.now() - STALE_AFTER
    if stale:
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, state=IdempotencyRecord.State.IN_FLIGHT, created_at=existing.created_at
        ).update(created_at=timezone.now())
        if taken:
            existing.refresh_from_db()
            return existing
    return error_response(409, "request_in_progress", "The same request is still in progress.")


class IdempotencyMiddleware:
    """Applies to /api/ requests with a mutating method and an Idempotency-Key header.

    It must run after the middleware that authenticates bearer tokens and integration
    clients, because the key is scoped to the caller.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        path = request.path_info
        if (
            key is None
            or request.method not in MUTATING_METHODS
            or not path.startswith("/api/")
            or path.startswith(EXCLUDED_PREFIXES)
        ):
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            # (Control characters, NUL above all, cannot be stored in PostgreSQL text.)
            return error_response(
                400,
                "invalid_idempotency_key",
                "Idempotency-Key is empty, too long or not printable.",
            )
        owner = request_owner(request)
        if owner is None:  # the view will answer 401; nothing to remember
            return self.get_response(request)
        claimed = _claim(owner, key, request_fingerprint(request))
        if isinstance(claimed, HttpResponse):
            return claimed
        record = claimed
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500 or response.status_code in NOT_REMEMBERED:
                    raise _ServerError(response)
                completed = IdempotencyRecord.objects.filter(
                    pk=record.pk,
                    state=IdempotencyRecord.State.IN_FLIGHT,
                    created_at=record.created_at,
                ).update(
                    state=IdempotencyRecord.State.DONE,
                    response_status=response.status_code,
                    response_body=response.content,
                    response_content_type=response.get("Content-Type", ""),
                    completed_at=timezone.now(),
                )
                if not completed:  # a retry took the claim over: it acts, we do not
                    raise _ServerError(
                        error_response(409, "request_in_progress", "The same request was retried.")
                    )
            return response
        except _ServerError as failure:
            self._release(record)
            return failure.response
        except BaseException:
            self._release(record)
            raise

    @staticmethod
    def _release(record: IdempotencyRecord) -> None:
        """Give up our claim, unless a retry has taken it over meanwhile."""
        IdempotencyRecord.objects.filter(
            pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT, created_at=record.created_at
        ).delete()


class _ServerError(Exception):
    def __init__(self, response: HttpResponse):
        self.response = response
