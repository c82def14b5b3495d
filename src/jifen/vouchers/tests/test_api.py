"""GET /me/vouchers, GET /me/vouchers/{id}, the shop's coupon redemption."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from jifen.integrations.tests.conftest import Signed
from jifen.vouchers import services
from jifen.vouchers.models import MemberVoucher

pytestmark = pytest.mark.django_db


def give(goods, member, item="coupon", quantity=1, reference="line:1"):
    item_obj = getattr(goods, item)
    sku = getattr(goods, f"{item}_sku")
    return services.vouchers_issue(
        member_id=member.pk,
        order_line_id=None,
        item_id=item_obj.pk,
        sku_id=sku.pk,
        quantity=quantity,
        reference=reference,
    )


def test_list_shape_and_filters(goods, member, bearer, make_member):
    (coupon,) = give(goods, member)
    (link,) = give(goods, member, item="ebook", reference="line:2")
    give(goods, make_member(), reference="someone-else")
    http = bearer(member)
    body = http.get("/api/v1/me/vouchers").json()
    assert body["count"] == 2
    assert [row["id"] for row in body["items"]] == [link.pk, coupon.pk]
    row = body["items"][1]
    assert row["valid_from"].endswith("+08:00")
    del row["valid_from"], row["valid_until"], row["created_at"]
    assert row == {
        "id": coupon.pk,
        "item_id": goods.coupon.pk,
        "sku_id": goods.coupon_sku.pk,
        "item_name": "全场 50 元优惠券",
        "kind": "coupon",
        "status": "unused",
        "code": coupon.code,
        "link": "",
        "value": "50.00",
        "threshold": "299.00",
        "currency": "CNY",
        "used_at": None,
        "order_line_id": None,
    }
    assert http.get("/api/v1/me/vouchers?kind=link").json()["count"] == 1
    assert http.get("/api/v1/me/vouchers?status=used").json()["count"] == 0
    assert http.get("/api/v1/me/vouchers?page_size=1&page=2").json()["items"][0]["id"] == coupon.pk


def test_past_validity_shows_expired_before_the_job(goods, member, bearer):
    (coupon,) = give(goods, member)
    MemberVoucher.objects.filter(pk=coupon.pk).update(
        valid_from=timezone.now() - dt.timedelta(days=2),
        valid_until=timezone.now() - dt.timedelta(days=1),
    )
    http = bearer(member)
    assert http.get("/api/v1/me/vouchers?status=unused").json()["count"] == 0
    body = http.get("/api/v1/me/vouchers?status=expired").json()
    assert [(r["id"], r["status"]) for r in body["items"]] == [(coupon.pk, "expired")]


@pytest.mark.parametrize("query", ["status=lost", "kind=car", "page=0", "page_size=101", "page=x"])
def test_bad_filters(member, bearer, query):
    response = bearer(member).get(f"/api/v1/me/vouchers?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_detail_is_mine_only(goods, member, bearer, make_member):
    (coupon,) = give(goods, member)
    assert bearer(member).get(f"/api/v1/me/vouchers/{coupon.pk}").json()["code"] == coupon.code
    other = bearer(make_member()).get(f"/api/v1/me/vouchers/{coupon.pk}")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "voucher_not_found"
    assert bearer(member).get("/api/v1/me/vouchers/0").status_code == 404
    assert bearer(member).get(f"/api/v1/me/vouchers/{2**63}").status_code in (404, 422)


def test_anonymous_is_401():
    assert Client().get("/api/v1/me/vouchers").status_code == 401


@pytest.fixture
def shop(db, client):
    from jifen.integrations.services import api_client_create

    obj, secret = api_client_create(name="官方商城")
    return Signed(http=client, key_id=obj.key_id, secret=secret, obj=obj)


def test_shop_checks_and_redeems_a_coupon(goods, member, shop):
    (coupon,) = give(goods, member)
    path = f"/api/v1/integration/coupons/{coupon.code.lower()}"
    body = shop.request("GET", path).json()
    assert (body["status"], body["value"], body["member_number"]) == (
        "unused",
        "50.00",
        member.member_number,
    )
    low = shop.request("POST", path + "/redeem", {"order_ref": "SO-1", "order_amount": "100.00"})
    assert low.status_code == 422
    assert low.json()["error"]["code"] == "below_threshold"
    assert MemberVoucher.objects.get(pk=coupon.pk).status == "unused"
    ok = shop.request(
        "POST", path + "/redeem", {"order_ref": "SO-1", "order_amount": "399.00", "note": "首单"}
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "used"
    voucher = MemberVoucher.objects.get(pk=coupon.pk)
    assert (voucher.status, voucher.used_note, voucher.used_reference) == (
        "used",
        "官方商城: SO-1 首单",
        "SO-1",
    )
    assert voucher.used_client_id == shop.obj.pk
    # A retry of the same redemption is a replay: the same answer, nothing changes.
    before = MemberVoucher.objects.values().get(pk=coupon.pk)
    again = shop.request("POST", path + "/redeem", {"order_ref": "SO-1", "order_amount": "399.00"})
    assert (again.status_code, again.json()) == (200, ok.json())
    assert MemberVoucher.objects.values().get(pk=coupon.pk) == before


def test_a_used_coupon_cannot_pay_for_a_second_order(goods, member, shop):
    """Review M2: redeeming with "shop order 1" then "shop order 2" answered 200 twice."""
    (coupon,) = give(goods, member)
    path = f"/api/v1/integration/coupons/{coupon.code}/redeem"
    first = shop.request("POST", path, {"order_ref": "shop order 1", "order_amount": "300.00"})
    assert first.status_code == 200
    before = MemberVoucher.objects.values().get(pk=coupon.pk)

    second = shop.request("POST", path, {"order_ref": "shop order 2", "order_amount": "300.00"})

    assert second.status_code == 409
    assert second.json()["error"]["code"] == "voucher_used"
    assert MemberVoucher.objects.values().get(pk=coupon.pk) == before
    assert before["used_reference"] == "shop order 1"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"order_amount": "399.00"}, "validation_error"),  # order_ref is required
        ({"order_ref": "", "order_amount": "399.00"}, "validation_error"),
        ({"order_ref": "   ", "order_amount": "399.00"}, "invalid_reference"),
        ({"order_ref": 12, "order_amount": "399.00"}, "validation_error"),
        ({"order_ref": "SO-1"}, "order_amount_required"),
        ({"order_ref": "SO-1", "order_amount": "1.001"}, "validation_error"),
    ],
)
def test_shop_redeem_bad_input_is_422_and_changes_nothing(goods, member, shop, payload, code):
    (coupon,) = give(goods, member)
    before = MemberVoucher.objects.values().get(pk=coupon.pk)

    response = shop.request("POST", f"/api/v1/integration/coupons/{coupon.code}/redeem", payload)

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == code
    assert MemberVoucher.objects.values().get(pk=coupon.pk) == before


def test_shop_errors(goods, member, shop, client):
    (coupon,) = give(goods, member)
    services.vouchers_revoke(reference="line:1", reason="退款")
    body = {"order_ref": "SO-1", "order_amount": "399.00"}
    revoked = shop.request("POST", f"/api/v1/integration/coupons/{coupon.code}/redeem", body)
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (409, "voucher_revoked")
    missing = shop.request("POST", "/api/v1/integration/coupons/NOPE/redeem", body)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "voucher_not_found")
    bad = shop.request(
        "POST", f"/api/v1/integration/coupons/{coupon.code}/redeem", {**body, "x": 1}
    )
    assert bad.status_code == 422
    unsigned = client.post(f"/api/v1/integration/coupons/{coupon.code}/redeem")
    assert unsigned.status_code == 401
