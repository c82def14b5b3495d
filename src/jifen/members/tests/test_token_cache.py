"""Token lookups remembered per connection (jifen.members.token_cache, ADR 0007).

On PostgreSQL with real commits (transaction=True): the cache only works outside
transactions, and what it must never do is answer for a token or user that has changed.
"""

import datetime as dt
import select
from unittest import mock

import psycopg
import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jifen.members import token_cache
from jifen.members.models import ApiToken, User
from jifen.members.tokens import token_issue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_cache():
    token_cache.forget_all()
    yield
    token_cache.forget_all()


def _client(user) -> tuple[Client, ApiToken]:
    issued = token_issue(user=user)
    return Client(headers={"Authorization": f"Bearer {issued.token}"}), issued.api_token


def _token_queries(queries) -> int:
    return sum("members_apitoken" in q["sql"] for q in queries.captured_queries)


def _from_another_connection(sql: str, params: list) -> None:
    """Commit a change as another app server would (its own connection, autocommit)."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute(sql, params)


def _wait_for_server_message(seconds: float = 2.0) -> None:
    """Another session's NOTIFY reaches this connection's socket a moment after its commit."""
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    assert poller.poll(seconds * 1000), "no notification arrived"


def test_a_known_token_is_answered_without_a_query(member):
    client, _token = _client(member)
    assert client.get("/api/v1/me").status_code == 200  # looked up, remembered

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["member_number"] == member.member_number
    assert _token_queries(queries) == 0


def test_a_revoked_token_is_refused_at_once(member):
    client, _token = _client(member)
    assert client.get("/api/v1/me").status_code == 200

    assert client.delete("/api/v1/auth/token").status_code == 204

    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_a_token_revoked_by_another_server_is_refused(member):
    client, token = _client(member)
    assert client.get("/api/v1/me").status_code == 200

    _from_another_connection(
        "UPDATE members_apitoken SET revoked_at = now() WHERE id = %s", [token.pk]
    )
    _wait_for_server_message()

    assert client.get("/api/v1/me").status_code == 401


def test_a_member_closed_by_another_server_is_refused(member):
    client, _token = _client(member)
    assert client.get("/api/v1/me").status_code == 200

    _from_another_connection("UPDATE members_user SET closed_at = now() WHERE id = %s", [member.pk])
    _wait_for_server_message()

    assert client.get("/api/v1/me").status_code == 401


def test_a_profile_change_by_a_bulk_update_shows_on_the_next_request(member):
    client, _token = _client(member)
    assert client.get("/api/v1/me").json()["name"] == member.name

    User.objects.filter(pk=member.pk).update(name="新名字")

    assert client.get("/api/v1/me").json()["name"] == "新名字"


def test_an_operator_who_loses_staff_rights_is_refused_operator_endpoints(operator, member):
    client, _token = _client(operator)
    body = {"member": member.member_number, "points": 5, "reason": "补偿"}
    adjust = lambda: client.post(  # noqa: E731
        "/api/v1/admin/adjustments", body, content_type="application/json"
    )
    assert adjust().status_code == 201

    User.objects.filter(pk=operator.pk).update(is_staff=False)

    assert adjust().status_code == 403


def test_a_remembered_token_past_its_expiry_is_refused(member):
    client, token = _client(member)
    assert client.get("/api/v1/me").status_code == 200
    later = token.expires_at + dt.timedelta(seconds=1)

    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get("/api/v1/me").status_code == 401


def test_an_entry_older_than_the_setting_is_looked_up_again(member, settings):
    settings.JIFEN_TOKEN_CACHE_SECONDS = 60
    client, _token = _client(member)
    assert client.get("/api/v1/me").status_code == 200
    later = token_cache.time.monotonic() + 61

    with mock.patch.object(token_cache.time, "monotonic", return_value=later):
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/me").status_code == 200

    assert _token_queries(queries) == 1


def test_switched_off_every_request_looks_the_token_up(member, settings):
    settings.JIFEN_TOKEN_CACHE_SECONDS = 0
    client, _token = _client(member)
    client.get("/api/v1/me")

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200

    assert _token_queries(queries) == 1


def test_inside_a_transaction_the_token_is_looked_up(member):
    client, _token = _client(member)
    client.get("/api/v1/me")

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200

    assert _token_queries(queries) == 1


def test_a_new_connection_starts_with_nothing_remembered(member):
    client, _token = _client(member)
    client.get("/api/v1/me")
    connection.close()  # a reconnect may have missed notifications

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200

    assert _token_queries(queries) == 1


def test_a_change_committed_while_the_lookup_ran_is_not_remembered(member):
    """A notification that arrives during the lookup's query: the row that query read may
    be stale, so it answers this request but is not remembered."""
    client, _token = _client(member)
    client.get("/api/v1/me")  # the connection listens now
    token_cache.forget_all()
    real_cursor = connection.cursor
    changed = []

    def cursor_then_change(*args, **kwargs):
        if not changed:  # the token query: the NOTIFY arrives while it runs
            changed.append(True)
            token_cache._local.cache.forget_user(member.pk)  # as the handler does
        return real_cursor(*args, **kwargs)

    with mock.patch.object(connection, "cursor", side_effect=cursor_then_change):
        assert client.get("/api/v1/me").status_code == 200

    assert changed == [True]
    assert token_cache._local.cache.entries == {}


def test_after_the_server_ended_the_session_nothing_remembered_is_used(member):
    """A restart or pg_terminate_backend ends the session and its notifications with it: a
    token revoked after that is refused, and the request is answered on a new connection."""
    client, token = _client(member)
    assert client.get("/api/v1/me").status_code == 200  # remembered
    old_pid = connection.connection.info.backend_pid
    _from_another_connection("SELECT pg_terminate_backend(%s, 5000)", [old_pid])
    _wait_for_server_message()
    _from_another_connection(
        "UPDATE members_apitoken SET revoked_at = now() WHERE id = %s", [token.pk]
    )

    assert client.get("/api/v1/me").status_code == 401
    assert connection.connection.info.backend_pid != old_pid
