"""Back-office: the review queue, the program, code batches and their CSV export."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from jifen.core import clock
from jifen.ledger.services import balances_of
from jifen.referrals import services
from jifen.referrals.alphabet import grouped
from jifen.referrals.codes_models import CodeBatch, ProductCode
from jifen.referrals.models import Referral
from jifen.referrals.selectors import referral_program

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def flagged(referrer, invite_code, make_member):
    services.fingerprint_record(member_id=referrer.pk, ip="10.1.1.1")
    invitee = make_member(name="李四")
    referral = services.referral_register(invitee=invitee, invite_code=invite_code, ip="10.1.1.1")
    assert referral.status == "review"
    return referral


def test_pages_render(boss, flagged, batch):
    for name, args in [
        ("admin:referrals_referral_changelist", []),
        ("admin:referrals_referral_change", [flagged.pk]),
        ("admin:referrals_invitecode_changelist", []),
        ("admin:referrals_codebatch_changelist", []),
        ("admin:referrals_codebatch_change", [batch.pk]),
        ("admin:referrals_codebatch_add", []),
        ("admin:referrals_productcode_changelist", []),
    ]:
        response = boss.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_review_queue_lists_flagged_with_reasons(boss, flagged):
    page = boss.get(reverse("admin:referrals_referral_changelist") + "?status__exact=review")
    html = page.content.decode()
    assert "与邀请人 IP 相同" in html and "待审核" in html


def test_approve_from_the_detail_page_pays_both(boss, flagged):
    response = boss.post(
        reverse("admin:referrals_referral_approve", args=[flagged.pk]),
        {"_form_submitted": "True"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert Referral.objects.get(pk=flagged.pk).status == "rewarded"
    assert balances_of(flagged.referrer_id)["available"] == 50
    assert balances_of(flagged.invitee_id)["available"] == 50
    assert any("已批准" in m for m in _messages(response))


def test_reject_in_bulk_then_approve_again_is_refused(boss, flagged):
    url = reverse("admin:referrals_referral_changelist")
    boss.post(url, {"action": "reject_selected", ACTION_CHECKBOX_NAME: [flagged.pk]})
    assert Referral.objects.get(pk=flagged.pk).status == "rejected"

    response = boss.post(url, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [flagged.pk]})

    assert any("不在待审核状态" in m for m in _messages(response))
    assert balances_of(flagged.referrer_id)["available"] == 0


def test_program_page_saves_through_the_service(boss):
    program = referral_program()
    url = reverse("admin:referrals_referralprogram_change", args=[program.pk])
    assert boss.get(reverse("admin:referrals_referralprogram_changelist"))["Location"] == url

    response = boss.post(
        url,
        {
            "enabled": "on",
            "referrer_points": "88",
            "invitee_points": "30",
            "trigger": "purchase",
            "monthly_cap": "5",
            "lifetime_cap": "50",
        },
    )

    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.referrer_points, program.invitee_points, program.trigger) == (
        88,
        30,
        "purchase",
    )


def test_program_page_refuses_bad_values(boss):
    program = referral_program()
    response = boss.post(
        reverse("admin:referrals_referralprogram_change", args=[program.pk]),
        {"referrer_points": "-3", "invitee_points": "x", "trigger": "register"},
    )
    assert response.status_code == 200
    program.refresh_from_db()
    assert (program.referrer_points, program.invitee_points) == (50, 50)


def test_generate_a_batch_from_the_add_page(boss):
    today = clock.business_date()
    response = boss.post(
        reverse("admin:referrals_codebatch_add"),
        {
            "name": "夏季促销",
            "points": "15",
            "quantity": "250",
            "valid_from": today.isoformat(),
            "valid_until": (today + dt.timedelta(days=60)).isoformat(),
        },
    )

    assert response.status_code == 302
    batch = CodeBatch.objects.get()
    assert (batch.name, batch.points, batch.quantity) == ("夏季促销", 15, 250)
    assert ProductCode.objects.filter(batch=batch).count() == 250


def test_bad_batch_is_refused_on_the_add_page(boss):
    response = boss.post(
        reverse("admin:referrals_codebatch_add"),
        {
            "name": "倒序日期",
            "points": "15",
            "quantity": "10",
            "valid_from": "2026-12-31",
            "valid_until": "2026-01-01",
        },
    )
    assert response.status_code == 200
    assert CodeBatch.objects.count() == 0 and ProductCode.objects.count() == 0


def test_export_csv_for_printing(boss, batch):
    response = boss.get(reverse("admin:referrals_codebatch_export_csv", args=[batch.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["batch", "serial", "code", "points", "valid_from", "valid_until", "url"]
    assert [row[2] for row in rows[1:]] == [grouped(code) for code in batch.plain]
    assert rows[1][6] == f"http://testserver/invite/codes/?code={batch.plain[0]}"


def test_export_needs_the_add_permission(make_member, batch):
    from django.contrib.auth.models import Permission

    viewer = make_member(email="viewer@example.com", phone=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_codebatch"))
    client = Client()
    client.force_login(viewer)

    response = client.get(reverse("admin:referrals_codebatch_export_csv", args=[batch.pk]))

    assert response.status_code in (302, 403)
    assert not response.get("Content-Type", "").startswith("text/csv")


def test_void_a_batch(boss, batch):
    boss.post(
        reverse("admin:referrals_codebatch_void", args=[batch.pk]),
        {"_form_submitted": "True"},
        headers={"HX-Request": "true"},
    )
    assert CodeBatch.objects.get(pk=batch.pk).is_void is True


def test_find_a_code_by_its_text(boss, batch):
    url = reverse("admin:referrals_productcode_changelist")
    found = boss.get(url, {"q": grouped(batch.plain[2]).lower()})
    assert list(found.context["cl"].result_list.values_list("serial", flat=True)) == [3]
    assert list(boss.get(url, {"q": "nope"}).context["cl"].result_list) == []


def test_batch_list_counts_redeemed_codes(boss, batch, member):
    from jifen.referrals.codes_services import code_redeem

    code_redeem(member_id=member.pk, code=batch.plain[1], ip="1.1.1.1")

    response = boss.get(reverse("admin:referrals_codebatch_changelist"))

    [row] = response.context["cl"].result_list
    assert (row.pk, row.quantity, row.redeemed) == (batch.pk, 3, 1)


def test_referral_list_costs_the_same_queries_for_more_rows(
    boss, referrer, invite_code, make_member
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:referrals_referral_changelist")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert boss.get(url).status_code == 200
        return len(queries)

    services.referral_register(invitee=make_member(), invite_code=invite_code)
    one = count()
    for _ in range(5):
        services.referral_register(invitee=make_member(), invite_code=invite_code)

    assert count() == one
