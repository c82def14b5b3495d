"""Random input against the tiers endpoints: never a 5xx, always the error shape, and a
refused request changes no level."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jifen.members.tokens import token_issue
from jifen.tiers.models import MemberTier, TierChange

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["gold", "silver", "\x00", "gold\x00", "x" * 600])
)
bodies = st.fixed_dictionaries({}, optional={"level": scalars, "reason": scalars}) | scalars


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _assert_error_shape(response):
    assert response.status_code < 500
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "fields"}


@FUZZ
@given(body=bodies)
def test_setting_a_level_with_random_bodies(member, operator, body):
    client = Client(headers={"Authorization": f"Bearer {token_issue(user=operator).token}"})
    valid = (
        isinstance(body, dict)
        and body.get("level") in ("gold", "silver")
        and isinstance(body.get("reason"), str)
        and body["reason"].strip()
        and "\x00" not in body["reason"]
        and len(body["reason"]) <= 500
    )
    before = TierChange.objects.count()

    response = client.put(
        f"/api/v1/admin/members/{member.member_number}/tier",
        json.dumps(body),
        content_type="application/json",
    )

    _assert_error_shape(response)
    if not valid:
        assert response.status_code in (404, 422)
        assert TierChange.objects.count() == before
    MemberTier.objects.filter(member=member).delete()
    TierChange.objects.all().delete()


@FUZZ
@given(
    page=st.text(max_size=12) | st.integers(-(10**20), 10**20).map(str),
    size=st.text(max_size=12) | st.integers(-(10**20), 10**20).map(str),
    number=st.text(max_size=40),
)
def test_random_query_and_path_values(member, operator, page, size, number):
    mine = Client(headers={"Authorization": f"Bearer {token_issue(user=member).token}"})
    staff = Client(headers={"Authorization": f"Bearer {token_issue(user=operator).token}"})

    _assert_error_shape(mine.get("/api/v1/me/tier/changes", {"page": page, "page_size": size}))
    from urllib.parse import quote

    path = quote(number, safe="") or "x"
    _assert_error_shape(staff.get(f"/api/v1/admin/members/{path}/tier"))
    response = staff.post(f"/api/v1/admin/members/{path}/tier/review")
    _assert_error_shape(response)
    assert TierChange.objects.count() == 0
