"""Members from the CRM: PUT creates or updates, GET reads with tier and points."""

import pytest

from jifen.ledger.models import Account
from jifen.ledger.services import points_earn
from jifen.members.models import User

PATH = "/api/v1/integration/members/{}"


def test_put_creates_a_member_with_a_wallet(integration):
    body = {"phone": "13900001111", "name": "王芳", "birthday": "1990-05-01", "gender": "female"}
    response = integration.request("PUT", PATH.format("crm-42"), body)
    assert response.status_code == 201
    data = response.json()
    member = User.objects.get(external_id="crm-42")
    assert data == {
        "external_id": "crm-42",
        "member_number": member.member_number,
        "phone": "13900001111",
        "email": None,
        "name": "王芳",
        "birthday": "1990-05-01",
        "gender": "female",
        "is_active": True,
        "tier": data["tier"],
        "points": {"available": 0, "pending": 0, "held": 0, "debt": 0},
    }
    assert Account.objects.filter(member=member).count() == 1


def test_put_again_updates_in_place(integration):
    integration.request("PUT", PATH.format("crm-42"), {"phone": "13900001111", "name": "王芳"})
    response = integration.request(
        "PUT", PATH.format("crm-42"), {"email": "Wang@Example.com", "name": "王芳芳"}
    )
    assert response.status_code == 200
    member = User.objects.get(external_id="crm-42")
    assert (member.phone, member.email, member.name) == (
        "13900001111",
        "wang@example.com",
        "王芳芳",
    )
    assert User.objects.count() == 1


def test_put_links_a_site_member_with_the_same_phone(integration, make_member):
    site = make_member(phone="13900002222")
    response = integration.request("PUT", PATH.format("crm-7"), {"phone": "13900002222"})
    assert response.status_code == 200
    site.refresh_from_db()
    assert site.external_id == "crm-7"
    assert User.objects.count() == 1


def test_put_with_a_phone_of_another_crm_member_is_409(integration, make_member):
    make_member(phone="13900003333", external_id="crm-1")
    integration.request("PUT", PATH.format("crm-2"), {"phone": "13900004444"})
    response = integration.request("PUT", PATH.format("crm-2"), {"phone": "13900003333"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_registered"
    assert User.objects.get(external_id="crm-2").phone == "13900004444"


@pytest.mark.parametrize(
    ("external_id", "body", "status"),
    [
        ("crm-1", {}, 422),  # neither phone nor e-mail for a new member
        ("crm-1", {"phone": "abc"}, 422),
        ("crm-1", {"phone": "13900001111", "gender": "x"}, 422),
        ("crm-1", {"phone": "13900001111", "birthday": "1990-13-01"}, 422),
        ("crm-1", {"phone": "13900001111", "extra": 1}, 422),
        ("crm-1", {"phone": 13900001111}, 422),
        ("bad id!", {"phone": "13900001111"}, 422),
    ],
)
def test_put_bad_input_changes_nothing(integration, external_id, body, status):
    response = integration.request("PUT", PATH.format(external_id), body)
    assert response.status_code == status
    assert "error" in response.json()
    assert User.objects.count() == 0


def test_get_returns_points(integration, make_member):
    member = make_member(external_id="crm-9")
    points_earn(member_id=member.pk, points=30, source="purchase", reference="a")
    response = integration.request("GET", PATH.format("crm-9"))
    assert response.status_code == 200
    assert response.json()["points"] == {"available": 30, "pending": 0, "held": 0, "debt": 0}


def test_get_unknown_member_is_404(integration):
    response = integration.request("GET", PATH.format("nobody"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"


def test_get_needs_a_signature(client, db):
    response = client.get(PATH.format("crm-9"))
    assert response.status_code == 401


def test_put_invalid_email_on_update_changes_nothing(integration):
    integration.request("PUT", PATH.format("crm-1"), {"phone": "13900001111"})
    response = integration.request("PUT", PATH.format("crm-1"), {"email": "not-an-email"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"email": "invalid"}
    assert User.objects.get(external_id="crm-1").email is None
