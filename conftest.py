"""Shared test fixtures.

- Every test that uses the database ends with the ledger verification (I1–I3, I5 and the
  registered checks): a test that leaves the books wrong fails even if its asserts pass.
- `member` / `operator` factories create users through the services, with wallets.
"""

import itertools
import os
import threading

import pytest
from django.conf import settings
from django.db import connections

_counter = itertools.count(1)

# Playwright's sync API runs an event loop in the test thread; Django then refuses database
# calls from "async context" unless told otherwise. Tests only (test_deploy strips it).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    chromium = os.path.exists("/usr/bin/chromium")
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if "browser" in item.keywords and not chromium:
            if os.environ.get("CI"):
                raise pytest.UsageError("CI needs /usr/bin/chromium for the browser tests")
            item.add_marker(pytest.mark.skip(reason="needs Debian's chromium"))


@pytest.fixture(autouse=True)
def _verify_ledger_after_test(request):
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if not uses_db:
        yield
        return
    transactional = (
        "transactional_db" in request.fixturenames
        or "live_server" in (request.fixturenames)
        or bool(marker and marker.kwargs.get("transaction"))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from jifen.ledger.verification import ledger_verify

    report = ledger_verify()
    assert report.ok, "ledger invariants broken:\n" + "\n".join(map(str, report.violations))


@pytest.fixture(autouse=True)
def _forget_system_accounts():
    """Tests flush the database between them, so ids cached by a committed test go stale."""
    yield
    from jifen.ledger import services

    services._system_account_ids.clear()


# Debian's Chromium, never a downloaded browser; the flags keep it off the closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    """A headless Chromium (Playwright) for tests marked `browser`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def make_member(db):
    from jifen.members.services import member_register

    def make(**kwargs):
        n = next(_counter)
        kwargs.setdefault("phone", f"1380000{n:04d}")
        kwargs.setdefault("password", "Secret-pass-123")
        kwargs.setdefault("name", f"会员{n}")
        return member_register(validate=False, **kwargs)

    return make


@pytest.fixture
def member(make_member):
    return make_member()


@pytest.fixture
def operator(make_member):
    return make_member(email="operator@example.com", phone=None, is_staff=True)


@pytest.fixture
def run_concurrently():
    """Run `fn(i)` in n threads released together from a barrier; returns results/errors.

    Each thread uses its own database connection and closes it at the end.
    """

    def run(fn, n):
        barrier = threading.Barrier(n)
        results: list = [None] * n

        def worker(i):
            try:
                barrier.wait()
                results[i] = ("ok", fn(i))
            except Exception as error:  # collected for the test to inspect
                results[i] = ("error", error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return results

    return run


@pytest.fixture
def bearer():
    """`bearer(user)`: a test client sending the user's app token (Authorization: Bearer)."""
    from django.test import Client

    from jifen.members.tokens import token_issue

    def make(user) -> Client:
        return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})

    return make


@pytest.fixture
def logged_in():
    """`logged_in(user)`: a test client with the user's site session."""
    from django.test import Client

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def eager_tasks():
    """Celery tasks run inline for the test, also on the PostgreSQL + Redis run (where
    they would otherwise go to the broker and never run)."""
    from jifen.config.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def default_levels(request):
    """The tier levels of the data migration, which a transactional test flushes: seeded
    again when missing, for tests that use the database."""
    if request.node.get_closest_marker("django_db") is None and not {
        "db",
        "transactional_db",
    } & set(request.fixturenames):
        return
    import importlib

    from jifen.tiers.models import Level

    if not Level.objects.exists():
        seed = importlib.import_module("jifen.tiers.migrations.0002_default_levels")
        for values in seed.DEFAULT_LEVELS:
            Level.objects.create(**values)
