"""Events: purchases earn by the rules, duplicates replay, bad input changes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.integrations.models import CustomAction, Event, Purchase, Refund
from jifen.integrations.selectors import custom_actions
from jifen.ledger.models import Account, Transaction
from jifen.rules.services import rule_save


@pytest.fixture
def crm(make_member):
    return make_member(external_id="crm-1")


def purchase(event_id="p-1", order_id="o-1", amount="128.00", **extra):
    return {
        "event_id": event_id,
        "type": "purchase",
        "order_id": order_id,
        "amount": amount,
        "currency": "CNY",
        "member": {"external_id": "crm-1"},
        **extra,
    }


def wallet(member):
    return Account.objects.values("available", "pending", "held", "debt").get(member=member)


def test_purchase_earns_by_the_base_rate_and_is_recorded(integration, crm, base_rate):
    response = integration.post_events(purchase(store="SH01", channel="pos"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "processed"
    assert body["result"]["points"] == 128
    assert body["result"]["explanation"].startswith("消费 ¥128.00 × 1 积分/元 = 128")
    assert wallet(crm) == {"available": 128, "pending": 0, "held": 0, "debt": 0}
    record = Purchase.objects.get()
    assert (record.order_id, record.amount, record.points, record.store) == (
        "o-1",
        Decimal("128.00"),
        128,
        "SH01",
    )
    txn = Transaction.objects.get(kind="earn")
    assert txn.reference == f"int:{integration.obj.pk}:ev:p-1"
    assert record.earn_transaction == txn
    assert Event.objects.get().transaction == txn


def test_purchase_with_a_pending_period_waits(integration, crm, base_rate):
    rule_save(code="returns", data={"name": "退货期", "kind": "pending_period", "days": 7})
    response = integration.post_events(purchase())
    today = timezone.localdate()
    assert response.json()["result"]["pending_until"] == (today + dt.timedelta(days=7)).isoformat()
    assert wallet(crm) == {"available": 0, "pending": 128, "held": 0, "debt": 0}


def test_duplicate_delivery_replays_the_first_result(integration, crm, base_rate):
    first = integration.post_events(purchase()).json()
    for _ in range(4):
        again = integration.post_events(purchase())
        assert again.status_code == 200
        assert again.json()["status"] == "duplicate"
        assert again.json()["result"] == first["result"]
    assert wallet(crm)["available"] == 128
    assert Transaction.objects.filter(kind="earn").count() == 1


def test_event_id_reused_for_another_payload_is_a_conflict(integration, crm, base_rate):
    integration.post_events(purchase())
    response = integration.post_events(purchase(amount="999.00"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "event_id_reused"
    assert wallet(crm)["available"] == 128


def test_same_order_under_another_event_id_is_refused(integration, crm, base_rate):
    integration.post_events(purchase())
    response = integration.post_events(purchase(event_id="p-2"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_already_recorded"
    assert Event.objects.count() == 1
    assert wallet(crm)["available"] == 128


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-1.00", "must not be negative"),
        ("1e30", "too large"),
        ("10000000000.01", "too large"),
        ("abc", "decimal string required"),
        ("NaN", "decimal string required"),
        ("1.005", "at most 2 decimal places"),
        (True, "decimal string required"),
        (None, "decimal string required"),
        ([], "decimal string required"),
    ],
)
def test_bad_amounts_are_refused(integration, crm, base_rate, amount, message):
    response = integration.post_events(purchase(amount=amount))
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["amount"] == message
    assert Event.objects.count() == Purchase.objects.count() == 0
    assert wallet(crm)["available"] == 0


def test_bad_lines_and_time_are_refused(integration, crm, base_rate):
    response = integration.post_events(
        purchase(
            lines=[{"sku": "A", "quantity": 0, "amount": "1.00"}, "x"],
            occurred_at="2026-01-01T10:00:00",
            currency="USD",
        )
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {
        "lines.0.quantity": "integer 1–100000",
        "lines.1": "object",
        "occurred_at": "ISO 8601 with offset",
        "currency": "only CNY",
    }
    assert Event.objects.count() == 0


def test_lines_cannot_exceed_the_amount(integration, crm, base_rate):
    lines = [{"sku": "A", "category": "c", "quantity": 1, "amount": "200.00"}]
    response = integration.post_events(purchase(lines=lines))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"lines": "line amounts exceed the order amount"}


def test_future_purchase_is_refused(integration, crm, base_rate):
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    response = integration.post_events(purchase(occurred_at=later))
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"occurred_at": "in the future"}


def test_unknown_member_is_404_and_not_stored(integration, crm, base_rate):
    response = integration.post_events(purchase(member={"phone": "13999999999"}))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"
    assert Event.objects.count() == 0
    # Fixed and sent again under the same id, it is applied.
    assert integration.post_events(purchase()).json()["result"]["points"] == 128


def test_member_by_phone_or_member_number(integration, crm, base_rate):
    by_phone = integration.post_events(purchase(member={"phone": crm.phone}))
    by_number = integration.post_events(
        purchase(event_id="p-2", order_id="o-2", member={"member_number": crm.member_number})
    )
    assert by_phone.json()["result"]["points"] == by_number.json()["result"]["points"] == 128
    assert wallet(crm)["available"] == 256


def test_malformed_json_is_400(integration):
    response = integration.request("POST", "/api/v1/integration/events", raw=b'{"event_id": ')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_id": "x", "type": "lottery"}, "type"),
        ({"event_id": "has space", "type": "purchase"}, "event_id"),
        ({"event_id": "a" * 101, "type": "purchase"}, "event_id"),
        ({"events": []}, "events"),
        ({"events": "x"}, "events"),
    ],
)
def test_bad_events_are_422(integration, body, field):
    response = integration.post_events(body)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]
    assert Event.objects.count() == 0


def test_non_object_body_is_422(integration):
    response = integration.post_events([1, 2])
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"body": "object"}


def test_more_than_1000_events_are_refused(integration, crm, base_rate):
    events = [purchase(event_id=f"p-{i}", order_id=f"o-{i}") for i in range(1001)]
    response = integration.post_events({"events": events})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "too_many_events"
    assert Event.objects.count() == 0


def test_batch_applies_each_event_on_its_own(integration, crm, base_rate):
    events = [
        purchase(event_id="p-1", order_id="o-1", amount="10.00"),
        purchase(event_id="p-2", order_id="o-2", amount="-5"),
        purchase(event_id="p-1", order_id="o-1", amount="10.00"),
        {"event_id": "c-1", "type": "custom", "name": "survey_completed", "member": "crm-1"},
    ]
    body = integration.post_events({"events": events}).json()
    assert [item["status"] for item in body["results"]] == [
        "processed",
        "error",
        "duplicate",
        "processed",
    ]
    assert (body["processed"], body["duplicates"], body["errors"]) == (2, 1, 1)
    assert body["results"][1]["error"]["fields"] == {"amount": "must not be negative"}
    assert wallet(crm)["available"] == 10
    assert Event.objects.count() == 2


def test_batch_of_1000_events(integration, crm, base_rate):
    events = [purchase(event_id=f"p-{i}", order_id=f"o-{i}", amount="1.00") for i in range(1000)]
    body = integration.post_events({"events": events}).json()
    assert body["processed"] == 1000
    assert wallet(crm)["available"] == 1000


def test_event_result_can_be_read_back(integration, crm, base_rate):
    integration.post_events(purchase())
    response = integration.request("GET", "/api/v1/integration/events/p-1")
    assert response.status_code == 200
    assert response.json()["result"]["points"] == 128
    missing = integration.request("GET", "/api/v1/integration/events/nope")
    assert missing.status_code == 404


def test_another_clients_event_ids_are_separate(integration, crm, base_rate, client):
    from jifen.integrations.services import api_client_create, event_process

    integration.post_events(purchase())
    other, _secret = api_client_create(name="POS")
    result, duplicate = event_process(client=other, raw=purchase())
    assert (duplicate, result["points"]) == (False, 128)
    assert wallet(crm)["available"] == 256


# --- refunds -------------------------------------------------------------------------------------


def refund(event_id="r-1", order_id="o-1", amount=None):
    body = {"event_id": event_id, "type": "refund", "order_id": order_id}
    if amount is not None:
        body["amount"] = amount
    return body


def test_partial_refunds_reverse_points_proportionally(integration, crm, base_rate):
    integration.post_events(purchase(amount="100.00"))  # 100 points
    first = integration.post_events(refund(amount="33.33")).json()["result"]
    # keeps floor(100 × 66.67 / 100) = 66 → 34 back
    assert first["points_reversed"] == 34
    assert wallet(crm)["available"] == 66
    second = integration.post_events(refund(event_id="r-2", amount="33.33")).json()["result"]
    # keeps floor(100 × 33.34 / 100) = 33 → 33 more back
    assert second["points_reversed"] == 33
    rest = integration.post_events(refund(event_id="r-3")).json()["result"]
    assert rest["amount"] == "33.34"
    assert rest["points_reversed"] == 33
    assert wallet(crm)["available"] == 0
    record = Purchase.objects.get()
    assert (record.refunded_amount, record.points_reversed) == (Decimal("100.00"), 100)
    assert Refund.objects.count() == 3


def test_refund_beyond_the_purchase_is_refused(integration, crm, base_rate):
    integration.post_events(purchase(amount="100.00"))
    response = integration.post_events(refund(amount="100.01"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "refund_exceeds_purchase"
    assert wallet(crm)["available"] == 100
    assert Purchase.objects.get().refunded_amount == 0
    integration.post_events(refund(event_id="r-2"))
    again = integration.post_events(refund(event_id="r-3", amount="0.01"))
    assert again.json()["error"]["code"] == "refund_exceeds_purchase"


def test_refund_before_its_purchase_is_404_and_can_be_retried(integration, crm, base_rate):
    early = integration.post_events(refund())
    assert early.status_code == 404
    assert early.json()["error"]["code"] == "purchase_not_found"
    integration.post_events(purchase(amount="50.00"))
    later = integration.post_events(refund())
    assert later.json()["result"]["points_reversed"] == 50


def test_refund_duplicate_reverses_once(integration, crm, base_rate):
    integration.post_events(purchase(amount="50.00"))
    for _ in range(3):
        integration.post_events(refund(amount="10.00"))
    assert wallet(crm)["available"] == 40
    assert Refund.objects.count() == 1


def _spend(member, points):
    from jifen.ledger.services import points_spend

    points_spend(member_id=member.pk, points=points, purpose="mall", reference=f"spend-{points}")


def test_refund_after_spend_records_debt(integration, crm, base_rate, settings):
    settings.JIFEN_REFUND_SHORTFALL = "debt"
    integration.post_events(purchase(amount="100.00"))
    _spend(crm, 80)
    result = integration.post_events(refund()).json()["result"]
    assert (result["points_reversed"], result["debt"], result["forgiven"]) == (100, 80, 0)
    assert wallet(crm) == {"available": 0, "pending": 0, "held": 0, "debt": 80}
    # The next earning repays the debt first.
    integration.post_events(purchase(event_id="p-2", order_id="o-2", amount="100.00"))
    assert wallet(crm) == {"available": 20, "pending": 0, "held": 0, "debt": 0}


def test_refund_after_spend_takes_only_what_is_available(integration, crm, base_rate, settings):
    settings.JIFEN_REFUND_SHORTFALL = "available"
    integration.post_events(purchase(amount="100.00"))
    _spend(crm, 80)
    result = integration.post_events(refund()).json()["result"]
    assert (result["points_reversed"], result["debt"], result["forgiven"]) == (100, 0, 80)
    assert wallet(crm) == {"available": 0, "pending": 0, "held": 0, "debt": 0}


def test_refund_of_a_zero_point_purchase(integration, crm):
    integration.post_events(purchase(amount="100.00"))  # no rules: 0 points
    result = integration.post_events(refund()).json()["result"]
    assert (result["points_reversed"], result["reference"]) == (0, None)
    assert Purchase.objects.get().refunded_amount == Decimal("100.00")


# --- custom actions ------------------------------------------------------------------------------


def test_custom_actions_are_stored_for_other_apps(integration, crm):
    body = {
        "event_id": "c-1",
        "type": "custom",
        "name": "review_posted",
        "member": {"external_id": "crm-1"},
        "attributes": {"photo": True},
    }
    result = integration.post_events(body).json()["result"]
    action = CustomAction.objects.get()
    assert result == {
        "type": "custom",
        "name": "review_posted",
        "member_number": crm.member_number,
        "action_id": action.pk,
    }
    assert list(custom_actions(member_id=crm.pk, name="review_posted")) == [action]
    assert list(custom_actions(after_id=action.pk)) == []
    assert action.attributes == {"photo": True}


def test_bad_custom_action_is_refused(integration, crm):
    body = {"event_id": "c-1", "type": "custom", "name": "Bad Name", "member": "crm-1"}
    response = integration.post_events(body)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"name": "[a-z][a-z0-9_]{0,49}"}
    assert CustomAction.objects.count() == 0


def test_nul_anywhere_in_an_event_is_refused(integration, crm):
    body = {
        "event_id": "c-1",
        "type": "custom",
        "name": "shared",
        "member": "crm-1",
        "attributes": {"note": "a\x00b"},
    }
    response = integration.post_events(body)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"event": "NUL"}
    assert Event.objects.count() == 0


def test_too_large_a_body_is_413(integration, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = integration.post_events({"events": [{"event_id": "x" * 50}] * 50})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_refund_of_pending_points_takes_them_from_pending(integration, crm, base_rate):
    rule_save(code="returns", data={"name": "退货期", "kind": "pending_period", "days": 7})
    integration.post_events(purchase(amount="100.00"))
    integration.post_events(refund(amount="40.00"))
    assert wallet(crm) == {"available": 0, "pending": 60, "held": 0, "debt": 0}
