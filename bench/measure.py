"""Statements and app CPU per bench request, in-process (steady on a busy machine).

Runs the bench's requests through Django's full stack with the test client against the bench
database and prints, for each: the SQL statements of one request and the process CPU time
(time.process_time: this Python process only, not PostgreSQL) per request over N requests.
Wall-clock throughput is meaningless on a shared machine; CPU per request is not.

    env <bench env> .venv/bin/python bench/measure.py [N] [--sql]

"floor" is GET /api/v1/me/points with a bearer token: Django + Ninja + auth, no posting.
It needs the tokens file written by `jifen bench-setup` (var/bench/tokens.txt).
"""

import os
import random
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jifen.config.settings")
import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(args[0]) if args else 300
SHOW_SQL = "--sql" in sys.argv
lines = open(os.environ.get("BENCH_TOKENS", "var/bench/tokens.txt")).read().split("\n")
operator = lines[0].split()[1]
members = [line.split() for line in lines[1:] if line.strip()]
client = Client(HTTP_HOST="localhost")


def floor():
    _n, token = random.choice(members)
    return client.get("/api/v1/me/points", HTTP_AUTHORIZATION=f"Bearer {token}")


def earn():
    number, _token = random.choice(members)
    body = {"member": number, "points": random.randint(1, 100), "reason": "bench"}
    return client.post(
        "/api/v1/admin/adjustments",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {operator}",
    )


def transfer():
    (_n, token), (to, _t) = random.sample(members, 2)
    return client.post(
        "/api/v1/me/transfers",
        {"to": to, "points": 10, "note": ""},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


for name, fn in (("floor", floor), ("earn", earn), ("transfer", transfer)):
    for _ in range(20):
        fn()
    with CaptureQueriesContext(connection) as queries:
        response = fn()
    assert 200 <= response.status_code < 300, response.content
    statements = len(queries)
    if SHOW_SQL:
        for query in queries.captured_queries:
            print(f"    {query['sql'][:200]}")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(N):
        fn()
    cpu = (time.process_time() - cpu0) * 1000 / N
    wall = (time.perf_counter() - wall0) * 1000 / N
    print(f"{name:9s} statements={statements:2d}  app_cpu_ms={cpu:.2f}  wall_ms={wall:.2f}")
