"""Manual adjustments in the back-office: requested and decided through the ledger services."""

import re
import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from jifen.backoffice.tests.factories import balances, ledger_state
from jifen.ledger.models import Adjustment, Transaction
from jifen.ledger.services import points_earn

pytestmark = pytest.mark.django_db

ADD = "admin:ledger_adjustment_add"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _request(client, **data):
    form = {"member": "", "points": "", "reason": "", "reference": str(uuid.uuid4())}
    form.update({k: str(v) for k, v in data.items()})
    return client.post(reverse(ADD), form)


def _approve(client, adjustment, action="approve"):
    return client.post(
        reverse(f"admin:ledger_adjustment_{action}", args=[adjustment.pk]),
        {"_form_submitted": "True"},
        headers={"HX-Request": "true"},
    )


def test_add_form_carries_a_fresh_reference(boss):
    first = boss.get(reverse(ADD)).content.decode()
    second = boss.get(reverse(ADD)).content.decode()
    pattern = r'name="reference" value="([0-9a-f-]{36})"'
    assert re.search(pattern, first).group(1) != re.search(pattern, second).group(1)


def test_member_page_links_to_a_prefilled_adjustment_form(boss, member):
    page = boss.get(reverse("admin:members_user_change", args=[member.pk])).content.decode()
    link = f"{reverse(ADD)}?member={member.member_number}"
    assert link in page

    form = boss.get(link).context["adminform"].form

    assert form.initial["member"] == member.member_number


def test_small_adjustment_is_applied_and_moves_points(boss, superuser, member):
    points_earn(member_id=member.pk, points=100, source="purchase", reference="o-1")

    response = _request(boss, member=member.phone, points=300, reason="客诉补偿")

    adjustment = Adjustment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:ledger_adjustment_change", args=[adjustment.pk])
    assert (adjustment.member, adjustment.points, adjustment.status) == (member, 300, "applied")
    assert adjustment.requested_by == superuser
    assert balances(member) == (400, 0, 0)
    txn = adjustment.transaction
    assert (txn.kind, txn.created_by, txn.explanation) == ("adjust", superuser, "客诉补偿")
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-300, 300]


def test_negative_adjustment_by_member_number_takes_points_away(boss, member):
    points_earn(member_id=member.pk, points=100, source="purchase", reference="o-1")

    _request(boss, member=member.member_number, points=-60, reason="误发")

    assert Adjustment.objects.get().status == "applied"
    assert balances(member) == (40, 0, 0)


def test_double_submit_adjusts_once(boss, member):
    reference = str(uuid.uuid4())
    for _ in range(2):
        _request(boss, member=member.phone, points=50, reason="补偿", reference=reference)

    assert Adjustment.objects.count() == 1
    assert balances(member) == (50, 0, 0)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": 0}, "points", "非零整数"),
        ({"points": "1.5"}, "points", ""),
        ({"points": "abc"}, "points", ""),
        ({"points": ""}, "points", ""),
        ({"reason": "   "}, "reason", ""),
        ({"member": "19900000000"}, "member", "找不到该会员"),
        ({"member": "nobody@example.com"}, "member", "找不到该会员"),
        ({"reference": "not-a-uuid"}, "reference", ""),
        ({"points": 10**12}, "points", "过大"),
        ({"points": -1000}, "__all__", "积分不足"),
    ],
)
def test_bad_requests_show_form_errors_and_change_nothing(boss, member, data, field, message):
    points_earn(member_id=member.pk, points=100, source="purchase", reference="o-1")
    before = ledger_state()
    form = {"member": member.phone, "points": 10, "reason": "补偿"}
    form.update(data)

    response = _request(boss, **form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert ledger_state() == before


def test_large_adjustment_waits_for_a_second_operator(
    boss, superuser, second_superuser, admin_client_for, member, settings
):
    settings.JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD = 10_000
    _request(boss, member=member.phone, points=20_000, reason="大客户补偿")
    adjustment = Adjustment.objects.get()
    assert adjustment.status == "pending_approval"
    assert balances(member) == (0, 0, 0)
    page = boss.get(reverse("admin:ledger_adjustment_change", args=[adjustment.pk]))
    assert b"/approve/" in page.content and b"/reject/" in page.content

    # The requester cannot approve their own request: the service says so, nothing moves.
    before = ledger_state()
    own = _approve(boss, adjustment)
    assert own.headers["HX-Redirect"] == reverse(
        "admin:ledger_adjustment_change", args=[adjustment.pk]
    )
    assert any("审批人不能是申请人" in m for m in _messages(own))
    assert ledger_state() == before

    # A second operator can.
    second = admin_client_for(second_superuser)
    response = _approve(second, adjustment)
    assert any("已批准" in m for m in _messages(response))
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by) == ("applied", second_superuser)
    assert balances(member) == (20_000, 0, 0)
    assert adjustment.transaction.created_by == second_superuser

    # Deciding again changes nothing, and the buttons are gone.
    before = ledger_state()
    again = _approve(second, adjustment, "reject")
    assert any("已处理" in m for m in _messages(again))
    assert ledger_state() == before
    page = second.get(reverse("admin:ledger_adjustment_change", args=[adjustment.pk]))
    assert b"/approve/" not in page.content


def test_decision_needs_a_post_with_the_dialog_form(
    boss, second_superuser, admin_client_for, member
):
    _request(boss, member=member.phone, points=50_000, reason="大额")
    adjustment = Adjustment.objects.get()
    second = admin_client_for(second_superuser)
    before = ledger_state()

    response = second.get(reverse("admin:ledger_adjustment_approve", args=[adjustment.pk]))

    assert response.status_code == 200  # the confirmation dialog, nothing decided
    assert b'id="dialog"' in response.content
    assert ledger_state() == before


def test_bulk_reject_by_a_second_operator(boss, second_superuser, admin_client_for, member):
    for points in (30_000, 40_000):
        _request(boss, member=member.phone, points=points, reason="大额")
    second = admin_client_for(second_superuser)

    second.post(
        reverse("admin:ledger_adjustment_changelist"),
        {
            "action": "reject_selected",
            ACTION_CHECKBOX_NAME: list(Adjustment.objects.values_list("pk", flat=True)),
        },
    )

    assert set(Adjustment.objects.values_list("status", flat=True)) == {"rejected"}
    assert not Transaction.objects.filter(kind="adjust").exists()
    assert balances(member) == (0, 0, 0)


def test_status_filter(boss, member):
    _request(boss, member=member.phone, points=5, reason="小额")
    _request(boss, member=member.phone, points=50_000, reason="大额")
    url = reverse("admin:ledger_adjustment_changelist")

    pending = boss.get(url, {"status__exact": "pending_approval"}).context["cl"].result_list
    applied = boss.get(url, {"status__exact": "applied"}).context["cl"].result_list

    assert [a.points for a in pending] == [50_000]
    assert [a.points for a in applied] == [5]


def test_operator_may_request_but_not_decide_without_the_permission(
    make_member, admin_client_for, member, boss
):
    clerk = make_member(email="clerk@example.com", phone=None, is_staff=True)
    group = Group.objects.create(name="客服")
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="ledger",
            codename__in=["add_adjustment", "view_adjustment"],
        )
    )
    clerk.groups.add(group)
    client = admin_client_for(clerk)

    _request(client, member=member.phone, points=60_000, reason="大额")
    adjustment = Adjustment.objects.get()
    assert adjustment.requested_by == clerk
    before = ledger_state()

    page = client.get(reverse("admin:ledger_adjustment_change", args=[adjustment.pk]))
    decide = _approve(client, adjustment)

    assert page.status_code == 200 and b"/approve/" not in page.content
    assert decide.status_code == 403
    assert ledger_state() == before
    # The boss (another operator, allowed to decide) approves it.
    _approve(boss, adjustment)
    assert balances(member) == (60_000, 0, 0)


def test_an_operator_without_permissions_cannot_adjust(operator, admin_client_for, member):
    client = admin_client_for(operator)
    before = ledger_state()

    response = _request(client, member=member.phone, points=10, reason="补偿")

    assert response.status_code == 403
    assert ledger_state() == before
