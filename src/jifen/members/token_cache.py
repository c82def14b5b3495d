"""Bearer-token lookups remembered per database connection, kept exact by LISTEN/NOTIFY.

Resolving a bearer token is a query on every API request (about a fifth of an earn's CPU in
the app, docs/performance.md). This cache keeps the token's and its user's rows per
PostgreSQL connection, and is told of every change that could make a kept row wrong
(docs/adr/0007-token-cache.md):

- Triggers on members_user (UPDATE, DELETE) and members_apitoken (UPDATE, DELETE) send
  `NOTIFY jifen_auth, '<user id>'` (migration members 0002). They fire on every path that
  writes those rows (services, the admin, bulk updates, raw SQL), and the notification is
  sent when the writing transaction commits.
- Each connection that uses the cache LISTENs on jifen_auth. Before the cache is read, the
  connection's socket is polled; anything the server sent is read and every notification
  forgets the rows of that user. Notifications that arrive while a query runs are handled
  by psycopg and forget the same way.
- A lookup is remembered only if no notification arrived while it ran (a generation count),
  so a change racing the lookup cannot leave a stale row behind.
- A new connection (a reconnect may have missed notifications) starts with an empty cache;
  an entry is also forgotten after JIFEN_TOKEN_CACHE_SECONDS (default 60) whatever happens,
  and expiry is checked against the remembered expires_at on every use.
- Only outside transactions: LISTEN takes effect at commit, and inside a transaction the
  caller may not see other transactions' commits anyway. There the query runs as before.

Each request gets fresh model instances built from the remembered rows, so nothing a
request does to `request.user` (a permission cache, say) leaks into the next one.
PostgreSQL only; on other databases `lookup` always answers None and the caller queries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

from jifen.core.db.postgresql.base import socket_quiet

CHANNEL = "jifen_auth"
MAX_ENTRIES = 10_000

Row = tuple


@dataclass
class _Entry:
    token_row: Row
    user_row: Row
    user_id: int
    expires_at: object  # aware datetime
    stored_at: float  # time.monotonic()


@dataclass
class _ConnectionCache:
    """The cache of one psycopg connection (a reconnect gets a new one)."""

    raw: object  # the psycopg connection this cache listens on
    entries: dict[str, _Entry] = field(default_factory=dict)
    by_user: dict[int, set[str]] = field(default_factory=dict)
    generation: int = 0
    # Set when the server sent a notice: while idle, that is how libpq reports the FATAL
    # error of a session the server ended (its notifications ended with it).
    server_spoke: bool = False

    def forget_user(self, user_id: int | None) -> None:
        self.generation += 1
        if user_id is None:
            self.entries.clear()
            self.by_user.clear()
            return
        for digest in self.by_user.pop(user_id, ()):
            self.entries.pop(digest, None)

    def forget_token(self, digest: str) -> None:
        entry = self.entries.pop(digest, None)
        if entry is not None:
            self.by_user.get(entry.user_id, set()).discard(digest)

    def remember(self, digest: str, entry: _Entry) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.forget_user(None)
        self.entries[digest] = entry
        self.by_user.setdefault(entry.user_id, set()).add(digest)


_local = threading.local()


def _seconds() -> float:
    return float(getattr(settings, "JIFEN_TOKEN_CACHE_SECONDS", 60))


def _usable_here() -> bool:
    """PostgreSQL, cache enabled, a live connection in autocommit outside any transaction."""
    db = connections[DEFAULT_DB_ALIAS]  # one lookup; `connection` resolves it per attribute
    return (
        db.vendor == "postgresql"
        and _seconds() > 0
        and db.connection is not None
        and not db.in_atomic_block
        and db.autocommit  # what get_autocommit() answers once connected
    )


def _cache_for_connection() -> _ConnectionCache:
    """This thread's cache for the current connection, listening (call after _usable_here)."""
    raw = connection.connection
    cache: _ConnectionCache | None = getattr(_local, "cache", None)
    if cache is not None and cache.raw is raw:
        return cache
    # A new connection (or the first): nothing it missed can be trusted, so start empty.
    cache = _ConnectionCache(raw=raw)
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    raw.add_notify_handler(lambda notify: _on_notify(cache, notify.payload))
    raw.add_notice_handler(lambda diagnostic: _on_notice(cache))
    _local.cache = cache
    return cache


def _on_notify(cache: _ConnectionCache, payload: str) -> None:
    try:
        user_id = int(payload)
    except ValueError:
        user_id = None  # anything unexpected forgets everything
    cache.forget_user(user_id)


def _on_notice(cache: _ConnectionCache) -> None:
    cache.server_spoke = True


def _read_pending(cache: _ConnectionCache) -> bool:
    """Handle what the server sent since the last query.

    True when the cache may answer: nothing was sent, or only notifications (each handled).
    Anything else (a notice, which is how an idle connection hears that the server ended
    its session; an error; data still arriving; a closed connection) forgets everything,
    closes the connection (Django opens a new one for the next query, outside any
    transaction here) and answers False, so the caller looks the token up afresh.
    """
    raw = cache.raw
    if not socket_quiet(raw.fileno()):
        pgconn = raw.pgconn
        try:
            pgconn.consume_input()
        except Exception:  # noqa: BLE001 - the connection is gone
            cache.server_spoke = True
        while (notify := pgconn.notifies()) is not None:
            _on_notify(cache, notify.extra.decode())
        if not socket_quiet(raw.fileno()) or raw.closed:  # more than notifications, or a hang-up
            cache.server_spoke = True
    if cache.server_spoke:
        cache.server_spoke = False
        cache.forget_user(None)
        connections[DEFAULT_DB_ALIAS].close()
        return False
    return True


def lookup(digest: str, now) -> tuple[Row, Row] | None:
    """The remembered (token row, user row) for a live token, or None (then query).

    None also when the cache cannot be used here (see _usable_here), when the entry is older
    than JIFEN_TOKEN_CACHE_SECONDS or when the token has expired since it was remembered.
    """
    if not _usable_here():
        return None
    cache = _cache_for_connection()
    if not _read_pending(cache):
        return None
    entry = cache.entries.get(digest)
    if entry is None:
        return None
    if time.monotonic() - entry.stored_at > _seconds() or entry.expires_at <= now:
        cache.forget_token(digest)
        return None
    return entry.token_row, entry.user_row


def resolve_and_remember(
    digest: str, query: Callable[[], tuple[Row, Row, int, object] | None]
) -> tuple[Row, Row] | None:
    """Run `query` (-> token row, user row, user id, expires_at, or None) and remember a hit.

    The hit is remembered only if no notification arrived while the query ran.
    """
    cache = _cache_for_connection() if _usable_here() else None
    generation = cache.generation if cache is not None else None
    found = query()
    if found is None:
        return None
    token_row, user_row, user_id, expires_at = found
    if cache is not None and cache.generation == generation and connection.connection is cache.raw:
        cache.remember(
            digest,
            _Entry(
                token_row=token_row,
                user_row=user_row,
                user_id=user_id,
                expires_at=expires_at,
                stored_at=time.monotonic(),
            ),
        )
    return token_row, user_row


def forget_all() -> None:
    """Empty this thread's cache (tests; a deployment never needs it)."""
    cache: _ConnectionCache | None = getattr(_local, "cache", None)
    if cache is not None:
        cache.forget_user(None)
