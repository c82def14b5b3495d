"""ApiBearerShortcut: bearer API requests take the short chain and answer exactly as before."""

import pytest
from django.conf import settings
from django.test import Client

from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db
SHORTCUT = "jifen.core.middleware.ApiBearerShortcut"


def test_the_short_chain_is_a_subsequence_of_the_full_one_right_after_security():
    full = list(settings.MIDDLEWARE)
    assert full.index(SHORTCUT) == full.index("django.middleware.security.SecurityMiddleware") + 1
    positions = [full.index(name) for name in settings.API_BEARER_MIDDLEWARE]
    assert positions == sorted(positions)
    # What decides or shapes a bearer request's answer stays in it.
    for needed in (
        "django.middleware.locale.LocaleMiddleware",
        "jifen.members.middleware.BearerTokenMiddleware",
        "jifen.integrations.middleware.IntegrationSignatureMiddleware",
        "jifen.core.idempotency.IdempotencyMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ):
        assert needed in settings.API_BEARER_MIDDLEWARE


def _answers(member) -> list[tuple]:
    token = token_issue(user=member).token
    client = Client()
    out = []
    for method, path, authorization, body in (
        ("get", "/api/v1/me/points", f"Bearer {token}", None),
        ("get", "/api/v1/me/points", "Bearer wrong", None),
        ("post", "/api/v1/me/transfers", f"Bearer {token}", {"to": "nobody", "points": 1}),
    ):
        kwargs = {"HTTP_AUTHORIZATION": authorization, "HTTP_ACCEPT_LANGUAGE": "en"}
        if body is not None:
            kwargs["content_type"] = "application/json"
            response = getattr(client, method)(path, body, **kwargs)
        else:
            response = getattr(client, method)(path, **kwargs)
        out.append((response.status_code, sorted(response.headers.items()), response.content))
    return out


def test_bearer_answers_are_the_same_through_either_chain(member, settings):
    short = _answers(member)
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != SHORTCUT]
    assert _answers(member) == short
    assert [status for status, _h, _c in short] == [200, 401, 404]


def test_cookie_sessions_keep_the_full_chain_and_csrf(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.get("/api/v1/me/points").status_code == 200
    refused = client.post(
        "/api/v1/me/transfers", {"to": "x", "points": 1}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
