import itertools

import pytest
from django.test import Client
from django.utils import timezone

from jifen.orders.models import Order
from jifen.shipping import services
from jifen.shipping.carriers import backend_for

_numbers = itertools.count(1)


@pytest.fixture
def carriers(db):
    sf = services.carrier_save(
        code="sf",
        name="顺丰速运",
        tracking_url_template="https://www.sf-express.com/chn/sc/waybill/list?no={number}",
        sort_order=1,
    )
    zto = services.carrier_save(code="zto", name="中通快递", sort_order=2)
    sandbox = services.carrier_save(code="sandbox", name="沙箱物流", is_sandbox=True, sort_order=9)
    return type("Carriers", (), {"sf": sf, "zto": zto, "sandbox": sandbox})


@pytest.fixture
def make_order(member):
    """An order row as checkout leaves it (orders' own services make the real ones; the
    shipping rules only read status and needs_shipping)."""

    def make(*, status=Order.Status.PAID, needs_shipping=True, owner=None) -> Order:
        n = next(_numbers)
        return Order.objects.create(
            number=f"J26120100{n:05d}",
            member=owner or member,
            status=status,
            needs_shipping=needs_shipping,
            paid_at=timezone.now() if status != Order.Status.PENDING_PAYMENT else None,
            ship_name="张三" if needs_shipping else "",
            ship_phone="13800001111" if needs_shipping else "",
            ship_region="上海市 浦东新区" if needs_shipping else "",
            ship_detail="世纪大道 100 号" if needs_shipping else "",
        )

    return make


@pytest.fixture
def order(make_order):
    return make_order()


@pytest.fixture
def signed():
    """(body bytes, headers) of a callback signed as `carrier` would sign it."""

    def make(carrier, body: bytes, *, timestamp=None, secret=None):
        headers = backend_for(carrier).signed_headers(
            carrier=carrier, body=body, timestamp=timestamp
        )
        if secret is not None:
            from jifen.shipping.carriers.base import SIGNATURE_HEADER, sign

            headers[SIGNATURE_HEADER] = sign(
                secret=secret, timestamp=headers["X-Carrier-Timestamp"], body=body
            )
        return headers

    return make


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    client = Client()
    client.force_login(user)
    client.user = user
    return client
