"""The PostgreSQL backend's health check (jifen.core.db.postgresql)."""

import select

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from jifen.members.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_connection_after():
    """Tests here end sessions and patch the raw connection: the next test reconnects."""
    yield
    connection.close()


def _terminate_own_backend() -> None:
    """End this connection's server session from another connection, as a restart would,
    and wait until the server's goodbye has reached this connection's socket."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    assert poller.poll(2000), "the server did not end the session"


def test_the_project_runs_on_the_jifen_backend():
    assert settings.DATABASES["default"]["ENGINE"] == "jifen.core.db.postgresql"
    assert connection.vendor == "postgresql"


def test_an_idle_healthy_connection_is_usable_without_a_round_trip(monkeypatch):
    connection.ensure_connection()

    def no_queries(*args, **kwargs):
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(connection.connection, "cursor", no_queries)
    try:
        assert connection.is_usable() is True
    finally:
        monkeypatch.undo()


def test_a_connection_the_server_ended_is_not_usable():
    connection.ensure_connection()
    _terminate_own_backend()
    assert connection.is_usable() is False


def test_the_first_query_after_the_server_ended_the_session_reconnects(monkeypatch):
    """As at the start of a request (request_started runs close_old_connections): the health
    check of the persistent connection replaces it, and the query succeeds."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    connection.close()
    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    _terminate_own_backend()

    close_old_connections()
    assert User.objects.count() == 0

    assert connection.connection.info.backend_pid != old_pid


def test_a_connection_inside_a_transaction_is_checked_by_a_round_trip(monkeypatch):
    """Not idle (a transaction is open): the poll cannot vouch for it, SELECT 1 decides."""
    connection.ensure_connection()
    sent = []
    real_cursor = connection.connection.cursor

    def recording_cursor(*args, **kwargs):
        sent.append(True)
        return real_cursor(*args, **kwargs)

    connection.connection.execute("BEGIN")
    monkeypatch.setattr(connection.connection, "cursor", recording_cursor)
    try:
        assert connection.is_usable() is True
    finally:
        monkeypatch.undo()
        connection.connection.execute("ROLLBACK")
    assert sent == [True]
