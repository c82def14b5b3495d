"""Fixed-window counters in Django's cache, for brute-force and abuse limits.

The counters live in the shared cache (Redis when REDIS_URL is set), so every app server
sees the same counts. `cache.add` creates a window only if none exists and `cache.incr` is
an atomic INCR in Redis, so concurrent callers never lose a count. With the in-process
cache (embedded mode, one process) the counts are per process, which is what one process
needs.

Keys are hashed: callers may pass e-mail addresses or other text that some cache backends
refuse in keys, and the cache never holds a login in clear.
"""

import hashlib

from django.core.cache import cache

PREFIX = "jifen:rl:"


def _key(scope: str, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"{PREFIX}{scope}:{digest}"


def hit(scope: str, subject: str, *, window: int) -> int:
    """Count one event for `subject` in the current window; return the count so far.

    The window starts at the first event and lasts `window` seconds.
    """
    key = _key(scope, subject)
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1
    if count == 1:
        # Redis INCR recreated a key that expired between Django's EXISTS check and the
        # INCR, without a TTL: give it one, or the subject would stay counted forever.
        cache.touch(key, window)
    return count


def count(scope: str, subject: str) -> int:
    return int(cache.get(_key(scope, subject)) or 0)


def extend(scope: str, subject: str, *, window: int) -> None:
    """Restart the window of an existing counter (a lock lasts `window` from now)."""
    cache.touch(_key(scope, subject), window)


def undo(scope: str, subject: str) -> None:
    """Take back one counted event (never below zero in practice: only after `hit`)."""
    try:
        cache.decr(_key(scope, subject))
    except ValueError:  # the window has expired meanwhile
        pass


def reset(scope: str, subject: str) -> None:
    cache.delete(_key(scope, subject))


def exceeded(scope: str, subject: str, *, limit: int, window: int) -> bool:
    """Count one event and say whether it is beyond `limit` in the window."""
    return hit(scope, subject, window=window) > limit


def client_ip(request) -> str:
    """The client's address as the app server sees it.

    Behind a proxy, the proxy must pass the real address as REMOTE_ADDR (granian and
    nginx can); X-Forwarded-For is not trusted here because any client can send it.
    """
    return request.META.get("REMOTE_ADDR") or "unknown"
