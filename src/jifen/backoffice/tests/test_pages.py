"""Every back-office page renders for a superuser, with a ledger that has seen everything."""

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse

from jifen.ledger.models import Account, Lot, Transaction
from jifen.ledger.services import (
    adjustment_request,
    points_earn,
    points_expire,
    points_hold,
    points_hold_capture,
    points_hold_release,
    points_spend,
    points_transfer,
    transaction_reverse,
)
from jifen.members.models import User
from jifen.members.services import address_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(make_member, superuser):
    alice = make_member(name="爱丽丝", email="alice@example.com")
    bob = make_member(name="鲍勃")
    address_create(
        member=alice,
        data={
            "recipient": "爱丽丝",
            "phone": "13800001111",
            "province": "上海",
            "city": "上海",
            "district": "浦东",
            "detail": "世纪大道 1 号",
        },
    )
    points_earn(member_id=alice.pk, points=1000, source="purchase", reference="o-1")
    points_earn(
        member_id=alice.pk,
        points=50,
        source="purchase",
        reference="o-old",
        expires_on=dt.date(2020, 1, 1),
    )
    points_expire()
    points_spend(member_id=alice.pk, points=100, purpose="mall", reference="s-1")
    captured = points_hold(member_id=alice.pk, points=40, reference="h-1")
    points_hold_capture(hold_id=captured.pk, reference="h-1-capture")
    released = points_hold(member_id=alice.pk, points=30, reference="h-2")
    points_hold_release(hold_id=released.pk, reference="h-2-release")
    points_hold(member_id=alice.pk, points=20, reference="h-3")
    points_transfer(sender_id=alice.pk, recipient_id=bob.pk, points=100, reference="t-1")
    spend = Transaction.objects.get(reference="s-1")
    transaction_reverse(transaction_id=spend.pk, reference="r-1", points=10)
    adjustment_request(
        member_id=bob.pk, points=25, reason="补偿", reference="adj-1", requested_by=superuser
    )
    adjustment_request(
        member_id=bob.pk,
        points=50_000,
        reason="大额补偿",
        reference="adj-2",
        requested_by=superuser,
    )
    return {"alice": alice, "bob": bob}


def test_every_changelist_and_change_page_renders(boss, seeded):
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        # A one-row settings model's list leads straight to its one change page.
        response = boss.get(changelist, follow=True)
        assert response.status_code == 200, changelist
        obj = model_admin.get_queryset(response.wsgi_request).order_by("pk").first()
        if obj is None:
            continue
        for instance in {obj, model_admin.get_queryset(response.wsgi_request).last()}:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[instance.pk])
            response = boss.get(change)
            assert response.status_code == 200, change


def test_every_wallet_system_account_and_transaction_page_renders(boss, seeded):
    for account in Account.objects.all():
        response = boss.get(reverse("admin:ledger_account_change", args=[account.pk]))
        assert response.status_code == 200, str(account)
    for txn in Transaction.objects.all():
        response = boss.get(reverse("admin:ledger_transaction_change", args=[txn.pk]))
        assert response.status_code == 200, txn.reference


def test_dashboard_and_add_pages_render(boss, seeded):
    assert boss.get(reverse("admin:index")).status_code == 200
    assert boss.get(reverse("admin:members_user_add")).status_code == 200
    assert boss.get(reverse("admin:ledger_adjustment_add")).status_code == 200


def test_member_page_shows_wallet_addresses_and_links(boss, seeded):
    alice = seeded["alice"]
    wallet = Account.objects.get(member=alice)
    # 1000 earned, 100 spent, 40 captured, 20 held, 100 sent, 10 refunded
    assert (wallet.available, wallet.pending, wallet.held) == (750, 0, 20)

    response = boss.get(reverse("admin:members_user_change", args=[alice.pk]))

    html = response.content.decode()
    assert "<strong>750</strong>" in html and "<strong>20</strong>" in html
    assert "世纪大道 1 号" in html
    assert f"?member={alice.member_number}" in html
    assert "../password/" in html


def test_member_search_by_phone_email_number_and_name(boss, seeded):
    alice, bob = seeded["alice"], seeded["bob"]
    url = reverse("admin:members_user_changelist")
    for term, expected in (
        (alice.phone, {alice}),
        ("ALICE@example.com", {alice}),
        (bob.member_number, {bob}),
        ("鲍", {bob}),
        ("13999999999", set()),
    ):
        response = boss.get(url, {"q": term})
        assert response.status_code == 200
        assert set(response.context["cl"].result_list) == expected, term


def test_member_filters(boss, seeded, superuser):
    url = reverse("admin:members_user_changelist")
    staff = boss.get(url, {"is_staff__exact": "1"}).context["cl"].result_list
    assert set(staff) == set(User.objects.filter(is_staff=True))
    assert superuser in staff
    today = dt.date.today().isoformat()
    joined = boss.get(url, {"date_joined_from": today, "date_joined_to": today})
    assert joined.status_code == 200


def test_transaction_filters_by_kind_member_and_search(boss, seeded):
    alice, bob = seeded["alice"], seeded["bob"]
    url = reverse("admin:ledger_transaction_changelist")

    by_kind = boss.get(url, {"kind__exact": "transfer"}).context["cl"].result_list
    assert [t.reference for t in by_kind] == ["t-1"]

    by_member = boss.get(url, {"member": bob.phone}).context["cl"].result_list
    # Bob: the transfer he received, and his applied adjustment
    assert {t.reference for t in by_member} == {"t-1", "adjustment:adj-1"}

    by_reference = boss.get(url, {"q": "h-1-capture"}).context["cl"].result_list
    assert [t.reference for t in by_reference] == ["h-1-capture"]

    by_search_member = boss.get(url, {"q": alice.member_number}).context["cl"].result_list
    assert "o-1" in {t.reference for t in by_search_member}

    today = dt.date.today()
    by_day = boss.get(
        url,
        {
            "created_at_from": (today - dt.timedelta(days=1)).isoformat(),
            "created_at_to": (today + dt.timedelta(days=1)).isoformat(),
        },
    )
    assert len(by_day.context["cl"].result_list) == Transaction.objects.count()


def test_lots_of_a_member(boss, seeded):
    alice = seeded["alice"]
    response = boss.get(reverse("admin:ledger_lot_changelist"), {"member": alice.member_number})
    assert set(response.context["cl"].result_list) == set(Lot.objects.filter(member_id=alice.pk))


def test_system_account_balance_from_entries(boss, seeded):
    response = boss.get(reverse("admin:ledger_account_changelist"), {"scope": "system"})
    rows = {a.code: a.entries_balance for a in response.context["cl"].result_list}
    assert rows["issuance:purchase"] == -1050
    assert rows["expiry"] == 50
    assert rows["redemption:mall"] == 100 - 10 + 40
    assert rows["issuance:adjustment"] == -25
    assert all(
        a.kind == "wallet"
        for a in boss.get(reverse("admin:ledger_account_changelist"), {"scope": "wallet"})
        .context["cl"]
        .result_list
    )
