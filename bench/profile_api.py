"""Where an API request's time goes, in-process (no server, no network).

Runs the bench's two requests through Django's full stack (middleware, Ninja, services)
with the test client against the bench database, prints the SQL of one request of each
kind, then profiles N requests with cProfile.

    env <bench env> .venv/bin/python bench/profile_api.py [N]

It needs the tokens file written by `jifen bench-setup` (var/bench/tokens.txt).
"""

import cProfile
import io
import os
import pstats
import random
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jifen.config.settings")
import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
lines = open(os.environ.get("BENCH_TOKENS", "var/bench/tokens.txt")).read().split("\n")
operator = lines[0].split()[1]
members = [line.split() for line in lines[1:] if line.strip()]
client = Client(HTTP_HOST="localhost")


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


for name, fn in (("earn", earn), ("transfer", transfer)):
    fn()
    with CaptureQueriesContext(connection) as queries:
        response = fn()
    assert 200 <= response.status_code < 300, response.content
    print(f"\n### {name}: {len(queries)} queries")
    for query in queries.captured_queries:
        print(f"  {query['time']}s  {query['sql'][:160]}")
    started = time.perf_counter()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(N):
        fn()
    profile.disable()
    elapsed = time.perf_counter() - started
    print(f"### {name}: {N} requests in {elapsed:.2f}s (profiled) = {1000 * elapsed / N:.2f} ms")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue()[:6000])
    started = time.perf_counter()
    for _ in range(N):
        fn()
    elapsed = time.perf_counter() - started
    per_request = 1000 * elapsed / N
    print(f"### {name}: {N} requests in {elapsed:.2f}s (not profiled) = {per_request:.2f} ms")
