"""Points as cash in the enterprise's checkout: quote, hold, capture, release, expiry."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from jifen.integrations.holds.selectors import points_cash_quote
from jifen.integrations.holds.services import (
    integration_hold_capture,
    integration_hold_create,
    integration_hold_release,
    integration_holds_expire,
)
from jifen.integrations.models import IntegrationHold
from jifen.integrations.services import api_client_create
from jifen.integrations.tasks import integration_holds_expire_task
from jifen.ledger.models import Account, Entry, Hold, Lot, Transaction
from jifen.ledger.selectors import points_history
from jifen.ledger.services import points_earn

HOLDS = "/api/v1/integration/holds"
QUOTE = "/api/v1/integration/members/{}/points-cash-quote?order_amount={}"


@pytest.fixture
def shopper(make_member):
    member = make_member(external_id="crm-1")
    points_earn(member_id=member.pk, points=5000, source="test", reference="seed-1")
    return member


def _wallet(member):
    return Account.objects.values("available", "pending", "held").get(member=member)


def _state(member):
    """Everything a refused call must leave as it was."""
    return {
        "wallet": _wallet(member),
        "holds": list(IntegrationHold.objects.values_list("pk", "status", "points")),
        "ledger_holds": list(Hold.objects.values_list("pk", "status")),
        "transactions": Transaction.objects.count(),
        "lots": list(Lot.objects.values_list("pk", "remaining")),
    }


def _body(order_id="123", points=500, amount="100.00", member="crm-1", **extra):
    return {"member": member, "order_id": order_id, "order_amount": amount, "points": points}


def _create(client, **kwargs):
    return integration_hold_create(client=client, raw=_body(**kwargs))


# --- the quote ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "amount", "max_points", "cash"),
    [
        (5000, "99.99", 1999, "19.99"),  # share: floor(99.99 × 0.20 × 100)
        (5000, "100.00", 2000, "20.00"),
        (1234, "1000.00", 1234, "12.34"),  # the balance is the limit
        (5000, "4.99", 0, "0.00"),  # share allows 99 < minimum 100
        (5000, "5.00", 100, "1.00"),  # exactly the minimum
        (99, "1000.00", 0, "0.00"),  # balance below the minimum
        (5000, "0.01", 0, "0.00"),
    ],
)
def test_quote_is_the_least_of_balance_and_share_and_zero_below_the_minimum(
    make_member, balance, amount, max_points, cash
):
    member = make_member()
    points_earn(member_id=member.pk, points=balance, source="test", reference="seed")
    quote = points_cash_quote(member_id=member.pk, order_amount=Decimal(amount))
    assert (quote.available, quote.max_points, quote.cash_value) == (
        balance,
        max_points,
        Decimal(cash),
    )


def test_quote_follows_the_settings_and_keeps_cash_exact(make_member, settings):
    settings.JIFEN_POINTS_PER_YUAN = 1000  # 10 积分 = ¥0.01: points come in tens
    settings.JIFEN_POINTS_CASH_MAX_SHARE = "0.5"
    settings.JIFEN_POINTS_CASH_MIN_POINTS = 10
    member = make_member()
    points_earn(member_id=member.pk, points=12345, source="test", reference="seed")
    quote = points_cash_quote(member_id=member.pk, order_amount=Decimal("100.00"))
    assert (quote.max_points, quote.cash_value) == (12340, Decimal("12.34"))
    quote = points_cash_quote(member_id=member.pk, order_amount=Decimal("0.03"))
    assert (quote.max_points, quote.cash_value) == (10, Decimal("0.01"))  # 15 → 10
    settings.JIFEN_POINTS_PER_YUAN = 30  # 3 积分 = ¥0.10
    quote = points_cash_quote(member_id=member.pk, order_amount=Decimal("10.01"))
    assert (quote.max_points, quote.cash_value) == (150, Decimal("5.00"))  # 150.15 → 150


def test_quote_api(integration, shopper):
    response = integration.request("GET", QUOTE.format("crm-1", "99.99"))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "member": "crm-1",
        "order_amount": "99.99",
        "currency": "CNY",
        "available": 5000,
        "max_points": 1999,
        "cash_value": "19.99",
        "points_per_yuan": 100,
        "max_share": "0.20",
        "min_points": 100,
    }


@pytest.mark.parametrize(
    ("external_id", "amount", "status", "code"),
    [
        ("crm-1", "-1", 422, "invalid_hold"),
        ("crm-1", "0", 422, "invalid_hold"),
        ("crm-1", "1.001", 422, "invalid_hold"),
        ("crm-1", "abc", 422, "invalid_hold"),
        ("crm-1", "NaN", 422, "invalid_hold"),
        ("nobody", "10.00", 404, "member_not_found"),
    ],
)
def test_quote_api_refuses_bad_input(integration, shopper, external_id, amount, status, code):
    response = integration.request("GET", QUOTE.format(external_id, amount))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


# --- creating a hold ------------------------------------------------------------------------


def test_create_holds_points_through_the_ledger(integration, shopper):
    before = timezone.now()
    response = integration.request("POST", HOLDS, _body())
    assert response.status_code == 201, response.content
    data = response.json()
    hold = IntegrationHold.objects.get()
    assert data["id"] == hold.pk
    assert (data["order_id"], data["member"], data["points"]) == ("123", "crm-1", 500)
    assert (data["order_amount"], data["cash_value"], data["currency"]) == ("100.00", "5.00", "CNY")
    assert data["status"] == "held"
    assert dt.timedelta(minutes=30) <= hold.expires_at - before < dt.timedelta(minutes=31)
    shown = dt.datetime.fromisoformat(data["expires_at"])  # in +08:00, to the millisecond
    assert shown == hold.expires_at.replace(microsecond=hold.expires_at.microsecond // 1000 * 1000)
    assert data["expires_at"].endswith("+08:00")
    assert _wallet(shopper) == {"available": 4500, "pending": 0, "held": 500}
    ledger_hold = hold.ledger_hold
    assert (ledger_hold.points, ledger_hold.status) == (500, "held")
    assert ledger_hold.expires_at == hold.expires_at
    txn = ledger_hold.hold_transaction
    assert txn.reference == f"integration:{integration.obj.pk}:hold:123"
    assert txn.explanation == "商城外订单 #123 积分抵现 ¥5.00"


def test_the_member_history_explains_hold_and_release(integration, shopper):
    hold, _created = _create(integration.obj, order_id="A-7", points=250)
    integration_hold_release(client=integration.obj, hold_id=hold.pk)
    rows, _count = points_history(member_id=shopper.pk)
    assert [(row.points, row.explanation) for row in rows[:2]] == [
        (250, "商城外订单 #A-7 已取消，退回抵现积分"),
        (-250, "商城外订单 #A-7 积分抵现 ¥2.50"),
    ]


def test_the_member_history_page_shows_the_checkout_and_its_expiry(integration, shopper):
    from django.test import Client

    hold, _created = _create(integration.obj, order_id="123")
    integration_holds_expire(now=hold.expires_at)
    browser = Client()
    browser.force_login(shopper)
    page = browser.get(reverse("web:history")).content.decode()
    assert "商城外订单 #123 积分抵现 ¥5.00" in page
    assert "商城外订单 #123 超时未支付，退回抵现积分" in page


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"points": 99}, 422, "points_below_minimum"),
        ({"points": 2001}, 422, "points_exceed_share"),  # 20% of ¥100.00 is 2000
        ({"points": 600, "amount": "29.99"}, 422, "points_exceed_share"),
        ({"points": 5100, "amount": "100000.00"}, 409, "insufficient_points"),
        ({"member": "nobody"}, 404, "member_not_found"),
        ({"member": {"phone": "13999999999"}}, 404, "member_not_found"),
        ({"points": "500"}, 422, "invalid_hold"),
        ({"points": 500.0}, 422, "invalid_hold"),
        ({"points": True}, 422, "invalid_hold"),
        ({"points": -500}, 422, "invalid_hold"),
        ({"points": 0}, 422, "invalid_hold"),
        ({"points": 10**20}, 422, "invalid_hold"),
        ({"points": None}, 422, "invalid_hold"),
        ({"amount": "-100.00"}, 422, "invalid_hold"),
        ({"amount": "0"}, 422, "invalid_hold"),
        ({"amount": "100.001"}, 422, "invalid_hold"),
        ({"amount": "1e400"}, 422, "invalid_hold"),
        ({"amount": None}, 422, "invalid_hold"),
        ({"order_id": ""}, 422, "invalid_hold"),
        ({"order_id": "x" * 101}, 422, "invalid_hold"),
        ({"order_id": "a\x00b"}, 422, "invalid_hold"),
        ({"member": None}, 422, "invalid_hold"),
        ({"member": 12}, 422, "invalid_hold"),
        ({"member": ["crm-1"]}, 422, "invalid_hold"),
        ({"member": {"phone": 13900001111}}, 422, "invalid_hold"),
        ({"member": {"nickname": "x"}}, 422, "invalid_hold"),
        ({"currency": "USD"}, 422, "invalid_hold"),
        ({"extra": 1}, 422, "invalid_hold"),
    ],
)
def test_every_refusal_changes_nothing(integration, shopper, changes, status, code):
    body = _body(
        points=changes.pop("points", 500),
        amount=changes.pop("amount", "100.00"),
        order_id=changes.pop("order_id", "123"),
        member=changes.pop("member", "crm-1"),
    )
    body.update(changes)
    before = _state(shopper)
    response = integration.request("POST", HOLDS, body)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert _state(shopper) == before


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"\xff"])
def test_malformed_bodies_are_refused(integration, shopper, raw):
    before = _state(shopper)
    response = integration.request("POST", HOLDS, raw=raw)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] in ("malformed_json", "invalid_hold")
    assert _state(shopper) == before


def test_a_closed_member_cannot_hold(integration, shopper):
    from jifen.members.models import User

    User.objects.filter(pk=shopper.pk).update(closed_at=timezone.now())
    before = _state(shopper)
    response = integration.request("POST", HOLDS, _body())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "member_closed"
    assert _state(shopper) == before


def test_replaying_the_same_order_returns_the_same_hold(integration, shopper):
    first = integration.request("POST", HOLDS, _body())
    again = integration.request("POST", HOLDS, _body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert IntegrationHold.objects.count() == Hold.objects.count() == 1
    assert _wallet(shopper)["held"] == 500


@pytest.mark.parametrize(
    "changes", [{"points": 600}, {"amount": "120.00"}, {"member": "crm-2"}, {"points": 1}]
)
def test_the_same_order_with_another_body_is_a_conflict(integration, shopper, make_member, changes):
    other = make_member(external_id="crm-2")
    points_earn(member_id=other.pk, points=5000, source="test", reference="seed-2")
    integration.request("POST", HOLDS, _body())
    before = (_state(shopper), _wallet(other))
    response = integration.request("POST", HOLDS, _body(**changes))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reference_conflict"
    assert (_state(shopper), _wallet(other)) == before


def test_another_client_may_use_the_same_order_id(integration, shopper):
    other, _secret = api_client_create(name="POS")
    mine, _created = _create(integration.obj)
    theirs, created = _create(other)
    assert created and theirs.pk != mine.pk
    assert _wallet(shopper)["held"] == 1000


# --- capture and release --------------------------------------------------------------------


def test_capture_spends_the_held_points_once(integration, shopper):
    hold, _created = _create(integration.obj)
    path = f"{HOLDS}/{hold.pk}/capture"
    first = integration.request("POST", path)
    again = integration.request("POST", path, {})  # a body, if sent, is ignored
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == again.json()["status"] == "captured"
    assert first.json()["settled_at"] == again.json()["settled_at"]
    assert _wallet(shopper) == {"available": 4500, "pending": 0, "held": 0}
    hold.refresh_from_db()
    assert hold.ledger_hold.status == "captured"
    capture = hold.ledger_hold.settle_transaction
    assert capture.reference == f"integration:{integration.obj.pk}:hold-capture:{hold.pk}"
    assert capture.explanation == "商城外订单 #123 积分抵现 ¥5.00（已支付）"
    redeemed = Entry.objects.filter(account__code="redemption:shop_checkout")
    assert [entry.amount for entry in redeemed] == [500]
    before = _state(shopper)
    refused = integration.request("POST", f"{HOLDS}/{hold.pk}/release")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "hold_not_held"
    assert _state(shopper) == before


def test_release_gives_the_points_back_once(integration, shopper):
    lots = list(Lot.objects.values_list("pk", "remaining", "expires_on"))
    hold, _created = _create(integration.obj)
    path = f"{HOLDS}/{hold.pk}/release"
    first = integration.request("POST", path)
    again = integration.request("POST", path)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == again.json()["status"] == "released"
    assert _wallet(shopper) == {"available": 5000, "pending": 0, "held": 0}
    assert list(Lot.objects.values_list("pk", "remaining", "expires_on")) == lots
    assert Transaction.objects.filter(kind="release").count() == 1
    before = _state(shopper)
    refused = integration.request("POST", f"{HOLDS}/{hold.pk}/capture")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "hold_not_held"
    assert _state(shopper) == before


def test_capture_after_expiry_is_refused_and_release_still_works(integration, shopper):
    hold, _created = _create(integration.obj)
    later = hold.expires_at + dt.timedelta(seconds=1)
    before = _state(shopper)
    from jifen.core.errors import Conflict

    with pytest.raises(Conflict) as refused:
        integration_hold_capture(client=integration.obj, hold_id=hold.pk, now=later)
    assert refused.value.code == "hold_expired"
    assert _state(shopper) == before
    released = integration_hold_release(client=integration.obj, hold_id=hold.pk, now=later)
    assert released.status == "released"
    assert _wallet(shopper)["available"] == 5000


def test_get_returns_the_hold(integration, shopper):
    hold, _created = _create(integration.obj)
    response = integration.request("GET", f"{HOLDS}/{hold.pk}")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (hold.pk, "held")


@pytest.mark.parametrize("action", ["", "/capture", "/release"])
def test_holds_of_another_client_and_unknown_ids_are_not_found(integration, shopper, action):
    other, _secret = api_client_create(name="POS")
    theirs, _created = _create(other)
    before = _state(shopper)
    method = "GET" if not action else "POST"
    for hold_id in (theirs.pk, theirs.pk + 1000, 2**63, 10**30):
        response = integration.request(method, f"{HOLDS}/{hold_id}{action}")
        assert response.status_code == 404, (hold_id, response.content)
        assert response.json()["error"]["code"] == "hold_not_found"
    assert _state(shopper) == before


# --- expiry ---------------------------------------------------------------------------------


def test_the_expiry_job_releases_only_holds_past_their_time(integration, shopper):
    stale, _c = _create(integration.obj, order_id="stale")
    paid, _c = _create(integration.obj, order_id="paid")
    fresh, _c = _create(integration.obj, order_id="fresh")
    integration_hold_capture(client=integration.obj, hold_id=paid.pk)
    IntegrationHold.objects.filter(pk__in=[stale.pk, paid.pk]).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert integration_holds_expire_task() == 1
    assert integration_holds_expire() == 0  # twice is harmless
    statuses = dict(IntegrationHold.objects.values_list("order_id", "status"))
    assert statuses == {"stale": "expired", "paid": "captured", "fresh": "held"}
    assert _wallet(shopper) == {"available": 4000, "pending": 0, "held": 500}
    stale.refresh_from_db()
    settle = stale.ledger_hold.settle_transaction
    assert (stale.ledger_hold.status, settle.kind) == ("released", "release")
    assert settle.reference == f"integration:{integration.obj.pk}:hold-expire:{stale.pk}"
    assert settle.explanation == "商城外订单 #stale 超时未支付，退回抵现积分"
    # The shop comes back late: a release is a no-op, a capture is refused.
    released = integration.request("POST", f"{HOLDS}/{stale.pk}/release")
    assert (released.status_code, released.json()["status"]) == (200, "expired")
    before = _state(shopper)
    refused = integration.request("POST", f"{HOLDS}/{stale.pk}/capture")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "hold_not_held")
    assert _state(shopper) == before


def test_the_hold_lifetime_follows_the_setting(integration, shopper, settings):
    settings.JIFEN_POINTS_CASH_HOLD_MINUTES = 5
    now = timezone.now()
    hold, _created = integration_hold_create(client=integration.obj, raw=_body(), now=now)
    assert hold.expires_at == now + dt.timedelta(minutes=5)
    assert integration_holds_expire(now=now + dt.timedelta(minutes=4)) == 0
    assert integration_holds_expire(now=now + dt.timedelta(minutes=5)) == 1


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", HOLDS),
        ("GET", f"{HOLDS}/1"),
        ("POST", f"{HOLDS}/1/capture"),
        ("POST", f"{HOLDS}/1/release"),
        ("GET", QUOTE.format("crm-1", "10.00")),
    ],
)
def test_every_hold_endpoint_requires_a_signature(integration, shopper, client, method, path):
    hold, _created = _create(integration.obj, order_id="sig")
    path = path.replace("/1", f"/{hold.pk}")
    before = _state(shopper)
    call = getattr(client, method.lower())
    unsigned = call(path, data=b"{}" if method == "POST" else None, content_type="application/json")
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "signature_required"
    body = _body(order_id="new") if method == "POST" else None
    forged = integration.request(method, path, body, secret="0" * 64)
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_signature"
    assert _state(shopper) == before


# --- back-office ----------------------------------------------------------------------------


def test_admin_lists_filters_and_searches_holds(admin_client, integration, shopper):
    hold, _created = _create(integration.obj, order_id="SO-991")
    _create(integration.obj, order_id="SO-992")
    integration_hold_capture(client=integration.obj, hold_id=hold.pk)
    url = reverse("admin:integrations_integrationhold_changelist")
    for query, expected in [
        ({}, {"SO-991", "SO-992"}),
        ({"status__exact": "captured"}, {"SO-991"}),
        ({"client__id__exact": integration.obj.pk}, {"SO-991", "SO-992"}),
        ({"q": "SO-992"}, {"SO-992"}),
        ({"q": shopper.member_number}, {"SO-991", "SO-992"}),
    ]:
        response = admin_client.get(url, query)
        assert response.status_code == 200
        listed = {row.order_id for row in response.context["cl"].result_list}
        assert listed == expected, query
    detail = admin_client.get(reverse("admin:integrations_integrationhold_change", args=[hold.pk]))
    assert detail.status_code == 200
    assert f"integration:{integration.obj.pk}:hold:SO-991" in detail.content.decode()
    add = admin_client.get(reverse("admin:integrations_integrationhold_add"))
    assert add.status_code == 403


def test_the_demo_makes_one_hold_of_each_status_and_loads_again(integration, shopper):
    from jifen.integrations.holds.demo import load_demo_holds

    assert load_demo_holds(client=integration.obj, member=shopper, log=lambda line: None) == 4
    before = _state(shopper)
    assert load_demo_holds(client=integration.obj, member=shopper, log=lambda line: None) == 4
    assert _state(shopper) == before
    statuses = dict(IntegrationHold.objects.values_list("order_id", "status"))
    assert statuses == {
        "W20261101-0001": "captured",
        "W20261102-0002": "released",
        "W20261103-0003": "expired",
        "W20261104-0004": "held",
    }
    # Half of what each order allows when it is made, of 5000: ¥128.00 → 2560 / 2 = 1280;
    # ¥59.90 → 1198 / 2; ¥88.00 → 1760 / 2; ¥256.00 → the 2840 left (3720 − 880 held) / 2.
    points = dict(IntegrationHold.objects.values_list("order_id", "points"))
    assert points == {
        "W20261101-0001": 1280,
        "W20261102-0002": 599,
        "W20261103-0003": 880,
        "W20261104-0004": 1420,
    }
    assert _wallet(shopper) == {"available": 5000 - 1280 - 1420, "pending": 0, "held": 1420}


def test_the_verification_check_finds_a_hold_that_disagrees_with_the_ledger(integration, shopper):
    from jifen.integrations.holds.verification import check_integration_holds
    from jifen.ledger.verification import Report

    held, _c = _create(integration.obj, order_id="a")
    released, _c = _create(integration.obj, order_id="b")
    integration_hold_release(client=integration.obj, hold_id=released.pk)
    stale, _c = _create(integration.obj, order_id="c")
    integration_holds_expire(now=stale.expires_at)
    report = Report()
    check_integration_holds(report)
    assert (report.violations, report.summary["integration_holds"]) == ([], 3)
    before = IntegrationHold.objects.get(pk=held.pk).status
    IntegrationHold.objects.filter(pk=held.pk).update(status="captured")
    report = Report()
    check_integration_holds(report)
    assert [(v.invariant, v.subject) for v in report.violations] == [
        ("H1", f"integration hold {held.pk} (a)")
    ]
    IntegrationHold.objects.filter(pk=held.pk).update(status=before)  # leave the books right


@pytest.mark.parametrize("step", ["capture", "release", "expire"])
def test_an_order_id_with_a_colon_cannot_take_another_orders_step_reference(
    integration, shopper, step
):
    """Review m3: a hold for order "X:<step>" took the reference of order X's <step>, and
    settling X then failed for ever with reference_conflict. Steps now use the hold id."""
    trap, _created = _create(integration.obj, order_id=f"X:{step}", points=500)
    victim, _created = _create(integration.obj, order_id="X", points=1000)
    assert _wallet(shopper) == {"available": 3500, "pending": 0, "held": 1500}

    if step == "capture":
        settled = integration_hold_capture(client=integration.obj, hold_id=victim.pk)
        assert _wallet(shopper) == {"available": 3500, "pending": 0, "held": 500}
    elif step == "release":
        settled = integration_hold_release(client=integration.obj, hold_id=victim.pk)
        assert _wallet(shopper) == {"available": 4500, "pending": 0, "held": 500}
    else:
        IntegrationHold.objects.filter(pk=victim.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )
        assert integration_holds_expire() == 1
        settled = IntegrationHold.objects.get(pk=victim.pk)
        assert _wallet(shopper) == {"available": 4500, "pending": 0, "held": 500}

    expected = {"capture": "captured", "release": "released", "expire": "expired"}[step]
    assert settled.status == expected
    settle = Hold.objects.get(pk=victim.ledger_hold_id).settle_transaction
    assert settle.reference == f"integration:{integration.obj.pk}:hold-{step}:{victim.pk}"
    trap.refresh_from_db()
    assert (
        trap.ledger_hold.hold_transaction.reference
        == f"integration:{integration.obj.pk}:hold:X:{step}"
    )
    assert trap.status == "held"
    # The "trap" order settles normally too.
    integration_hold_capture(client=integration.obj, hold_id=trap.pk)
    trap.refresh_from_db()
    assert trap.status == "captured"
    assert _wallet(shopper)["held"] == 0
