"""Review m6: the carrier's is_sandbox flag cannot be switched from the back-office once the
carrier has shipments (a sandbox carrier lets staff simulate delivery of real parcels)."""

import pytest

from jifen.shipping import services
from jifen.shipping.models import Carrier

pytestmark = pytest.mark.django_db


def _post(boss, carrier, **changes):
    data = {
        "name": carrier.name,
        "tracking_url_template": carrier.tracking_url_template,
        "is_active": "on" if carrier.is_active else "",
        "sort_order": carrier.sort_order,
        **changes,
    }
    if data.get("is_sandbox") is False:
        del data["is_sandbox"]  # an unticked checkbox is not sent
    return boss.post(f"/admin/shipping/carrier/{carrier.pk}/change/", data)


def _ship(order, carrier, number="SF1234567890"):
    return services.shipment_create(
        order_id=order.pk, carrier_code=carrier.code, tracking_number=number
    )


def test_flag_is_editable_while_the_carrier_has_no_shipment(boss, carriers):
    page = boss.get(f"/admin/shipping/carrier/{carriers.zto.pk}/change/").content.decode()
    assert 'name="is_sandbox"' in page

    response = _post(boss, carriers.zto, is_sandbox="on")

    assert response.status_code == 302
    assert Carrier.objects.get(pk=carriers.zto.pk).is_sandbox is True


def test_real_carrier_with_shipments_cannot_become_a_sandbox(boss, carriers, order):
    _ship(order, carriers.sf)
    page = boss.get(f"/admin/shipping/carrier/{carriers.sf.pk}/change/").content.decode()
    assert 'name="is_sandbox"' not in page

    response = _post(boss, carriers.sf, is_sandbox="on", name="顺丰")

    assert response.status_code == 302
    sf = Carrier.objects.get(pk=carriers.sf.pk)
    assert (sf.is_sandbox, sf.name) == (False, "顺丰")  # the other fields still save


def test_sandbox_carrier_with_shipments_stays_a_sandbox(boss, carriers, order):
    _ship(order, carriers.sandbox, number="SBX0000000001")

    response = _post(boss, carriers.sandbox, is_sandbox=False, sort_order=3)

    assert response.status_code == 302
    sandbox = Carrier.objects.get(pk=carriers.sandbox.pk)
    assert (sandbox.is_sandbox, sandbox.sort_order) == (True, 3)


def test_add_page_offers_the_flag(boss, carriers):
    page = boss.get("/admin/shipping/carrier/add/").content.decode()
    assert 'name="is_sandbox"' in page


def test_carrier_save_refuses_to_switch_the_flag_once_it_has_shipments(carriers, make_order):
    from jifen.core.errors import Conflict

    _ship(make_order(), carriers.sf)
    before = Carrier.objects.values().get(pk=carriers.sf.pk)
    with pytest.raises(Conflict) as error:
        services.carrier_save(code="sf", name="顺丰速运", is_sandbox=True)
    assert error.value.code == "carrier_sandbox_locked"
    assert Carrier.objects.values().get(pk=carriers.sf.pk) == before
    # Other fields still change; the flag stays as it is.
    services.carrier_save(code="sf", name="顺丰", is_sandbox=False)
    assert Carrier.objects.get(pk=carriers.sf.pk).name == "顺丰"
