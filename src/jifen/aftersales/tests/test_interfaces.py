"""The after-sales API, member pages and back-office queue: thin, rendering the services."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from PIL import Image

from jifen.aftersales import services
from jifen.aftersales.models import AfterSale
from jifen.aftersales.tests.conftest import earn
from jifen.ledger.services import balances_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(member):
    earn(member, 10_000, "e1", dt.date(2099, 12, 31))
    return member


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def ask(order, kind="return_refund", **kw):
    return services.aftersale_request(
        member_id=order.member_id,
        order_number=order.number,
        kind=kind,
        lines=[{"order_line": line.pk, "quantity": line.quantity} for line in order.lines.all()],
        reason="quality",
        **kw,
    )


# --- API ----------------------------------------------------------------------------------------


def test_api_create_list_detail_cancel(rich, shop, make_order, bearer):
    order = make_order(rich, [(shop.mug_sku, 2)])
    line = order.lines.get()
    client = bearer(rich)
    body = {
        "order_number": order.number,
        "kind": "return_refund",
        "lines": [{"order_line": line.pk, "quantity": 1}],
        "reason": "damaged",
        "reason_text": "摔坏了",
    }
    response = client.post(
        "/api/v1/me/aftersales",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["points_to_refund"], data["cash_to_refund"]) == (
        "requested",
        500,
        "9.90",
    )
    assert data["lines"] == [
        {
            "order_line": line.pk,
            "item_name": "马克杯",
            "sku_label": "",
            "quantity": 1,
            "points": 500,
            "cash": "9.90",
        }
    ]
    assert [e["to_status"] for e in data["events"]] == ["requested"]
    again = client.post(
        "/api/v1/me/aftersales",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    assert again.json()["number"] == data["number"]
    assert AfterSale.objects.count() == 1

    listing = client.get("/api/v1/me/aftersales").json()
    assert (listing["count"], listing["items"][0]["number"]) == (1, data["number"])
    detail = client.get(f"/api/v1/me/aftersales/{data['number']}")
    assert detail.json()["order_number"] == order.number
    cancelled = client.post(f"/api/v1/me/aftersales/{data['number']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    refused = client.post(f"/api/v1/me/aftersales/{data['number']}/cancel")
    assert refused.status_code == 200  # a retry: unchanged


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"kind": "gift"}, 422, None),
        ({"lines": []}, 422, None),
        ({"lines": [{"order_line": 1, "quantity": "2"}]}, 422, None),
        ({"extra": 1}, 422, None),
        ({"order_number": "J0"}, 404, "order_not_found"),
        ({"qty": 5}, 422, "quantity_exceeds_available"),
        ({"qty": 0}, 422, "invalid_quantity"),
    ],
)
def test_api_refuses_bad_input(rich, shop, make_order, bearer, change, status, code):
    order = make_order(rich, [(shop.mug_sku, 2)])
    line = order.lines.get()
    body = {
        "order_number": order.number,
        "kind": "refund_only",
        "lines": [{"order_line": line.pk, "quantity": 1}],
        "reason": "other",
    }
    if "qty" in change:
        body["lines"][0]["quantity"] = change.pop("qty")
    body.update(change)
    response = bearer(rich).post("/api/v1/me/aftersales", body, content_type="application/json")
    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
    assert AfterSale.objects.count() == 0


def test_api_hides_other_members_aftersales(rich, shop, make_order, bearer, make_member):
    a = ask(make_order(rich, [(shop.mug_sku, 1)]))
    other = bearer(make_member())
    assert other.get(f"/api/v1/me/aftersales/{a.number}").status_code == 404
    assert other.post(f"/api/v1/me/aftersales/{a.number}/cancel").status_code == 404
    assert other.get("/api/v1/me/aftersales").json() == {"items": [], "count": 0}
    assert Client().get("/api/v1/me/aftersales").status_code == 401


# --- member pages -------------------------------------------------------------------------------


def test_order_block_shows_the_button_and_the_aftersales(rich, shop, make_order, logged_in):
    order = make_order(rich, [(shop.mug_sku, 2)])
    client = logged_in(rich)
    page = client.get(f"/mall/orders/{order.number}/").content.decode()
    assert 'data-testid="aftersale-request"' in page
    a = ask(order)
    page = client.get(f"/mall/orders/{order.number}/").content.decode()
    assert a.number in page and 'data-testid="aftersale-request"' not in page


def test_request_page_submits_with_photos(rich, shop, make_order, logged_in, media):
    order = make_order(rich, [(shop.mug_sku, 2)])
    line = order.lines.get()
    client = logged_in(rich)
    page = client.get(f"/mall/aftersales/new/{order.number}/")
    assert page.status_code == 200
    assert 'data-testid="aftersale-line"' in page.content.decode()
    photo = io.BytesIO(png())
    photo.name = "broken.png"
    response = client.post(
        f"/mall/aftersales/new/{order.number}/",
        {
            "token": "t1",
            "kind": "return_refund",
            "reason": "damaged",
            "reason_text": "盒子压坏",
            f"line_{line.pk}": "on",
            f"qty_{line.pk}": "1",
            "photos": [photo],
        },
    )
    a = AfterSale.objects.get()
    assert response.status_code == 302 and response.url == f"/mall/aftersales/{a.number}/"
    assert (a.lines.get().quantity, a.photos.count(), a.reason_text) == (1, 1, "盒子压坏")
    detail = client.get(response.url).content.decode()
    assert a.number in detail and "盒子压坏" in detail and a.photos.get().thumbnail.url in detail
    assert client.get("/mall/aftersales/").content.decode().count('data-testid="aftersale"') == 1


def test_request_page_shows_errors_and_changes_nothing(rich, shop, make_order, logged_in):
    order = make_order(rich, [(shop.mug_sku, 2)])
    line = order.lines.get()
    client = logged_in(rich)
    response = client.post(
        f"/mall/aftersales/new/{order.number}/",
        {
            "token": "t1",
            "kind": "refund_only",
            "reason": "other",
            f"line_{line.pk}": "on",
            f"qty_{line.pk}": "9",
        },
    )
    assert response.status_code == 200
    assert "最多可申请 2 件" in response.content.decode()
    response = client.post(
        f"/mall/aftersales/new/{order.number}/",
        {"token": "t2", "kind": "refund_only", "reason": "other"},
    )
    assert "请选择要售后的商品" in response.content.decode()
    assert AfterSale.objects.count() == 0
    assert client.get("/mall/aftersales/new/J000/").status_code == 404


def test_return_form_and_cancel_on_the_detail_page(rich, shop, make_order, logged_in, operator):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = ask(order)
    client = logged_in(rich)
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    page = client.get(f"/mall/aftersales/{a.number}/").content.decode()
    assert 'data-testid="return-form"' in page
    bad = client.post(
        f"/mall/aftersales/{a.number}/return/", {"carrier": "", "tracking_number": ""}
    )
    assert bad.status_code == 200
    ok = client.post(
        f"/mall/aftersales/{a.number}/return/", {"carrier": "顺丰", "tracking_number": "SF1"}
    )
    assert ok.status_code == 302
    a.refresh_from_db()
    assert (a.status, a.return_tracking_number) == ("awaiting_return", "SF1")
    client.post(f"/mall/aftersales/{a.number}/cancel/")
    a.refresh_from_db()
    assert a.status == "awaiting_return"  # too late to cancel: refused, unchanged


def test_pages_of_other_members_are_404(rich, shop, make_order, logged_in, make_member):
    a = ask(make_order(rich, [(shop.mug_sku, 1)]))
    other = logged_in(make_member())
    assert other.get(f"/mall/aftersales/{a.number}/").status_code == 404
    assert other.post(f"/mall/aftersales/{a.number}/cancel/").status_code == 404
    assert AfterSale.objects.get().status == "requested"


# --- back-office --------------------------------------------------------------------------------


def test_admin_queue_and_detail_render(rich, shop, make_order, boss, media):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = ask(order, photos=[(png(), "a.png")])
    for path in (
        "/admin/aftersales/aftersale/",
        "/admin/aftersales/aftersale/?status__exact=requested&kind__exact=return_refund",
        f"/admin/aftersales/aftersale/{a.pk}/change/",
    ):
        response = boss.get(path)
        assert response.status_code == 200, path
        assert a.photos.get().thumbnail.url in response.content.decode()
    detail = boss.get(f"/admin/aftersales/aftersale/{a.pk}/change/").content.decode()
    assert f"/admin/aftersales/aftersale/{a.pk}/approve/" in detail
    assert f"/admin/aftersales/aftersale/{a.pk}/reject/" in detail
    assert f"/admin/aftersales/aftersale/{a.pk}/refund_now/" not in detail
    assert "待审核" in detail


def test_admin_actions_go_through_the_services(rich, shop, make_order, boss, provider):
    order = make_order(rich, [(shop.mug_sku, 1)])
    a = ask(order)
    base = f"/admin/aftersales/aftersale/{a.pk}"
    response = boss.post(f"{base}/approve/", {"note": "同意", "_form_submitted": "on"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.status, a.decided_by_id, a.decision_note) == ("approved", boss.user.pk, "同意")
    boss.post(f"{base}/receive/")
    boss.post(f"{base}/refund_now/")
    a.refresh_from_db()
    assert a.status == "refunded"
    assert balances_of(rich.pk)["available"] == 10_000
    assert provider.calls == [(order.number, Decimal("9.90"), f"aftersale:{a.number}")]


def test_admin_reject_needs_a_note(rich, shop, make_order, boss):
    a = ask(make_order(rich, [(shop.mug_sku, 1)]))
    boss.post(f"/admin/aftersales/aftersale/{a.pk}/reject/", {"note": "", "_form_submitted": "on"})
    a.refresh_from_db()
    assert a.status == "requested"
    boss.post(
        f"/admin/aftersales/aftersale/{a.pk}/reject/", {"note": "已过保", "_form_submitted": "on"}
    )
    a.refresh_from_db()
    assert (a.status, a.decision_note) == ("rejected", "已过保")


def test_admin_exchange_ship(rich, shop, make_order, boss, operator):
    a = ask(make_order(rich, [(shop.mug_sku, 1)]), kind="exchange")
    services.aftersale_decide(aftersale_id=a.pk, approve=True, by=operator)
    services.aftersale_receive(aftersale_id=a.pk, by=operator)
    boss.post(
        f"/admin/aftersales/aftersale/{a.pk}/ship_exchange/",
        {"carrier": "顺丰", "tracking_number": "SF9", "_form_submitted": "on"},
    )
    a.refresh_from_db()
    assert (a.status, a.exchange_tracking_number) == ("exchanged", "SF9")
