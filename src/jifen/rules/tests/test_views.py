"""The member page "赚积分"."""

import datetime as dt

import pytest
from django.urls import reverse

from jifen.integrations.services import api_client_create, event_process
from jifen.rules.selectors import earning_rules_for_members
from jifen.rules.services import rule_save

pytestmark = pytest.mark.urls("jifen.rules.tests.urls")


def test_rules_in_member_words(db):
    rule_save(code="base", data={"name": "消费积分", "kind": "base_rate", "points": 1})
    rule_save(
        code="bonus",
        data={"name": "满额赠", "kind": "threshold_bonus", "points": 10, "min_amount": "100"},
    )
    rule_save(
        code="weekend",
        data={"name": "周末双倍", "kind": "multiplier", "multiplier": "2", "weekdays": "6,7"},
    )
    rule_save(
        code="old",
        data={"name": "旧活动", "kind": "multiplier", "multiplier": "3", "ends_on": "2020-01-01"},
    )
    items = earning_rules_for_members(today=dt.date(2026, 11, 23))
    assert [(item["name"], item["text"], item["when"]) for item in items] == [
        ("消费积分", "每消费 1 元得 1 积分", ""),
        ("满额赠", "单笔满 100 元加赠 10 积分", ""),
        ("周末双倍", "积分 × 2", "周六、周日"),
    ]


def test_page_lists_rules_and_the_members_purchases(client, make_member):
    member = make_member(external_id="crm-1")
    rule_save(code="base", data={"name": "消费积分", "kind": "base_rate", "points": 1})
    api_client, _secret = api_client_create(name="商城")
    event_process(
        client=api_client,
        raw={
            "event_id": "p",
            "type": "purchase",
            "order_id": "A-1",
            "amount": "12.00",
            "member": "crm-1",
        },
    )
    client.force_login(member)
    response = client.get(reverse("rules:earn"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "每消费 1 元得 1 积分" in page
    assert "订单 A-1" in page
    assert "¥12.00" in page
    assert "消费 ¥12.00 × 1 积分/元 = 12" in page


def test_page_needs_login(client, db):
    response = client.get(reverse("rules:earn"))
    assert response.status_code == 302
