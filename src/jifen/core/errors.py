"""The one family of domain errors.

Services raise these; the API maps every one to
`{"error": {"code", "message", "fields"}}` with its `status`, and pages show `message` as a
form error. `code` is a stable snake_case identifier that clients may switch on.
"""

from typing import Any


class DomainError(Exception):
    code = "invalid_request"
    status = 400
    default_message = "The request is not valid."

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        status: int | None = None,
    ):
        self.message = str(message if message is not None else self.default_message)
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422
    default_message = "Some fields are not valid."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = "You may not do that."


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401
    default_message = "Authentication is required."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    default_message = "Too many attempts; try again later."


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    status = 409
    default_message = "Not enough points."
