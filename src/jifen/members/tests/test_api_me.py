"""GET/PATCH /me and the member's addresses."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from jifen.members.models import Address, User
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


@pytest.fixture
def api(member):
    return bearer(member)


ADDRESS = {
    "recipient": "王小明",
    "phone": "13812345678",
    "province": "上海市",
    "city": "上海市",
    "district": "浦东新区",
    "detail": "世纪大道 100 号",
    "postal_code": "200120",
}


def address_rows(member):
    return list(
        Address.objects.filter(member=member)
        .order_by("pk")
        .values_list("recipient", "phone", "detail", "is_default")
    )


# --- profile ----------------------------------------------------------------------------------


def test_me_returns_the_profile(make_member):
    member = make_member(email="ann@example.com", name="安")
    User.objects.filter(pk=member.pk).update(
        date_joined=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    )

    response = bearer(member).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json() == {
        "member_number": member.member_number,
        "phone": member.phone,
        "email": "ann@example.com",
        "name": "安",
        "avatar": None,
        "birthday": None,
        "gender": "",
        "date_joined": "2026-01-02T11:04:05+08:00",
        "tier": {"code": "normal", "name": "普通", "rank": 0},
        "tier_progress": response.json()["tier_progress"],
    }
    assert response.json()["tier_progress"]["level"]["code"] == "normal"


def test_patch_me_changes_only_the_given_fields(member, api):
    response = api.patch(
        "/api/v1/me",
        {"birthday": "1990-05-06", "gender": "female"},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["birthday"], body["gender"]) == (member.name, "1990-05-06", "female")
    member.refresh_from_db()
    assert (member.birthday, member.gender) == (dt.date(1990, 5, 6), "female")


def test_patch_me_null_birthday_clears_it(member, api):
    User.objects.filter(pk=member.pk).update(birthday=dt.date(1990, 1, 1))

    response = api.patch("/api/v1/me", {"birthday": None}, content_type="application/json")

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.birthday is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"gender": "robot"}, "invalid_profile"),
        ({"birthday": "06/05/1990"}, "invalid_profile"),
        ({"birthday": 19900506}, "validation_error"),
        ({"name": 123}, "validation_error"),
        ({"name": "x" * 101}, "validation_error"),
        ({"phone": "13900000000"}, "validation_error"),
        ({"member_number": "1"}, "validation_error"),
    ],
)
def test_patch_me_bad_input_changes_nothing(member, api, data, code):
    before = User.objects.filter(pk=member.pk).values().get()

    response = api.patch("/api/v1/me", data, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert User.objects.filter(pk=member.pk).values().get() == before


def test_patch_me_malformed_json_is_400(member, api):
    response = api.patch("/api/v1/me", "{name: 1", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


# --- addresses --------------------------------------------------------------------------------


def test_first_address_becomes_the_default(member, api):
    response = api.post("/api/v1/me/addresses", ADDRESS, content_type="application/json")

    assert response.status_code == 201
    body = response.json()
    address = Address.objects.get()
    assert body == {
        **ADDRESS,
        "id": address.pk,
        "is_default": True,
        "created_at": timezone.localtime(address.created_at).isoformat(timespec="milliseconds"),
    }
    assert address.member_id == member.pk


def test_address_list_has_the_default_first(member, api):
    api.post("/api/v1/me/addresses", ADDRESS, content_type="application/json")
    api.post(
        "/api/v1/me/addresses",
        {**ADDRESS, "recipient": "李四", "is_default": True},
        content_type="application/json",
    )
    api.post(
        "/api/v1/me/addresses", {**ADDRESS, "recipient": "张三"}, content_type="application/json"
    )

    response = api.get("/api/v1/me/addresses")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [(a["recipient"], a["is_default"]) for a in body["items"]] == [
        ("李四", True),
        ("张三", False),
        ("王小明", False),
    ]


def test_address_list_is_paginated(member, api):
    for i in range(3):
        api.post(
            "/api/v1/me/addresses",
            {**ADDRESS, "recipient": f"r{i}"},
            content_type="application/json",
        )

    page2 = api.get("/api/v1/me/addresses?page=2&page_size=2").json()

    assert page2["count"] == 3
    assert [a["recipient"] for a in page2["items"]] == ["r1"]
    assert api.get("/api/v1/me/addresses?page_size=101").status_code == 422
    assert api.get("/api/v1/me/addresses?page=0").status_code == 422
    assert api.get("/api/v1/me/addresses?page=x").status_code == 422


def test_update_and_delete_an_address(member, api):
    first = api.post("/api/v1/me/addresses", ADDRESS, content_type="application/json").json()
    second = api.post(
        "/api/v1/me/addresses", {**ADDRESS, "recipient": "李四"}, content_type="application/json"
    ).json()

    updated = api.put(
        f"/api/v1/me/addresses/{second['id']}",
        {**ADDRESS, "recipient": "李四", "detail": "新地址 1 号", "is_default": True},
        content_type="application/json",
    )
    deleted = api.delete(f"/api/v1/me/addresses/{second['id']}")

    assert updated.status_code == 200
    assert (updated.json()["detail"], updated.json()["is_default"]) == ("新地址 1 号", True)
    assert deleted.status_code == 204
    # The default went away, so the remaining address is the default again.
    assert address_rows(member) == [("王小明", "13812345678", "世纪大道 100 号", True)]
    assert first["id"] == Address.objects.get().pk


def test_another_members_address_is_404_and_untouched(make_member):
    owner, intruder = make_member(), make_member()
    address_id = (
        bearer(owner)
        .post("/api/v1/me/addresses", ADDRESS, content_type="application/json")
        .json()["id"]
    )
    before = address_rows(owner)
    api = bearer(intruder)

    put = api.put(
        f"/api/v1/me/addresses/{address_id}",
        {**ADDRESS, "recipient": "坏人"},
        content_type="application/json",
    )
    delete = api.delete(f"/api/v1/me/addresses/{address_id}")

    assert (put.status_code, delete.status_code) == (404, 404)
    assert put.json()["error"]["code"] == "address_not_found"
    assert delete.json()["error"]["code"] == "address_not_found"
    assert address_rows(owner) == before


@pytest.mark.parametrize("address_id", ["0", "-1", "999999", "99999999999999999999999999"])
def test_unknown_address_is_404(member, api, address_id):
    response = api.delete(f"/api/v1/me/addresses/{address_id}")

    assert response.status_code == 404


def test_non_numeric_address_id_is_422(member, api):
    assert api.delete("/api/v1/me/addresses/abc").status_code == 422


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({**ADDRESS, "phone": "abc"}, "invalid_address"),
        ({**ADDRESS, "detail": "  "}, "invalid_address"),
        ({**ADDRESS, "detail": "x" * 201}, "invalid_address"),
        ({k: v for k, v in ADDRESS.items() if k != "city"}, "validation_error"),
        ({**ADDRESS, "phone": 13812345678}, "validation_error"),
        ({**ADDRESS, "is_default": "true"}, "validation_error"),
        ({**ADDRESS, "member": 1}, "validation_error"),
    ],
)
def test_bad_address_is_422_and_nothing_is_saved(member, api, data, code):
    response = api.post("/api/v1/me/addresses", data, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert Address.objects.count() == 0


def test_bad_update_changes_nothing(member, api):
    address_id = api.post("/api/v1/me/addresses", ADDRESS, content_type="application/json").json()[
        "id"
    ]
    before = address_rows(member)

    response = api.put(
        f"/api/v1/me/addresses/{address_id}",
        {**ADDRESS, "phone": "not a phone"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert address_rows(member) == before


def test_addresses_need_authentication(member):
    assert Client().get("/api/v1/me/addresses").status_code == 401
    assert (
        Client().post("/api/v1/me/addresses", ADDRESS, content_type="application/json").status_code
        == 401
    )
    assert Address.objects.count() == 0
