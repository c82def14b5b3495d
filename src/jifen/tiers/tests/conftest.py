import importlib

import pytest


@pytest.fixture(autouse=True)
def _default_levels(request):
    """The default levels come from a data migration; a transactional test flushes them, so
    put them back for the tests that follow."""
    if request.node.get_closest_marker("django_db") is None and not {
        "db",
        "transactional_db",
    } & set(request.fixturenames):
        yield
        return
    from jifen.tiers.models import Level

    if not Level.objects.exists():
        seed = importlib.import_module("jifen.tiers.migrations.0002_default_levels")
        for values in seed.DEFAULT_LEVELS:
            Level.objects.create(**values)
    yield
