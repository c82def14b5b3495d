"""Back-office: rules are added and re-versioned through rule_save; the preview explains."""

from decimal import Decimal

import pytest
from django.urls import reverse

from jifen.integrations.services import api_client_create, event_process
from jifen.rules.models import Rule
from jifen.rules.services import rule_save


@pytest.fixture
def staff(admin_client):
    return admin_client


FORM = {
    "code": "base",
    "name": "基础积分",
    "kind": "base_rate",
    "priority": "0",
    "points": "1",
    "unit_amount": "1.00",
    "multiplier": "1.00",
    "min_amount": "0.00",
    "birthday_scope": "day",
    "cap_scope": "member",
    "cap_period": "day",
    "days": "0",
    "sample_amount": "100.00",
}


def test_list_shows_current_versions(staff, db):
    rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 2})
    response = staff.get(reverse("admin:rules_rule_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count("基础积分") >= 1
    assert list(response.context["cl"].queryset.values_list("version", flat=True)) == [2]
    everything = staff.get(reverse("admin:rules_rule_changelist") + "?all=1")
    assert everything.status_code == 200


def test_add_form_saves_through_the_service(staff, db):
    response = staff.post(reverse("admin:rules_rule_add"), FORM)
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.code, rule.version, rule.points, rule.valid_until) == ("base", 1, 1, None)


def test_add_form_shows_service_errors_and_saves_nothing(staff, db):
    response = staff.post(reverse("admin:rules_rule_add"), {**FORM, "points": "0"})
    assert response.status_code == 200
    assert Rule.objects.count() == 0


def test_new_version_form_is_prefilled_and_saves_version_2(staff, db):
    first = rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    page = staff.get(reverse("admin:rules_rule_add") + f"?from={first.pk}")
    assert page.status_code == 200
    assert page.context["adminform"].form.initial["code"] == "base"
    staff.post(reverse("admin:rules_rule_add"), {**FORM, "points": "3"})
    assert list(Rule.objects.order_by("version").values_list("version", "points")) == [
        (1, 1),
        (2, 3),
    ]


def test_draft_preview_saves_nothing(staff, db):
    rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    draft = {
        **FORM,
        "code": "double",
        "name": "双倍",
        "kind": "multiplier",
        "multiplier": "2.00",
        "_preview": "1",
    }
    response = staff.post(reverse("admin:rules_rule_add"), draft)
    assert response.status_code == 200
    assert response.context["award"].points == 200
    assert "双倍" in response.content.decode()
    assert Rule.objects.count() == 1


def test_preview_of_a_sample_purchase(staff, db):
    rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    rule_save(
        code="bonus",
        data={"name": "满100赠10", "kind": "threshold_bonus", "points": 10, "min_amount": "100"},
    )
    response = staff.post(
        reverse("admin:rules_rule_preview"), {"amount": "128.00", "lines": "", "store": ""}
    )
    assert response.status_code == 200
    award = response.context["award"]
    assert award.points == 138
    assert award.explanation == "消费 ¥128.00 × 1 积分/元 = 128; 满100赠10 +10 → 138"
    rows = {row["rule"].code: row["steps"] for row in response.context["rows"]}
    assert rows == {"base": ["消费 ¥128.00 × 1 积分/元 = 128"], "bonus": ["满100赠10 +10 → 138"]}


def test_preview_bad_lines_are_a_form_error(staff, db):
    response = staff.post(reverse("admin:rules_rule_preview"), {"amount": "1", "lines": "a,b"})
    assert response.status_code == 200
    assert response.context["award"] is None
    assert "lines" in response.context["form"].errors


def test_preview_of_a_real_purchase(staff, make_member):
    make_member(external_id="crm-1")
    rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    client, _secret = api_client_create(name="商城")
    event_process(
        client=client,
        raw={
            "event_id": "p",
            "type": "purchase",
            "order_id": "o",
            "amount": "50.00",
            "member": "crm-1",
        },
    )
    from jifen.integrations.models import Purchase

    purchase = Purchase.objects.get()
    response = staff.get(reverse("admin:rules_rule_preview") + f"?purchase={purchase.pk}")
    assert response.status_code == 200
    assert response.context["award"].points == 50
    assert purchase.amount == Decimal("50.00")


def test_retire_action(staff, db):
    rule = rule_save(code="base", data={"name": "基础积分", "kind": "base_rate", "points": 1})
    response = staff.post(reverse("admin:rules_rule_retire", args=[rule.pk]))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.valid_until is not None
