"""Random input against the engagement endpoints: never a 5xx, always the error shape, and
a refused request changes nothing."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jifen.engagement.models import Checkin, Share, TaskCompletion
from jifen.ledger.models import Transaction
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["\x00", "item:1\x00", "2026-11-01", "item:42", "wechat", "link"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def bodies(*fields):
    return st.fixed_dictionaries({}, optional=dict.fromkeys(fields, json_values)) | json_values


@pytest.fixture
def client_of(member, config):
    return Client(headers={"Authorization": f"Bearer {token_issue(user=member).token}"})


def assert_refused_or_ok(response, allowed_ok):
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        body = response.json()
        assert set(body["error"]) == {"code", "message", "fields"}
    else:
        assert response.status_code in allowed_ok


@FUZZ
@given(body=bodies("target", "channel"))
def test_shares_fuzz(client_of, body):
    before = (Share.objects.count(), Transaction.objects.count())
    response = client_of.post(
        "/api/v1/me/shares", json.dumps(body), content_type="application/json"
    )
    assert_refused_or_ok(response, {201})
    if response.status_code >= 400:
        assert (Share.objects.count(), Transaction.objects.count()) == before


@FUZZ
@given(body=bodies("day"))
def test_makeup_fuzz(client_of, body):
    before = (Checkin.objects.count(), Transaction.objects.count())
    response = client_of.post(
        "/api/v1/me/checkins/makeup", json.dumps(body), content_type="application/json"
    )
    assert_refused_or_ok(response, set())  # the member has no card: never a 2xx
    assert (Checkin.objects.count(), Transaction.objects.count()) == before


@FUZZ
@given(code=st.text(min_size=1, max_size=60), month=st.text(max_size=12))
def test_claim_and_calendar_fuzz(client_of, code, month):
    from urllib.parse import quote

    claim = client_of.post(f"/api/v1/me/tasks/{quote(code, safe='')}/claim")
    calendar = client_of.get("/api/v1/me/checkins", {"month": month})

    assert_refused_or_ok(claim, set())
    assert_refused_or_ok(calendar, {200})
    assert not TaskCompletion.objects.exists()
