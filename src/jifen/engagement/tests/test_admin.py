"""Back-office: settings, tasks CRUD through the services, read-only history."""

import pytest

from jifen.engagement.models import Checkin, EngagementConfig, Task
from jifen.engagement.services import checkin_create, task_action_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    from jifen.members.services import member_register

    admin_user = member_register(
        email="root@example.com", password="Secret-pass-123", validate=False
    )
    django_user_model.objects.filter(pk=admin_user.pk).update(is_staff=True, is_superuser=True)
    admin_user.refresh_from_db()
    client.force_login(admin_user)
    return client


CONFIG_FORM = {
    "checkin_enabled": "on",
    "checkin_rewards": "[2, 4, 6]",
    "checkin_bonuses": '{"3": 10}',
    "weekend_factor": "1.5",
    "makeup_enabled": "on",
    "share_points": "3",
    "share_daily_cap": "2",
}


def test_settings_page_opens_the_one_row(staff_client):
    response = staff_client.get("/admin/engagement/engagementconfig/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/engagement/engagementconfig/1/change/"
    assert staff_client.get(response["Location"]).status_code == 200
    assert staff_client.get("/admin/engagement/engagementconfig/add/").status_code == 403


def test_settings_saved_through_the_service(staff_client):
    staff_client.get("/admin/engagement/engagementconfig/")

    response = staff_client.post("/admin/engagement/engagementconfig/1/change/", CONFIG_FORM)

    assert response.status_code == 302
    config = EngagementConfig.objects.get()
    assert config.checkin_rewards == [2, 4, 6]
    assert config.checkin_bonuses == {"3": 10}
    assert str(config.weekend_factor) == "1.50"
    assert (config.share_points, config.share_daily_cap) == (3, 2)
    assert config.updated_by.email == "root@example.com"


def test_bad_settings_are_form_errors(staff_client):
    staff_client.get("/admin/engagement/engagementconfig/")

    response = staff_client.post(
        "/admin/engagement/engagementconfig/1/change/",
        {**CONFIG_FORM, "checkin_rewards": "[1, -2]", "weekend_factor": "0.5"},
    )

    assert response.status_code == 200
    assert "须为 1 至 366 个" in response.content.decode()
    assert EngagementConfig.objects.get().checkin_rewards == [1, 2, 3, 4, 5, 6, 7]


TASK_FORM = {
    "code": "survey",
    "title": "填写问卷",
    "description": "",
    "evidence": "event",
    "action": "survey_completed",
    "required_details": "{}",
    "points": "10",
    "makeup_cards": "0",
    "period": "day",
    "cap": "1",
    "is_active": "on",
    "sort_order": "0",
}


def test_task_create_and_change(staff_client):
    created = staff_client.post("/admin/engagement/task/add/", TASK_FORM)
    task = Task.objects.get()
    changed = staff_client.post(
        f"/admin/engagement/task/{task.pk}/change/", {**TASK_FORM, "points": "25"}
    )

    assert created.status_code == 302 and changed.status_code == 302
    task.refresh_from_db()
    assert task.points == 25
    assert staff_client.get("/admin/engagement/task/").status_code == 200


def test_task_validation_in_the_form(staff_client):
    response = staff_client.post(
        "/admin/engagement/task/add/",
        {**TASK_FORM, "evidence": "profile_complete", "cap": "3"},
    )

    assert response.status_code == 200
    assert "会员操作类任务每周期只能完成 1 次。" in response.content.decode()
    assert not Task.objects.exists()


def test_completed_task_cannot_be_deleted(staff_client, member, make_task):
    task = make_task("survey")
    task_action_record(member_id=member.pk, action="survey_completed", reference="e1")

    response = staff_client.post(f"/admin/engagement/task/{task.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Task.objects.filter(pk=task.pk).exists()


def test_history_pages_are_read_only(staff_client, member, config):
    checkin = checkin_create(member_id=member.pk)
    for url in (
        "/admin/engagement/checkin/",
        f"/admin/engagement/checkin/{checkin.pk}/change/",
        f"/admin/engagement/checkin/?member={member.phone}",
        "/admin/engagement/taskcompletion/",
        "/admin/engagement/share/",
        "/admin/engagement/makeupcardgrant/",
        "/admin/engagement/memberengagement/",
    ):
        assert staff_client.get(url).status_code == 200, url
    assert staff_client.get("/admin/engagement/checkin/add/").status_code == 403
    response = staff_client.post(f"/admin/engagement/checkin/{checkin.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Checkin.objects.count() == 1


def test_operator_gives_makeup_cards_once_per_form(staff_client, member):
    from jifen.engagement.models import MakeupCardGrant, MemberEngagement

    form = staff_client.get("/admin/engagement/makeupcardgrant/add/")
    assert form.status_code == 200
    data = {
        "member": member.phone,
        "cards": "2",
        "reason": "客诉补偿",
        "reference": "0b6a8f7e-1f1e-4a7c-9a55-6f4b8f0e2c11",
    }

    first = staff_client.post("/admin/engagement/makeupcardgrant/add/", data)
    again = staff_client.post("/admin/engagement/makeupcardgrant/add/", data)
    unknown = staff_client.post(
        "/admin/engagement/makeupcardgrant/add/", {**data, "member": "13999999999"}
    )

    assert (first.status_code, again.status_code) == (302, 302)
    assert "找不到该会员。" in unknown.content.decode()
    grant = MakeupCardGrant.objects.get()
    assert (grant.cards, grant.reason) == (2, "客诉补偿")
    assert grant.granted_by.email == "root@example.com"
    assert MemberEngagement.objects.get(member=member).makeup_cards == 2
