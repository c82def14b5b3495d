"""Registration, login (password and one-time code), logout and password reset via allauth."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from jifen.ledger.models import Account
from jifen.members.models import User
from jifen.members.senders import ConsoleSender

from .conftest import PASSWORD

NEW_PASSWORD = "A-good-pass-2026"


@pytest.fixture(autouse=True)
def _empty_outboxes():
    ConsoleSender.outbox.clear()
    yield
    ConsoleSender.outbox.clear()


@pytest.fixture
def no_code(settings):
    """Development mode: registration without a one-time code."""
    settings.JIFEN_REGISTRATION_CODE_REQUIRED = False


def signup(client, **data):
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, **data}
    return client.post(reverse("account_signup"), data)


# --- registration ---------------------------------------------------------------------------


def test_signup_with_phone_creates_member_and_wallet_and_logs_in(client, db, no_code):
    response = signup(client, phone="137 0000 1111")

    assert response.status_code == 302 and response.url == reverse("web:home")
    user = User.objects.get(phone="13700001111")
    assert user.email is None
    assert re.fullmatch(r"[1-9]\d{9}", user.member_number)
    assert user.check_password(NEW_PASSWORD)
    wallet = Account.objects.get(member=user)
    assert (wallet.available, wallet.pending, wallet.held) == (0, 0, 0)
    home = client.get(reverse("web:home"))
    assert home.context["user"] == user


def test_signup_with_email_only(client, db, no_code):
    response = signup(client, email="New@Example.com")
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.phone is None
    assert Account.objects.filter(member=user).exists()


def test_two_email_only_signups_do_not_collide_on_blank_phone(client, db, no_code):
    signup(client, email="one@example.com")
    client.logout()
    signup(client, email="two@example.com")
    client.logout()
    signup(client, phone="13700002222")
    assert User.objects.filter(phone__isnull=True).count() == 2
    assert User.objects.filter(email__isnull=True).count() == 1


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "请填写手机号或邮箱。"),
        ({"phone": "12ab"}, "手机号格式不正确。"),
        ({"phone": "13700001111", "password2": "something-else"}, None),
        ({"phone": "13700001111", "password1": "123", "password2": "123"}, None),
        ({"email": "not-an-email"}, None),
    ],
)
def test_bad_signup_creates_nothing(client, db, no_code, data, message):
    response = signup(client, **data)
    assert response.status_code == 200
    assert not response.context["form"].is_valid()
    if message:
        assert message in response.content.decode()
    assert User.objects.count() == 0
    assert Account.objects.filter(kind="wallet").count() == 0


def test_signup_with_a_taken_phone_or_email_is_refused(client, alice, no_code):
    for data in [{"phone": "13900000001"}, {"email": "ALICE@example.com"}]:
        response = signup(client, **data)
        assert response.status_code == 200
        assert response.context["form"].errors
    assert User.objects.count() == 1


@pytest.fixture
def send_code(django_capture_on_commit_callbacks):
    """POST to the code view as htmx does; codes leave on commit, so run those callbacks."""

    def send(client, **data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("web:signup_code"), data, HTTP_HX_REQUEST="true")

    return send


def test_signup_with_the_code_sent_to_the_phone(client, db, send_code):
    response = send_code(client, phone="13700001111")
    assert response.status_code == 200
    assert "验证码已发送，10 分钟内有效。" in response.content.decode()
    ((recipient, message),) = ConsoleSender.outbox
    assert recipient == "13700001111"
    code = re.search(r"\d{6}", message).group(0)

    response = signup(client, phone="13700001111", code=code)

    assert response.status_code == 302
    user = User.objects.get(phone="13700001111")
    assert Account.objects.filter(member=user).exists()
    # The code is used up: it cannot register anyone else.
    client.logout()
    again = signup(client, phone="13700001111", email="x@example.com", code=code)
    assert again.status_code == 200 and User.objects.count() == 1


@pytest.mark.parametrize("code", ["", "000000", "abc"])
def test_signup_without_the_right_code_creates_nothing(client, db, send_code, code):
    send_code(client, phone="13700001111")
    if code == "000000" and code in ConsoleSender.outbox[0][1]:
        code = "000001"

    response = signup(client, phone="13700001111", code=code)

    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert User.objects.count() == 0


def test_a_code_for_another_phone_does_not_register(client, db, send_code):
    send_code(client, phone="13700001111")
    code = re.search(r"\d{6}", ConsoleSender.outbox[0][1]).group(0)
    response = signup(client, phone="13700002222", code=code)
    assert response.context["form"].errors["code"] == ["验证码错误或已失效。"]
    assert User.objects.count() == 0


def test_signup_code_refusals(client, alice, send_code):
    taken = send_code(client, phone="13900000001")
    assert "该手机号或邮箱已注册。" in taken.content.decode()
    empty = send_code(client)
    assert "请填写手机号或邮箱。" in empty.content.decode()
    first = send_code(client, phone="13700001111")
    too_soon = send_code(client, phone="13700001111")
    assert "验证码已发送" in first.content.decode()
    assert "验证码发送过于频繁，请稍后再试。" in too_soon.content.decode()
    assert [recipient for recipient, _message in ConsoleSender.outbox] == ["13700001111"]


def test_signup_code_without_javascript_redirects_back_with_a_message(client, db):
    response = client.post(reverse("web:signup_code"), {"phone": "13700001111"}, follow=True)
    assert response.redirect_chain == [(reverse("account_signup"), 302)]
    assert "验证码已发送，10 分钟内有效。" in response.content.decode()


def test_signup_page_asks_for_a_code_only_when_required(client, db, settings):
    assert "获取验证码" in client.get(reverse("account_signup")).content.decode()
    settings.JIFEN_REGISTRATION_CODE_REQUIRED = False
    assert "获取验证码" not in client.get(reverse("account_signup")).content.decode()


# --- password login -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login", ["13900000001", "alice@example.com", "ALICE@example.com", "number"]
)
def test_login_with_phone_email_or_member_number(client, alice, login):
    if login == "number":
        login = alice.member_number
    response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("web:home")
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_wrong_password_is_a_form_error(client, alice):
    response = client.post(reverse("account_login"), {"login": "13900000001", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_login_page_redirects_back_to_next(client, alice):
    response = client.post(
        reverse("account_login") + "?next=/points/",
        {"login": "13900000001", "password": PASSWORD, "next": "/points/"},
    )
    assert response.url == "/points/"


def test_logout_is_a_post(alice_client):
    page = alice_client.get(reverse("account_logout"))
    assert page.status_code == 200  # a confirmation page, still logged in
    assert "_auth_user_id" in alice_client.session
    response = alice_client.post(reverse("account_logout"))
    assert response.status_code == 302 and response.url == reverse("account_login")
    assert "_auth_user_id" not in alice_client.session


# --- login by one-time code -----------------------------------------------------------------


def test_login_by_code_sent_to_a_phone(client, alice):
    response = client.post(reverse("account_request_login_code"), {"phone": "13900000001"})
    assert response.status_code == 302 and response.url == reverse("account_confirm_login_code")
    ((recipient, message),) = ConsoleSender.outbox
    assert recipient == "13900000001"
    code = re.search(r"code: (\S+)", message).group(1)

    wrong = client.post(reverse("account_confirm_login_code"), {"code": "WRONG1"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_login_by_code_sent_by_email(client, alice):
    response = client.post(reverse("account_request_login_code"), {"email": "alice@example.com"})
    assert response.status_code == 302
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.com"]
    code = re.search(r"^([A-Z0-9-]{6,})$", sent.body, re.M).group(1)
    client.post(reverse("account_confirm_login_code"), {"code": code})
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_login_code_for_an_unknown_phone_is_refused(client, alice):
    response = client.post(reverse("account_request_login_code"), {"phone": "13011112222"})
    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert ConsoleSender.outbox == []


# --- password reset -------------------------------------------------------------------------


def test_password_reset_by_emailed_code(client, alice):
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.status_code == 302
    (sent,) = mail.outbox
    code = re.search(r"^([A-Z0-9-]{6,})$", sent.body, re.M).group(1)
    response = client.post(reverse("account_confirm_password_reset_code"), {"code": code})
    assert response.status_code == 302
    response = client.post(response.url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


# --- every allauth page renders with our templates ------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "account_login",
        "account_signup",
        "account_request_login_code",
        "account_reset_password",
        "account_inactive",
    ],
)
def test_entrance_pages_render(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert response.templates[0].name.endswith(".jifen.html")
    assert 'class="lang-switch"' in response.content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "account_change_password",
        "account_email",
        "account_logout",
        "account_reauthenticate",
        "account_change_phone",
    ],
)
def test_member_account_pages_render(alice_client, name):
    response = alice_client.get(reverse(name))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.templates[0].name.endswith(".jifen.html")


def test_change_password(alice_client, alice):
    response = alice_client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_signup_with_an_invite_code_links_the_referrer(client, member, no_code):
    from jifen.referrals.models import Referral
    from jifen.referrals.services import invite_code_ensure

    code = invite_code_ensure(member_id=member.pk).code
    page = client.get(reverse("account_signup") + f"?invite_code={code}")
    assert page.context["form"]["invite_code"].value() == code
    response = signup(client, phone="13700003333", invite_code=code)

    assert response.status_code == 302
    invitee = User.objects.get(phone="13700003333")
    referral = Referral.objects.get()
    assert (referral.referrer_id, referral.invitee_id) == (member.pk, invitee.pk)


def test_signup_with_an_unknown_invite_code_creates_nobody(client, member, no_code):
    before = User.objects.count()
    response = signup(client, phone="13700004444", invite_code="ZZZZ2345")

    assert response.status_code == 200
    assert response.context["form"].errors["invite_code"] == ["邀请码不存在，请核对后重新输入。"]
    assert User.objects.count() == before
