"""Members and operators' accounts in the back-office."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from jifen.backoffice.tests.factories import ledger_state
from jifen.ledger.models import Account
from jifen.members.models import User

pytestmark = pytest.mark.django_db

ADD = "admin:members_user_add"


def _add(client, **data):
    form = {
        "phone": "",
        "email": "",
        "name": "",
        "password1": "Long-enough-pass-42",
        "password2": "Long-enough-pass-42",
    }
    form.update(data)
    return client.post(reverse(ADD), form)


def _users():
    return list(User.objects.order_by("pk").values_list("pk", "phone", "email", "is_staff"))


def test_add_member_registers_with_a_wallet(boss):
    response = _add(boss, phone="139 0000 1234", name="新会员")

    user = User.objects.get(phone="13900001234")
    assert response.status_code == 302
    assert response.url == reverse("admin:members_user_change", args=[user.pk])
    assert (user.name, user.is_staff) == ("新会员", False)
    assert user.check_password("Long-enough-pass-42")
    wallet = Account.objects.get(member=user)
    assert (wallet.kind, wallet.available, wallet.pending, wallet.held) == ("wallet", 0, 0, 0)


def test_add_operator(boss):
    _add(boss, email="Ops@Example.com", is_staff="on")

    user = User.objects.get(email="ops@example.com")
    assert user.is_staff and not user.is_superuser


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"phone": "13800009999"}, "__all__", "已注册"),  # taken by `member`
        ({}, "phone", "手机号或邮箱"),
        ({"phone": "12ab"}, "phone", "手机号格式"),
        ({"email": "not-an-email"}, "email", ""),
        ({"phone": "13900001111", "password1": "123", "password2": "123"}, "password1", ""),
        ({"phone": "13900001111", "password2": "different-Pass-9"}, "password2", "不一致"),
    ],
)
def test_bad_member_forms_show_errors_and_create_nothing(boss, make_member, data, field, message):
    make_member(phone="13800009999")
    before = (_users(), ledger_state())

    response = _add(boss, **data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert (_users(), ledger_state()) == before


def _change_data(client, user, **changes) -> tuple[str, dict]:
    """The member's change form as the page renders it, with `changes` applied."""
    url = reverse("admin:members_user_change", args=[user.pk])
    form = client.get(url).context["adminform"].form
    skip = {"password", "date_joined", "last_login", "avatar", "closed_at"}
    data = {k: v for k, v in form.initial.items() if v is not None and k not in skip}
    data.update({"birthday": "", "gender": "", "external_id": "", "user_permissions": []})
    for flag in ("is_active", "is_staff", "is_superuser"):
        data[flag] = "on" if data.get(flag) else ""
    data["groups"] = [g.pk for g in user.groups.all()]
    data.update(
        {
            "addresses-TOTAL_FORMS": "0",
            "addresses-INITIAL_FORMS": "0",
            "addresses-MIN_NUM_FORMS": "0",
            "addresses-MAX_NUM_FORMS": "0",
        }
    )
    data.update(changes)
    return url, {k: v for k, v in data.items() if v != ""}


def test_edit_profile_and_operator_permissions(boss, member):
    group = Group.objects.create(name="客服")
    url, data = _change_data(
        boss,
        member,
        name="改名了",
        phone="138-0000-7777",
        email="Member@Example.com",
        is_staff="on",
        groups=[group.pk],
    )

    response = boss.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert (member.name, member.phone, member.email) == (
        "改名了",
        "13800007777",
        "member@example.com",
    )
    assert member.is_staff and list(member.groups.all()) == [group]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "TAKEN@example.com"}, "__all__"),  # case-insensitive unique e-mail
        ({"phone": "13811112222"}, "phone"),
        ({"phone": "12ab"}, "phone"),
    ],
)
def test_edit_refuses_taken_or_bad_logins(boss, member, make_member, changes, field):
    make_member(phone="13811112222", email="taken@example.com")
    url, data = _change_data(boss, member, **changes)
    before = _users()

    response = boss.post(url, data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert _users() == before


def test_password_change_uses_django_admin_form(boss, member):
    url = reverse("admin:auth_user_password_change", args=[member.pk])
    assert boss.get(url).status_code == 200

    response = boss.post(
        url,
        {
            "password1": "Brand-new-pass-77",
            "password2": "Brand-new-pass-77",
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("Brand-new-pass-77")


def test_members_are_never_deleted(boss, member):
    before = (_users(), ledger_state())

    response = boss.post(reverse("admin:members_user_delete", args=[member.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert (_users(), ledger_state()) == before


def test_operator_without_permission_sees_nothing(operator, admin_client_for, member):
    client = admin_client_for(operator)

    assert client.get(reverse("admin:members_user_changelist")).status_code == 403
    assert client.get(reverse("admin:ledger_transaction_changelist")).status_code == 403
    dashboard = client.get(reverse("admin:index"))
    assert dashboard.status_code == 200
    assert b'data-kpi="no-permission"' in dashboard.content
    assert b'data-kpi="outstanding"' not in dashboard.content


def test_view_only_operator_cannot_add_members(make_member, admin_client_for):
    clerk = make_member(email="clerk@example.com", phone=None, is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "add_user"]))
    client = admin_client_for(clerk)
    before = _users()

    response = _add(client, phone="13900002222")

    assert response.status_code == 403  # adding accounts needs the change permission too
    assert _users() == before
