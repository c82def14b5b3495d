import datetime as dt

import pytest
from django.core.cache import cache

PASSWORD = "Secret-pass-123"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth's rate limits count in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def earn():
    from jifen.ledger.services import points_earn

    counter = iter(range(1, 10_000))

    def give(member, points, *, expires_on=None, explanation="", **kwargs):
        return points_earn(
            member_id=member.pk,
            points=points,
            source="purchase",
            reference=f"test:earn:{member.pk}:{next(counter)}",
            explanation=explanation,
            expires_on=expires_on,
            **kwargs,
        )

    return give


@pytest.fixture
def alice(make_member, earn):
    member = make_member(phone="13900000001", name="王小明", email="alice@example.com")
    earn(member, 1200, expires_on=dt.date(2026, 12, 31), explanation="订单 #A1024")
    earn(member, 800, expires_on=dt.date(2027, 12, 31), explanation="每日签到")
    return member


@pytest.fixture
def bob(make_member):
    return make_member(phone="13900000002", name="李华")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client
