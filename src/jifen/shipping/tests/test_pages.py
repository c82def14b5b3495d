import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client

from jifen.orders.models import Order
from jifen.shipping import services
from jifen.shipping.models import BulkShipImport, Shipment

pytestmark = pytest.mark.django_db


# --- the member's tracking block --------------------------------------------------------------


def test_tracking_block_shows_carrier_number_and_timeline(carriers, order, operator):
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="sandbox", tracking_number="SBX000001", by=operator
    )
    services.shipment_simulate_progress(shipment_id=shipment.pk, inline=True)
    html = render_to_string("shipping/_order_tracking.html", {"order": order})
    assert 'data-testid="order-tracking"' in html
    assert "沙箱物流" in html
    assert 'value="SBX000001"' in html and "data-ship-copy" in html
    assert 'data-ship-status="in_transit"' in html
    # newest first
    assert html.index("快件已到达【上海转运中心】") < html.index("商家已发货")
    assert "shipping/shipping.css" in html


def test_tracking_block_before_shipping_and_for_virtual_orders(carriers, make_order):
    waiting = render_to_string("shipping/_order_tracking.html", {"order": make_order()})
    assert "商家正在备货" in waiting
    virtual = render_to_string(
        "shipping/_order_tracking.html", {"order": make_order(needs_shipping=False)}
    )
    assert virtual.strip() == ""


def test_tracking_block_links_to_the_carrier(carriers, order, operator):
    services.shipment_create(
        order_id=order.pk, carrier_code="sf", tracking_number="SF1234567890", by=operator
    )
    html = render_to_string("shipping/_order_tracking.html", {"order": order})
    assert "https://www.sf-express.com/chn/sc/waybill/list?no=SF1234567890" in html


# --- back-office ------------------------------------------------------------------------------


@pytest.fixture
def staff(operator):
    """An operator with the shipping permissions only (an operator role)."""
    from django.contrib.auth.models import Permission

    operator.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="shipping",
            codename__in=[
                "add_shipment",
                "view_shipment",
                "view_ordertoship",
                "view_carrier",
                "view_bulkshipimport",
            ],
        )
    )
    client = Client()
    client.force_login(operator)
    client.user = operator
    return client


def test_admin_pages_render(carriers, make_order, operator, boss):
    order, shipped = make_order(), make_order()
    shipment = services.shipment_create(
        order_id=shipped.pk, carrier_code="sandbox", tracking_number="SBX000001", by=operator
    )
    imported = services.shipments_import_csv(
        csv_text="order_number,carrier,tracking_number\nJX,sf,SF1111111111\n", by=operator
    )
    for path in (
        "/admin/shipping/ordertoship/",
        "/admin/shipping/ordertoship/bulk/",
        "/admin/shipping/shipment/",
        "/admin/shipping/shipment/?status__exact=shipped",
        f"/admin/shipping/shipment/?q={shipment.tracking_number}",
        f"/admin/shipping/shipment/{shipment.pk}/change/",
        "/admin/shipping/carrier/",
        "/admin/shipping/carrier/add/",
        f"/admin/shipping/carrier/{carriers.sf.pk}/change/",
        "/admin/shipping/bulkshipimport/",
        f"/admin/shipping/bulkshipimport/{imported.pk}/change/",
    ):
        response = boss.get(path)
        assert response.status_code == 200, path
    to_ship = boss.get("/admin/shipping/ordertoship/").content.decode()
    assert order.number in to_ship and shipped.number not in to_ship
    detail = boss.get(f"/admin/shipping/shipment/{shipment.pk}/change/").content.decode()
    assert "模拟物流进度" in detail and "商家已发货" in detail
    carrier_page = boss.get(f"/admin/shipping/carrier/{carriers.sf.pk}/change/").content.decode()
    assert carriers.sf.callback_secret() in carrier_page
    assert "/shipping/callback/sf/" in carrier_page


def test_operator_with_shipping_role_ships_from_the_dialog(carriers, order, staff):
    page = staff.get("/admin/shipping/ordertoship/")
    assert page.status_code == 200 and order.number in page.content.decode()
    dialog = staff.get(f"/admin/shipping/ordertoship/{order.pk}/ship/")
    assert dialog.status_code == 200 and "顺丰速运" in dialog.content.decode()
    response = staff.post(
        f"/admin/shipping/ordertoship/{order.pk}/ship/",
        {"carrier": "sf", "tracking_number": "SF1234567890", "_form_submitted": "on"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "shipped"
    shipment = Shipment.objects.get()
    assert (shipment.tracking_number, shipment.shipped_by_id) == ("SF1234567890", staff.user.pk)
    # A second ship of the same order with another number: an error message, nothing changes.
    staff.post(
        f"/admin/shipping/ordertoship/{order.pk}/ship/",
        {"carrier": "sf", "tracking_number": "SF000000001", "_form_submitted": "on"},
    )
    assert list(Shipment.objects.values_list("tracking_number", flat=True)) == ["SF1234567890"]
    # The carrier secret is for those who may edit carriers.
    carrier_page = staff.get(f"/admin/shipping/carrier/{carriers.sf.pk}/change/").content.decode()
    assert carriers.sf.callback_secret() not in carrier_page


def test_members_cannot_open_the_shipping_admin(carriers, order, member):
    client = Client()
    client.force_login(member)
    assert client.get("/admin/shipping/ordertoship/").status_code == 302
    assert (
        client.post(
            f"/admin/shipping/ordertoship/{order.pk}/ship/",
            {"carrier": "sf", "tracking_number": "SF1234567890", "_form_submitted": "on"},
        ).status_code
        == 302
    )
    order.refresh_from_db()
    assert order.status == "paid"


def test_bulk_upload_page(carriers, make_order, staff):
    first, second = make_order(), make_order(status="pending_payment")
    csv_bytes = (
        "order_number,carrier,tracking_number\n"
        f"{first.number},sf,SF1111111111\n{second.number},zto,ZT2222222222\n"
    ).encode("gb18030")
    response = staff.post(
        "/admin/shipping/ordertoship/bulk/",
        {"file": SimpleUploadedFile("发货.csv", csv_bytes, content_type="text/csv")},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-outcome="shipped"' in page and 'data-outcome="failed"' in page
    assert "order_not_shippable" in page
    assert dict(Order.objects.values_list("number", "status")) == {
        first.number: "shipped",
        second.number: "pending_payment",
    }
    result = BulkShipImport.objects.get()
    assert (result.filename, result.rows_ok, result.rows_failed) == ("发货.csv", 1, 1)
    # Nothing to import: a form error, nothing recorded.
    empty = staff.post("/admin/shipping/ordertoship/bulk/", {"text": ""})
    assert "请上传 CSV 文件或粘贴内容" in empty.content.decode()
    bad = staff.post("/admin/shipping/ordertoship/bulk/", {"text": "a,b,c\n1,2,3\n"})
    assert 'data-bulk="error"' in bad.content.decode()
    assert BulkShipImport.objects.count() == 1
    template = staff.get("/admin/shipping/ordertoship/bulk/template.csv")
    assert template["Content-Type"].startswith("text/csv")
    assert template.content.decode("utf-8-sig").startswith("order_number,carrier,tracking_number")


@pytest.fixture
def eager():
    """Tasks inline, as without a broker (with REDIS_URL they would wait for a worker)."""
    from jifen.config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_simulate_action_on_the_shipment_page(carriers, order, operator, staff, eager):
    shipment = services.shipment_create(
        order_id=order.pk, carrier_code="sandbox", tracking_number="SBX000001", by=operator
    )
    for _step in range(3):
        response = staff.post(f"/admin/shipping/shipment/{shipment.pk}/simulate_progress/")
        assert response.status_code == 302
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, order.status) == ("delivered", "delivered")
    assert shipment.events.count() == 4


def test_carrier_add_goes_through_the_service(boss):
    response = boss.post(
        "/admin/shipping/carrier/add/",
        {
            "code": "jd",
            "name": "京东物流",
            "tracking_url_template": "https://www.jdl.com/#/?waybill={number}",
            "is_active": "on",
            "sort_order": "3",
        },
    )
    assert response.status_code == 302
    from jifen.shipping.models import Carrier

    carrier = Carrier.objects.get(code="jd")
    assert (carrier.name, carrier.is_sandbox, carrier.sort_order) == ("京东物流", False, 3)
    assert len(carrier.salt) == 32
