"""Member pages: /engage/checkin/, /engage/tasks/, the share box."""

import datetime as dt

import pytest

from jifen.engagement.models import Checkin, Share, TaskCompletion
from jifen.engagement.services import makeup_cards_grant
from jifen.ledger.services import balances_of
from jifen.members.models import User

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_pages_need_login(client, db):
    for url in ("/engage/checkin/", "/engage/tasks/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert client.post("/engage/checkin/submit/").status_code == 302
    assert not Checkin.objects.exists()


def test_index_redirects_to_the_calendar(member_client):
    response = member_client.get("/engage/")
    assert (response.status_code, response["Location"]) == (302, "/engage/checkin/")


def test_calendar_page(member_client, member, at, config):
    at(2026, 11, 6, 9)  # Friday

    page = member_client.get("/engage/checkin/").content.decode()

    assert "每日签到" in page
    assert 'data-testid="checkin-button"' in page
    assert "+3 积分" not in page and "+1 积分" in page  # day 1 today
    assert "今天签到后，明天可得 4 积分" in page  # Saturday, day 2: 2 × 2
    assert page.count('class="cal-day') == 30


def test_checkin_with_htmx_swaps_the_panel(member_client, member, at, config):
    at(2026, 11, 2, 9)

    response = member_client.post("/engage/checkin/submit/", headers=HTMX)
    again = member_client.post("/engage/checkin/submit/", headers=HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith('<div id="checkin-panel"')
    assert "签到成功，获得 1 积分。" in body
    assert 'data-testid="checkin-done"' in body
    assert "明天签到可得 2 积分" in body
    assert again.status_code == 200
    assert "今天已经签到过了。" in again.content.decode()
    assert balances_of(member.pk)["available"] == 1


def test_checkin_without_javascript_redirects_with_a_message(member_client, member, at, config):
    at(2026, 11, 2, 9)

    response = member_client.post("/engage/checkin/submit/", follow=True)

    assert response.redirect_chain == [("/engage/checkin/", 302)]
    assert "签到成功，获得 1 积分。" in response.content.decode()


def test_makeup_from_the_calendar(member_client, member, at, config):
    User.objects.filter(pk=member.pk).update(date_joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    makeup_cards_grant(member_id=member.pk, cards=1, reference="gift")
    at(2026, 11, 3, 9)
    page = member_client.get("/engage/checkin/").content.decode()
    assert page.count('class="cal-cell cal-makeup"') == 2  # the 1st and the 2nd

    response = member_client.post("/engage/checkin/makeup/", {"day": "2026-11-02"}, headers=HTMX)
    bad = member_client.post("/engage/checkin/makeup/", {"day": "nope"}, headers=HTMX)

    assert "已补签 2026-11-02" in response.content.decode()
    assert "日期格式不正确。" in bad.content.decode()
    assert Checkin.objects.get(member=member).is_makeup is True


def test_task_center_and_claim(member_client, member, at, make_task):
    at(2026, 11, 2)
    make_task("phone", title="绑定手机", evidence="phone_bound", period="lifetime", points=20)
    make_task("profile", title="完善资料", evidence="profile_complete", period="lifetime")
    make_task("survey", title="填写问卷", cap=2)

    page = member_client.get("/engage/tasks/").content.decode()
    response = member_client.post("/engage/tasks/phone/claim/", headers=HTMX)
    locked = member_client.post("/engage/tasks/profile/claim/", headers=HTMX)

    assert "绑定手机" in page and "填写问卷" in page and "今日 0/2" in page
    assert "填写姓名、生日和性别后可领取" in page
    assert "领取成功：20 积分。" in response.content.decode()
    assert "已完成" in response.content.decode()
    assert "尚未满足任务条件。" in locked.content.decode()
    assert TaskCompletion.objects.count() == 1
    assert balances_of(member.pk)["available"] == 20


def test_share_box_posts_and_answers_with_itself(member_client, member, at, set_config):
    set_config(share_points=5, share_daily_cap=1)
    at(2026, 11, 2)
    page = member_client.get("/engage/tasks/").content.decode()
    assert 'data-testid="share-box"' in page

    first = member_client.post(
        "/engage/share/",
        {"target": "item:42", "channel": "link", "next": "/engage/tasks/"},
        headers=HTMX,
    ).content.decode()
    second = member_client.post(
        "/engage/share/", {"target": "item:43", "channel": "wechat"}, headers=HTMX
    ).content.decode()
    bad = member_client.post(
        "/engage/share/", {"target": "item:42", "channel": "qq"}, headers=HTMX
    ).content.decode()

    assert "分享成功，获得 5 积分。" in first
    assert 'value="http://testserver/engage/tasks/"' in first  # the link to copy
    assert "本次不加积分" in second
    assert "分享内容或渠道无效。" in bad
    assert Share.objects.count() == 2
    assert balances_of(member.pk)["available"] == 5


def test_share_without_javascript_goes_back_but_not_off_site(member_client, at, config):
    at(2026, 11, 2)
    back = member_client.post(
        "/engage/share/", {"target": "item:1", "channel": "weibo", "next": "/engage/checkin/"}
    )
    away = member_client.post(
        "/engage/share/",
        {"target": "item:2", "channel": "weibo", "next": "https://evil.example/"},
    )
    assert back["Location"] == "/engage/checkin/"
    assert away["Location"] == "/engage/tasks/"
