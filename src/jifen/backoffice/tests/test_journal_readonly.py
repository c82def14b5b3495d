"""The journal cannot be written through the back-office, not even by a superuser."""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import NoReverseMatch, reverse

from jifen.backoffice.tests.factories import ledger_state
from jifen.ledger.models import Account, Adjustment, Hold, Lot, LotMovement, Transaction
from jifen.ledger.services import adjustment_request, points_earn, points_hold, points_spend

pytestmark = pytest.mark.django_db

READ_ONLY = [Transaction, Lot, LotMovement, Hold, Account]


@pytest.fixture
def journal(member, superuser):
    points_earn(member_id=member.pk, points=500, source="purchase", reference="o-1")
    points_spend(member_id=member.pk, points=120, purpose="mall", reference="s-1")
    points_hold(member_id=member.pk, points=30, reference="h-1")
    adjustment_request(
        member_id=member.pk, points=7, reason="补偿", reference="adj-1", requested_by=superuser
    )


def _url(model, view, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_superuser_has_view_permission_only(model, superuser, rf):
    request = rf.get("/")
    request.user = superuser
    model_admin = admin.site._registry[model]
    obj = None
    assert model_admin.has_view_permission(request, obj)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert model_admin.get_actions(request) == {}


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_add_is_refused(model, boss, journal):
    before = ledger_state()
    assert boss.get(_url(model, "add")).status_code == 403
    assert boss.post(_url(model, "add"), {"amount": 1}).status_code == 403
    assert ledger_state() == before


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_change_and_delete_are_refused(model, boss, journal):
    obj = model.objects.order_by("pk").first()
    before = ledger_state()

    view = boss.get(_url(model, "change", obj.pk))
    change = boss.post(
        _url(model, "change", obj.pk),
        {"reference": "forged", "amount": 999, "remaining": 999, "available": 999},
    )
    delete_page = boss.get(_url(model, "delete", obj.pk))
    delete = boss.post(_url(model, "delete", obj.pk), {"post": "yes"})

    assert view.status_code == 200
    assert b'name="_save"' not in view.content  # a view page, with no save button
    assert change.status_code == 403
    assert delete_page.status_code == 403
    assert delete.status_code == 403
    assert ledger_state() == before


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_bulk_delete_is_not_offered_and_does_nothing(model, boss, journal):
    before = ledger_state()
    changelist = boss.get(_url(model, "changelist"))
    assert b"delete_selected" not in changelist.content

    response = boss.post(
        _url(model, "changelist"),
        {
            "action": "delete_selected",
            ACTION_CHECKBOX_NAME: list(model.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )

    assert response.status_code in (200, 302, 400, 403)
    assert ledger_state() == before


def test_entries_have_no_page_of_their_own(boss):
    with pytest.raises(NoReverseMatch):
        reverse("admin:ledger_entry_add")


def test_adjustments_cannot_be_edited_or_deleted(boss, journal):
    adjustment = Adjustment.objects.get()
    before = ledger_state()

    change = boss.post(
        _url(Adjustment, "change", adjustment.pk), {"points": 9999, "reason": "forged"}
    )
    delete = boss.post(_url(Adjustment, "delete", adjustment.pk), {"post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    assert ledger_state() == before
