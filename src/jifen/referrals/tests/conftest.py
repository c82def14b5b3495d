import datetime as dt

import pytest
from django.core.cache import cache

from jifen.core import clock
from jifen.referrals import services
from jifen.referrals.codes_services import code_batch_codes, code_batch_create


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def referrer(make_member):
    return make_member(name="王小明")


@pytest.fixture
def invite_code(referrer):
    return services.invite_code_ensure(member_id=referrer.pk).code


@pytest.fixture
def batch():
    """A live batch of 3 codes worth 20 points each; `batch.codes` lists them in clear."""
    today = clock.business_date()
    made = code_batch_create(
        name="春季瓶盖码",
        points=20,
        quantity=3,
        valid_from=today - dt.timedelta(days=1),
        valid_until=today + dt.timedelta(days=30),
    )
    made.plain = [code for _serial, code in code_batch_codes(made)]
    return made
