import re

import pytest
from django.urls import reverse

from jifen.ledger.models import Transaction
from jifen.ledger.selectors import points_summary


def available(member):
    return points_summary(member_id=member.pk)["available"]


def token_of(response):
    return re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)


def step_one(client, **data):
    data.setdefault("recipient", "13900000002")
    data.setdefault("points", 250)
    data.setdefault("note", "生日快乐")
    return client.post(reverse("web:transfer"), data)


def test_transfer_form_shows_available_points(alice_client):
    response = alice_client.get(reverse("web:transfer"))
    assert response.status_code == 200
    assert '<strong data-testid="available">2,000</strong>' in response.content.decode()


def test_confirmation_shows_masked_recipient_and_posts_nothing(alice_client, alice, bob):
    response = step_one(alice_client)

    html = response.content.decode()
    assert response.status_code == 200
    assert response.templates[0].name == "web/transfer_confirm.html"
    assert response.context["recipient"] == bob
    assert '<span data-testid="confirm-recipient">*华</span>' in html
    assert "李华" not in html
    assert "139****0002" in html
    assert '<span data-testid="after">1,750</span>' in html
    assert Transaction.objects.filter(kind="transfer").count() == 0
    assert available(alice) == 2000


@pytest.mark.parametrize("identifier", ["13900000002", "139-0000-0002", "member_number"])
def test_recipient_found_by_phone_or_member_number(alice_client, bob, identifier):
    if identifier == "member_number":
        identifier = bob.member_number
    response = step_one(alice_client, recipient=identifier)
    assert response.context["recipient"] == bob


def test_recipient_found_by_email(alice_client, make_member):
    carol = make_member(phone=None, email="Carol@Example.com", name="")
    response = step_one(alice_client, recipient="carol@example.com")
    assert response.context["recipient"] == carol
    assert '<span data-testid="confirm-recipient">ca***@example.com</span>' in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    "name, shown", [("王小明", "*小明"), ("Alice", "*lice"), ("李", "*"), ("", "139****0003")]
)
def test_recipient_name_is_masked(make_member, name, shown):
    from jifen.web.templatetags.jifen_web import masked_identity

    assert masked_identity(make_member(phone="13900000003", name=name)) == shown


def test_confirm_posts_once_and_shows_the_new_balance(alice_client, alice, bob):
    token = token_of(step_one(alice_client))

    first = alice_client.post(reverse("web:transfer_confirm"), {"token": token})
    again = alice_client.post(reverse("web:transfer_confirm"), {"token": token})  # double submit

    assert first.status_code == 302 and first.url == reverse("web:transfer_done")
    assert again.status_code == 302 and again.url == reverse("web:transfer_done")
    (txn,) = Transaction.objects.filter(kind="transfer")
    assert (txn.member_id, txn.counterparty_id, txn.details["note"]) == (
        alice.pk,
        bob.pk,
        "生日快乐",
    )
    assert txn.reference.startswith(f"web:transfer:{alice.pk}:")
    assert available(alice) == 1750
    assert available(bob) == 250
    done = alice_client.get(reverse("web:transfer_done"))
    html = done.content.decode()
    assert '<dd class="num" data-testid="new-balance">1,750</dd>' in html
    assert "已向 *华 转赠 250 积分" in html
    assert "转赠成功。" in html  # the flash message


def test_two_confirmations_are_two_transfers(alice_client, alice, bob):
    for _ in range(2):
        token = token_of(step_one(alice_client, points=100))
        alice_client.post(reverse("web:transfer_confirm"), {"token": token})
    assert Transaction.objects.filter(kind="transfer").count() == 2
    assert (available(alice), available(bob)) == (1800, 200)


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"recipient": "13911112222"}, "recipient", "找不到该会员，请检查手机号、邮箱或会员号。"),
        ({"recipient": "13900000001"}, "recipient", "不能转赠给自己。"),
        ({"points": 2001}, "points", "积分不足：可用 2,000 积分。"),
        ({"points": 5}, "points", "每次至少转赠 10 积分。"),
        ({"points": 0}, "points", None),
        ({"points": -5}, "points", None),
        ({"points": "1.5"}, "points", None),
        ({"points": "abc"}, "points", None),
        ({"points": "99999999999"}, "points", None),
        ({"recipient": ""}, "recipient", None),
        ({"note": "x" * 201}, "note", None),
    ],
)
def test_bad_transfer_input_is_a_form_error(alice_client, alice, bob, data, field, message):
    response = step_one(alice_client, **data)

    assert response.status_code == 422
    assert response.templates[0].name == "web/transfer.html"
    errors = response.context["form"].errors
    assert field in errors
    if message:
        assert errors[field] == [message]
        assert message in response.content.decode()
    assert Transaction.objects.filter(kind="transfer").count() == 0
    assert (available(alice), available(bob)) == (2000, 0)


def test_closed_recipient_is_unknown(alice_client, bob):
    type(bob).objects.filter(pk=bob.pk).update(is_active=False)
    response = step_one(alice_client)
    assert response.context["form"].errors["recipient"] == [
        "找不到该会员，请检查手机号、邮箱或会员号。"
    ]


def test_service_refusal_at_confirmation_is_shown_and_changes_nothing(
    alice_client, alice, bob, settings
):
    token = token_of(step_one(alice_client, points=300))
    settings.JIFEN_TRANSFER_DAILY_LIMIT = 200  # the limit changed while the page was open

    response = alice_client.post(reverse("web:transfer_confirm"), {"token": token})

    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == ["超过每日转赠上限 200 积分。"]
    assert response.context["form"]["recipient"].value() == "13900000002"
    assert Transaction.objects.filter(kind="transfer").count() == 0
    assert (available(alice), available(bob)) == (2000, 0)


def test_points_spent_meanwhile_give_insufficient_points(alice_client, alice, bob):
    from jifen.ledger.services import points_spend

    token = token_of(step_one(alice_client, points=1500))
    points_spend(member_id=alice.pk, points=1000, purpose="mall", reference="meanwhile")

    response = alice_client.post(reverse("web:transfer_confirm"), {"token": token})

    assert response.status_code == 422
    assert "积分不足。" in response.content.decode()
    assert (available(alice), available(bob)) == (1000, 0)


def test_unknown_token_is_refused(alice_client, alice, bob):
    token = token_of(step_one(alice_client, points=100))

    for bad in [token[:-2] + "xx", "", "garbage"]:
        response = alice_client.post(reverse("web:transfer_confirm"), {"token": bad})
        assert response.status_code == 302 and response.url == reverse("web:transfer")
    assert Transaction.objects.filter(kind="transfer").count() == 0
    assert (available(alice), available(bob)) == (2000, 0)


def test_confirmation_form_carries_only_a_random_token(alice_client, bob):
    html = step_one(alice_client).content.decode()
    start = html.index('action="/transfer/confirm/"')
    form = html[start : html.index("</form>", start)]
    assert re.findall(r'name="(\w+)"', form) == ["csrfmiddlewaretoken", "token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", token_of(step_one(alice_client)))
    assert "李华" not in html


def test_someone_elses_token_is_refused(client, alice, bob, earn):
    client.force_login(alice)
    token = token_of(step_one(client, points=100))
    earn(bob, 500)
    client.force_login(bob)

    response = client.post(reverse("web:transfer_confirm"), {"token": token})

    assert response.status_code == 302
    assert Transaction.objects.filter(kind="transfer").count() == 0
    assert (available(alice), available(bob)) == (2000, 500)


def test_expired_confirmation_is_refused(alice_client, alice, bob, monkeypatch):
    token = token_of(step_one(alice_client, points=100))
    monkeypatch.setattr("jifen.web.views.TRANSFER_TOKEN_MAX_AGE", -1)

    response = alice_client.post(
        reverse("web:transfer_confirm"), follow=True, data={"token": token}
    )

    assert "确认页面已过期，请重新填写。" in response.content.decode()
    assert available(alice) == 2000


def test_only_the_newest_confirmations_stay_open(alice_client, alice, bob):
    tokens = [token_of(step_one(alice_client, points=10)) for _ in range(6)]

    oldest = alice_client.post(reverse("web:transfer_confirm"), {"token": tokens[0]})
    newest = alice_client.post(reverse("web:transfer_confirm"), {"token": tokens[-1]})

    assert oldest.url == reverse("web:transfer")
    assert newest.url == reverse("web:transfer_done")
    assert (available(alice), available(bob)) == (1990, 10)


def test_confirm_needs_post_and_done_needs_a_transfer(alice_client):
    assert alice_client.get(reverse("web:transfer_confirm")).status_code == 405
    response = alice_client.get(reverse("web:transfer_done"))
    assert response.status_code == 302 and response.url == reverse("web:transfer")


def test_edit_from_the_confirmation_keeps_what_was_typed(alice_client, bob):
    confirm = step_one(alice_client, points=120, note="a&b")
    link = re.search(r'href="(/transfer/\?[^"]+)"', confirm.content.decode()).group(1)

    form = alice_client.get(link.replace("&amp;", "&")).context["form"]

    assert form["recipient"].value() == "13900000002"
    assert form["points"].value() == "120"
    assert form["note"].value() == "a&b"
    assert Transaction.objects.filter(kind="transfer").count() == 0
