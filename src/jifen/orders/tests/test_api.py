"""The orders and cart API: shapes, the Idempotency-Key, bad input (4xx, nothing changes)."""

import json

import pytest

from jifen.orders.models import CartLine, Order
from jifen.orders.tests.helpers import balance, snapshot, stock

pytestmark = pytest.mark.django_db


def post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def test_place_get_list_and_cancel(mall, rich, bearer):
    api = bearer(rich)
    response = post(
        api,
        "/api/v1/me/orders",
        {"lines": [{"sku": mall.white.pk, "quantity": 1}], "address_id": rich.address.pk},
        **{"Idempotency-Key": "k-1"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    number = body["number"]
    assert (body["status"], body["points_total"], body["cash_total"], body["currency"]) == (
        "pending_payment",
        5000,
        "19.90",
        "CNY",
    )
    assert (body["shipping_fee"], body["cash_subtotal"]) == ("10.00", "9.90")
    assert body["address"] == {
        "name": "张三",
        "phone": "13800138000",
        "region": "上海市 上海市 浦东新区",
        "detail": "世纪大道 100 号",
    }
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["events"]] == [
        ("", "pending_payment", "member")
    ]
    assert body["lines"][0]["sku"] == mall.white.pk and body["lines"][0]["quantity"] == 1

    detail = api.get(f"/api/v1/me/orders/{number}").json()
    assert detail["number"] == number and detail["events"] == body["events"]
    listing = api.get("/api/v1/me/orders?status=pending_payment").json()
    assert listing["count"] == 1 and listing["items"][0]["number"] == number
    assert api.get("/api/v1/me/orders?status=paid").json() == {"items": [], "count": 0}

    cancelled = post(api, f"/api/v1/me/orders/{number}/cancel", {"reason": "不要了"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "不要了"
    assert balance(rich) == {"available": 20000, "pending": 0, "held": 0}
    again = post(api, f"/api/v1/me/orders/{number}/cancel", {})
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_a_retried_post_makes_one_order(mall, rich, bearer):
    api = bearer(rich)
    body = {"lines": [{"sku": mall.ebook_sku.pk, "quantity": 1}]}
    first = post(api, "/api/v1/me/orders", body, **{"Idempotency-Key": "same"})
    second = post(api, "/api/v1/me/orders", body, **{"Idempotency-Key": "same"})
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] == second.json()["number"]
    assert Order.objects.count() == 1
    assert balance(rich)["available"] == 19700


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"lines": []}, 422, None),
        ({"lines": [{"sku": 1, "quantity": 0}]}, 422, None),
        ({"lines": [{"sku": 1, "quantity": -2}]}, 422, None),
        ({"lines": [{"sku": 1, "quantity": 1.5}]}, 422, None),
        ({"lines": [{"sku": 1, "quantity": "1"}]}, 422, None),
        ({"lines": [{"sku": 1, "quantity": 10**6}]}, 422, None),
        ({"lines": [{"sku": 999999, "quantity": 1}]}, 404, "sku_not_found"),
        ({"lines": [{"sku": 1}]}, 422, None),
        ({"lines": [{"sku": 1, "quantity": 1}], "extra": 1}, 422, None),
        ({}, 422, None),
    ],
)
def test_bad_orders_are_refused_and_change_nothing(mall, rich, bearer, body, status, code):
    before = snapshot(rich, mall.white)
    response = post(bearer(rich), "/api/v1/me/orders", body)
    assert response.status_code == status, response.content
    assert "error" in response.json()
    if code:
        assert response.json()["error"]["code"] == code
    assert snapshot(rich, mall.white) == before


def test_business_refusals(mall, rich, bearer, make_member):
    api = bearer(rich)
    line = {"sku": mall.white.pk, "quantity": 1}
    no_address = post(api, "/api/v1/me/orders", {"lines": [line]})
    assert no_address.status_code == 422
    assert no_address.json()["error"]["code"] == "address_required"
    over = post(
        api,
        "/api/v1/me/orders",
        {"lines": [{"sku": mall.mug_sku.pk, "quantity": 4}], "address_id": rich.address.pk},
    )
    assert over.status_code == 409 and over.json()["error"]["code"] == "out_of_stock"
    poor = make_member()
    broke = post(
        bearer(poor), "/api/v1/me/orders", {"lines": [{"sku": mall.ebook_sku.pk, "quantity": 1}]}
    )
    assert broke.status_code == 409 and broke.json()["error"]["code"] == "insufficient_points"
    assert Order.objects.count() == 0
    assert stock(mall.mug_sku)["remaining"] == 3


def test_other_members_orders_are_not_found(mall, rich, bearer, make_member):
    order = post(
        bearer(rich), "/api/v1/me/orders", {"lines": [{"sku": mall.ebook_sku.pk, "quantity": 1}]}
    ).json()
    stranger = bearer(make_member())
    assert stranger.get(f"/api/v1/me/orders/{order['number']}").status_code == 404
    response = post(stranger, f"/api/v1/me/orders/{order['number']}/cancel", {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"
    assert stranger.get("/api/v1/me/orders").json() == {"items": [], "count": 0}


def test_list_validation_and_auth(rich, bearer, client):
    api = bearer(rich)
    assert api.get("/api/v1/me/orders?status=nope").status_code == 422
    assert api.get("/api/v1/me/orders?page=0").status_code == 422
    assert api.get("/api/v1/me/orders?page_size=101").status_code == 422
    assert client.get("/api/v1/me/orders").status_code == 401
    assert client.get("/api/v1/me/cart").status_code == 401


def test_cart_endpoints(mall, rich, bearer, make_member):
    api = bearer(rich)
    added = post(api, "/api/v1/me/cart", {"sku": mall.white.pk, "quantity": 2})
    assert added.status_code == 201
    cart = added.json()
    assert (cart["count"], cart["points_total"], cart["cash_total"]) == (2, 10000, "19.80")
    line_id = cart["items"][0]["id"]
    too_many = post(api, "/api/v1/me/cart", {"sku": mall.white.pk, "quantity": 1})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "per_order_limit"
    updated = api.put(
        f"/api/v1/me/cart/{line_id}", json.dumps({"quantity": 1}), content_type="application/json"
    )
    assert updated.status_code == 200 and updated.json()["count"] == 1
    bad = api.put(
        f"/api/v1/me/cart/{line_id}", json.dumps({"quantity": 0}), content_type="application/json"
    )
    assert bad.status_code == 422
    stranger = bearer(make_member())
    assert stranger.delete(f"/api/v1/me/cart/{line_id}").status_code == 404
    assert stranger.delete(f"/api/v1/me/cart/{2**70}").status_code in (404, 422)
    assert CartLine.objects.get(pk=line_id).quantity == 1
    assert api.delete(f"/api/v1/me/cart/{line_id}").json()["count"] == 0
    assert post(api, "/api/v1/me/cart", {"sku": 999999}).status_code == 404


def test_detail_carries_the_payment_and_the_tracking_and_receipt_completes(
    mall, rich, bearer, operator, django_capture_on_commit_callbacks
):
    from jifen.payments.models import Payment
    from jifen.payments.services import sandbox_trade_confirm
    from jifen.shipping import services as shipping

    api = bearer(rich)
    body = post(
        api,
        "/api/v1/me/orders",
        {"lines": [{"sku": mall.white.pk, "quantity": 1}], "address_id": rich.address.pk},
    ).json()
    number = body["number"]
    payment = Payment.objects.get(purpose="order", reference=number)
    assert (body["payment_id"], body["shipment"], body["delivered_at"]) == (payment.pk, None, None)
    assert api.get(f"/api/v1/me/payments/{payment.pk}").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):  # the signed callback
        sandbox_trade_confirm(payment_number=payment.number)
    shipping.carrier_save(code="sandbox", name="沙箱物流", is_sandbox=True)
    order = Order.objects.get(number=number)
    shipment = shipping.shipment_create(
        order_id=order.pk, carrier_code="sandbox", tracking_number="SBX0001", by=operator
    )
    early = post(api, f"/api/v1/me/orders/{number}/confirm-receipt", {})
    assert early.status_code == 200 and early.json()["status"] == "completed"

    detail = api.get(f"/api/v1/me/orders/{number}").json()
    assert detail["payment_id"] == payment.pk
    tracking = detail["shipment"]
    assert (tracking["carrier"], tracking["tracking_number"], tracking["status"]) == (
        "沙箱物流",
        "SBX0001",
        "shipped",
    )
    assert [event["status"] for event in tracking["events"]] == ["shipped"]
    assert shipment.pk and detail["completed_at"] is not None


def test_confirm_receipt_before_shipment_is_refused(mall, rich, bearer):
    api = bearer(rich)
    number = post(
        api,
        "/api/v1/me/orders",
        {"lines": [{"sku": mall.mug_sku.pk, "quantity": 1}], "address_id": rich.address.pk},
    ).json()["number"]
    before = Order.objects.values("status", "completed_at").get(number=number)
    response = post(api, f"/api/v1/me/orders/{number}/confirm-receipt", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert Order.objects.values("status", "completed_at").get(number=number) == before
