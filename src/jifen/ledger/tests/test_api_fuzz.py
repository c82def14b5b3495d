"""Random bodies against the mutating endpoints: never a 5xx, always the error shape, and a
refused request moves no points."""

import json
import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jifen.ledger.models import Account, Entry, Transaction
from jifen.ledger.services import points_earn
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
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    # NUL is legal JSON but PostgreSQL text cannot hold it: make it common.
    | st.sampled_from(["\x00", "a\x00b", "13800000001\x00"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def bodies(*fields: str):
    """Objects with the endpoint's own fields (and sometimes others), or any JSON at all."""
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(fields, json_values))
    return known | json_values


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


@pytest.fixture
def world(make_member, operator):
    member, friend = make_member(), make_member(email="friend@example.com")
    points_earn(member_id=member.pk, points=1000, source="purchase", reference="seed")
    return {
        "member": Client(headers={"Authorization": f"Bearer {token_issue(user=member).token}"}),
        "operator": Client(headers={"Authorization": f"Bearer {token_issue(user=operator).token}"}),
        "anonymous": Client(),
        "friend": friend,
    }


def ledger_state():
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        list(Account.objects.filter(kind="wallet").order_by("pk").values_list("available")),
    )


def check(response, before, *, ok: int):
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "fields"}
        assert isinstance(error["code"], str) and error["code"]
    if response.status_code != ok:
        assert ledger_state() == before


def post(client, url, body, method="post"):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@FUZZ
@given(body=bodies("to", "points", "note"))
def test_fuzz_transfers(world, body):
    if isinstance(body, dict) and body.get("to") == "@friend":
        body["to"] = world["friend"].phone
    before = ledger_state()
    check(post(world["member"], "/api/v1/me/transfers", body), before, ok=201)


@FUZZ
@given(body=bodies("member", "points", "reason"))
def test_fuzz_adjustments(world, body):
    before = ledger_state()
    check(post(world["operator"], "/api/v1/admin/adjustments", body), before, ok=201)


@FUZZ
@given(
    body=bodies(
        "recipient", "phone", "province", "city", "district", "detail", "postal_code", "is_default"
    )
)
def test_fuzz_addresses(world, body):
    before = ledger_state()
    check(post(world["member"], "/api/v1/me/addresses", body), before, ok=201)


@FUZZ
@given(body=bodies("name", "birthday", "gender"))
def test_fuzz_profile(world, body):
    before = ledger_state()
    check(post(world["member"], "/api/v1/me", body, method="patch"), before, ok=200)


@FUZZ
@given(body=bodies("login", "password"))
def test_fuzz_token(world, body):
    before = ledger_state()
    check(post(world["anonymous"], "/api/v1/auth/token", body), before, ok=200)


@FUZZ
@given(body=bodies("phone", "email", "password", "name", "invite_code", "code", "purpose"))
def test_fuzz_register_and_codes(world, body):
    before = ledger_state()
    check(post(world["anonymous"], "/api/v1/auth/codes", body), before, ok=202)
    check(post(world["anonymous"], "/api/v1/auth/register", body), before, ok=201)


@FUZZ
@given(raw=st.binary(max_size=64))
def test_fuzz_raw_bytes(world, raw):
    before = ledger_state()
    response = world["member"].post("/api/v1/me/transfers", raw, content_type="application/json")
    check(response, before, ok=201)


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/api/v1/me/points/history?kind={}",
            "/api/v1/me/points/history?page={}",
            "/api/v1/me/points/history?page_size={}",
            "/api/v1/me/addresses?page={}",
            "/api/v1/admin/adjustments?status={}",
            "/api/v1/admin/members/{}/points",
        ]
    ),
    value=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#&%"),
        min_size=1,
        max_size=25,
    ),
)
def test_fuzz_queries(world, path, value):
    client = world["operator"] if "admin" in path else world["member"]
    response = client.get(path.format(value))
    assert response.status_code < 500, response.content


NUL_CASES = [
    ("member", "post", "/api/v1/me/transfers", {"to": "a\x00b", "points": 10}),
    ("member", "post", "/api/v1/me/transfers", {"to": "x@y.com", "points": 10, "note": "\x00"}),
    (
        "operator",
        "post",
        "/api/v1/admin/adjustments",
        {"member": "1\x00", "points": 1, "reason": "r"},
    ),
    (
        "operator",
        "post",
        "/api/v1/admin/adjustments",
        {"member": "1", "points": 1, "reason": "\x00"},
    ),
    (
        "member",
        "post",
        "/api/v1/me/addresses",
        {"recipient": "\x00", "phone": "13812345678", "province": "p", "city": "c", "detail": "d"},
    ),
    ("member", "patch", "/api/v1/me", {"name": "a\x00"}),
    ("anonymous", "post", "/api/v1/auth/token", {"login": "a\x00", "password": "p"}),
    ("anonymous", "post", "/api/v1/auth/register", {"phone": "138\x00", "password": "p"}),
    ("anonymous", "post", "/api/v1/auth/codes", {"email": "a\x00@b.com"}),
]


@pytest.mark.parametrize(("who", "method", "url", "body"), NUL_CASES)
def test_nul_characters_are_422(world, who, method, url, body):
    before = ledger_state()

    response = post(world[who], url, body, method=method)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert ledger_state() == before


def test_nul_in_a_path_or_query_is_a_4xx(world):
    assert world["operator"].get("/api/v1/admin/members/%00/points").status_code == 404
    assert world["member"].get("/api/v1/me/points/history?kind=%00").status_code == 422


def test_nul_in_an_idempotency_key_is_400(world):
    response = world["member"].post(
        "/api/v1/me/transfers",
        {"to": world["friend"].phone, "points": 10},
        content_type="application/json",
        headers={"Idempotency-Key": "k\x00"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
