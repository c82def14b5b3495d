"""Member pages (cart, checkout, orders) and the back-office order pages."""

import re

import pytest
from django.test import Client

from jifen.orders import services
from jifen.orders.models import CartLine, Order, OrderEvent
from jifen.orders.tests.helpers import balance, events, fake_payment, fresh, stock

pytestmark = pytest.mark.django_db


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def test_item_page_has_the_redeem_bar(mall, rich, logged_in):
    page = logged_in(rich).get(f"/mall/items/{mall.earbuds.pk}/").content.decode()
    assert 'data-testid="add-to-cart"' in page and "加入购物车" in page and "立即兑换" in page
    assert 'action="/mall/cart/add/"' in page


def test_cart_to_checkout_to_order(mall, rich, logged_in):
    client = logged_in(rich)
    response = client.post("/mall/cart/add/", {"sku": mall.white.pk, "quantity": "1"})
    assert response.status_code == 302 and response["Location"] == "/mall/cart/"
    cart = client.get("/mall/cart/").content.decode()
    assert "无线蓝牙耳机" in cart and 'data-testid="cart-total"' in cart

    page = client.get("/mall/checkout/").content.decode()
    assert "张三" in page and "¥10.00" in page  # the default address, the shipping fee
    token = token_of(page)
    form = {
        "token": token,
        "from_cart": "1",
        "line": f"{mall.white.pk}:1",
        "address_id": str(rich.address.pk),
    }
    first = client.post("/mall/checkout/", form)
    second = client.post("/mall/checkout/", form)  # a double submit
    assert first.status_code == second.status_code == 302
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert order.status == "pending_payment"
    assert CartLine.objects.count() == 0
    assert balance(rich)["held"] == 5000

    detail = client.get(f"/mall/orders/{order.number}/").content.decode()
    assert order.number in detail and 'data-testid="pay"' in detail
    assert detail.count('data-testid="event"') == 1
    listing = client.get("/mall/orders/?status=pending_payment").content.decode()
    assert order.number in listing

    cancel = client.post(f"/mall/orders/{order.number}/cancel/")
    assert cancel.status_code == 302
    assert fresh(order).status == "cancelled"
    assert balance(rich) == {"available": 20000, "pending": 0, "held": 0}


def test_buy_now_goes_to_checkout_with_one_line(mall, rich, logged_in):
    client = logged_in(rich)
    response = client.post("/mall/cart/buy/", {"sku": mall.ebook_sku.pk, "quantity": "2"})
    assert response.status_code == 302
    assert response["Location"] == f"/mall/checkout/?sku={mall.ebook_sku.pk}&qty=2"
    page = client.get(response["Location"]).content.decode()
    assert "电子书月卡" in page and "收货地址" not in page
    placed = client.post(
        "/mall/checkout/", {"token": token_of(page), "line": f"{mall.ebook_sku.pk}:2"}
    )
    order = Order.objects.get()
    assert placed["Location"] == f"/mall/orders/{order.number}/"
    assert order.points_total == 600 and order.cash_total == 0
    assert balance(rich)["available"] == 19400


def test_checkout_errors_change_nothing(mall, rich, logged_in):
    client = logged_in(rich)
    response = client.post(
        "/mall/checkout/",
        {"token": "t", "line": f"{mall.mug_sku.pk}:5", "address_id": str(rich.address.pk)},
    )
    assert response.status_code == 400
    assert 'data-testid="checkout-error"' in response.content.decode()
    assert Order.objects.count() == 0 and stock(mall.mug_sku)["remaining"] == 3
    bad = client.post("/mall/checkout/", {"token": "t", "line": "x:y"})
    assert bad.status_code == 400 and Order.objects.count() == 0


def test_orders_of_others_are_404(mall, rich, logged_in, make_member):
    order = services.order_place(member_id=rich.pk, lines=[(mall.ebook_sku.pk, 1)])
    stranger = logged_in(make_member())
    assert stranger.get(f"/mall/orders/{order.number}/").status_code == 404
    assert stranger.post(f"/mall/orders/{order.number}/cancel/").status_code == 404


def test_confirm_receipt_and_change_address_pages(mall, rich, logged_in, settings):
    from jifen.members.services import address_create

    client = logged_in(rich)
    order = services.order_place(
        member_id=rich.pk, lines=[(mall.white.pk, 1)], address_id=rich.address.pk
    )
    other = address_create(
        member=rich,
        data={
            "recipient": "李四",
            "phone": "13900139000",
            "province": "北京市",
            "city": "北京市",
            "detail": "长安街 1 号",
        },
    )
    client.post(f"/mall/orders/{order.number}/address/", {"address_id": str(other.pk)})
    assert fresh(order).ship_name == "李四"
    services.order_payment_succeeded(fake_payment(order))
    services.order_transition(order_id=order.pk, to="shipped", actor_label="operator")
    client.post(f"/mall/orders/{order.number}/confirm/")
    assert fresh(order).status == "completed"
    assert events(order)[-1] == ("shipped", "completed", "member")


def test_anonymous_visitors_are_sent_to_log_in(client):
    for path in ("/mall/cart/", "/mall/checkout/", "/mall/orders/"):
        assert client.get(path).status_code == 302


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def test_admin_pages_and_cancel_action(mall, rich, boss):
    order = services.order_place(
        member_id=rich.pk, lines=[(mall.white.pk, 1)], address_id=rich.address.pk
    )
    for path in (
        "/admin/orders/order/",
        "/admin/orders/order/?status__exact=pending_payment",
        f"/admin/orders/order/?q={order.number}",
        f"/admin/orders/order/?q={rich.phone}",
        f"/admin/orders/order/{order.pk}/change/",
    ):
        assert boss.get(path).status_code == 200, path
    assert order.number in boss.get(f"/admin/orders/order/?q={rich.phone}").content.decode()
    response = boss.post(
        f"/admin/orders/order/{order.pk}/cancel_order/",
        {"reason": "缺货", "_form_submitted": "on"},
    )
    assert response.status_code == 302
    order = fresh(order)
    assert order.status == "cancelled" and order.cancel_reason == "缺货"
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.actor_id, event.reason) == (boss.user.pk, "缺货")
    assert balance(rich)["held"] == 0 and stock(mall.white)["remaining"] == 10


def test_the_timeline_reads_in_the_page_language(mall, rich, logged_in):
    from django.conf import settings

    order = services.order_place(member_id=rich.pk, lines=[(mall.ebook_sku.pk, 1)])
    client = logged_in(rich)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/mall/orders/{order.number}/").content.decode()
    assert "Order placed" in page
    assert "提交订单" not in page
