"""Django's PostgreSQL backend with a health check that costs no round trip when idle.

With persistent connections (DB_CONN_MAX_AGE) and DB_CONN_HEALTH_CHECKS on, Django checks a
reused connection before the first query of each request with `SELECT 1`: a round trip on
every request, about 4% of an API request's CPU (docs/performance.md, 2026-12-02).

Between requests the connection is idle and the server has nothing to send, except when it
ends the session (restart, pg_terminate_backend, idle_session_timeout): then it sends an
error and closes the socket, which makes the socket readable. So an idle connection whose
socket has nothing to read is usable, checked with one poll(2); anything else (readable,
hung up, a transaction left open, a broken or closed connection) falls back to Django's
`SELECT 1`, which decides.

What only `SELECT 1` would catch: a link that died without a word (a NAT or firewall that
dropped the idle connection, an address that moved in a failover) looks quiet until
something is sent on it; then the request's first query fails instead of the check, and
Django closes the connection at the end of that request. Keep DB_CONN_MAX_AGE (default
60 s) below the idle timeouts of whatever sits between the app servers and PostgreSQL.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status == pq.TransactionStatus.IDLE and socket_quiet(
            connection.fileno()
        ):
            return True
        return super().is_usable()


def socket_quiet(fd: int) -> bool:
    """True when nothing can be read from the socket and it is not hung up or in error."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return not poller.poll(0)
