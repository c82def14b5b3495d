"""Member pages: /invite/, its QR images, the landing page, /invite/codes/."""

import pytest
from django.test import Client

from jifen.ledger.services import balances_of
from jifen.referrals import services
from jifen.referrals.alphabet import grouped
from jifen.referrals.models import Fingerprint, Referral
from jifen.referrals.views import DEVICE_COOKIE, INVITE_SESSION_KEY

pytestmark = pytest.mark.django_db


def test_invite_page_needs_a_login():
    response = Client().get("/invite/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_invite_page_shows_code_link_qr_and_results(referrer, invite_code, make_member, logged_in):
    services.referral_register(invitee=make_member(name="张三丰"), invite_code=invite_code)

    response = logged_in(referrer).get("/invite/")

    html = response.content.decode()
    assert response.status_code == 200
    assert invite_code in html
    assert f"http://testserver/invite/{invite_code}/" in html
    assert f'src="/invite/{invite_code}/qr.svg"' in html
    assert "*三丰" in html and "已奖励" in html and "+50" in html
    assert DEVICE_COOKIE in response.cookies
    assert Fingerprint.objects.filter(member=referrer, kind="ip").count() == 1


def test_qr_images_are_public(invite_code):
    client = Client()

    svg = client.get(f"/invite/{invite_code}/qr.svg")
    png = client.get(f"/invite/{invite_code.lower()}/qr.png")

    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<?xml") and b"<svg" in svg.content
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "attachment" in png["Content-Disposition"]
    assert client.get(f"/invite/{invite_code}/qr.gif").status_code == 404
    assert client.get("/invite/ZZZZZZZZ/qr.svg").status_code == 404


def test_landing_keeps_the_code_and_links_to_signup(referrer, invite_code):
    client = Client()

    response = client.get(f"/invite/{invite_code.lower()}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "*小明" in html and "50" in html
    assert f"/accounts/signup/?invite_code={invite_code}" in html
    assert client.session[INVITE_SESSION_KEY] == invite_code
    assert DEVICE_COOKIE in response.cookies


def test_landing_with_an_unknown_code(referrer):
    client = Client()
    response = client.get("/invite/ZZZZZZZZ/")
    assert response.status_code == 404
    assert "邀请链接无效" in response.content.decode()
    assert INVITE_SESSION_KEY not in client.session


def test_landing_for_a_member_says_they_are_one(referrer, invite_code, member, logged_in):
    response = logged_in(member).get(f"/invite/{invite_code}/")
    assert response.status_code == 200
    assert "你已经是会员" in response.content.decode()
    assert Referral.objects.count() == 0


def test_codes_page_prefills_a_scanned_code_without_redeeming(batch, member, logged_in):
    response = logged_in(member).get(f"/invite/codes/?code={batch.plain[0]}")

    assert response.status_code == 200
    assert grouped(batch.plain[0]) in response.content.decode()
    assert balances_of(member.pk)["available"] == 0


def test_codes_page_redeems_then_shows_the_result(batch, member, logged_in):
    client = logged_in(member)

    response = client.post("/invite/codes/", {"code": grouped(batch.plain[0])})

    assert response.status_code == 302 and response["Location"] == "/invite/codes/"
    page = client.get("/invite/codes/").content.decode()
    assert "获得 20 积分" in page and "春季瓶盖码" in page
    assert balances_of(member.pk)["available"] == 20


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("AAAAAAAAAAAAAAAA", "商品码不存在"),
        ("abc", "请输入 16 位商品码"),
        ("", "这个字段是必填项"),
    ],
)
def test_codes_page_errors(batch, member, logged_in, typed, message):
    response = logged_in(member).post("/invite/codes/", {"code": typed})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert balances_of(member.pk)["available"] == 0


def test_codes_page_used_code(batch, make_member, logged_in):
    other = make_member()
    logged_in(other).post("/invite/codes/", {"code": batch.plain[0]})
    member = make_member()

    response = logged_in(member).post("/invite/codes/", {"code": batch.plain[0]})

    assert response.status_code == 422
    assert "该商品码已被使用" in response.content.decode()
    assert balances_of(member.pk)["available"] == 0


def test_codes_page_rate_limited(batch, member, logged_in, settings):
    settings.JIFEN_CODE_MAX_FAILURES_PER_MEMBER = 1
    client = logged_in(member)
    client.post("/invite/codes/", {"code": "D" * 16})

    response = client.post("/invite/codes/", {"code": batch.plain[0]})

    assert response.status_code == 429
    assert "尝试次数过多" in response.content.decode()
    assert balances_of(member.pk)["available"] == 0


def test_invite_page_costs_the_same_queries_for_more_invitees(
    referrer, invite_code, make_member, logged_in
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(referrer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/invite/").status_code == 200
        return len(queries)

    services.referral_register(invitee=make_member(), invite_code=invite_code)
    one = count()
    for _ in range(5):
        services.referral_register(invitee=make_member(), invite_code=invite_code)

    assert count() == one
