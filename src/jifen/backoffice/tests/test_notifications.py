"""Operator alerts by e-mail: low stock and low code pools reach the operators who can act."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from jifen.backoffice.notifications import operator_recipients, operators_send
from jifen.catalog import services as catalog_services


@pytest.fixture(autouse=True)
def _eager_tasks(eager_tasks):
    """Tasks (callbacks, refunds, alerts) run inline here."""


@pytest.fixture
def staff(make_member):
    def make(email, *perms, superuser=False):
        user = make_member(email=email)
        user.is_staff = True
        user.is_superuser = superuser
        user.save(update_fields=["is_staff", "is_superuser"])
        for codename in perms:
            user.user_permissions.add(Permission.objects.get(codename=codename))
        return user

    return make


@pytest.fixture
def sku(db):
    category = catalog_services.category_save(name="生活")
    item = catalog_services.item_save(kind="physical", name="马克杯", category_id=category.pk)
    sku = catalog_services.sku_create(item_id=item.pk, points=300, stock_initial=5)
    return catalog_services.sku_update(
        sku_id=sku.pk, points=300, cash=sku.cash, low_stock_threshold=2
    )


def test_recipients_are_the_staff_allowed_to_act(staff, settings):
    settings.JIFEN_OPERATOR_ALERT_EMAILS = ""
    staff("stock@example.com", "change_sku")
    staff("boss@example.com", superuser=True)
    staff("support@example.com", "view_sku")
    assert operator_recipients("catalog.change_sku") == ["boss@example.com", "stock@example.com"]
    settings.JIFEN_OPERATOR_ALERT_EMAILS = "ops@example.com, wh@example.com"
    assert operator_recipients("catalog.change_sku") == ["ops@example.com", "wh@example.com"]


def test_low_stock_crossing_mails_once_after_commit(
    sku, staff, settings, django_capture_on_commit_callbacks
):
    settings.JIFEN_OPERATOR_ALERT_EMAILS = ""
    settings.JIFEN_SITE_URL = "https://jifen.example.com"
    staff("stock@example.com", "change_sku")
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.stock_reserve(sku_id=sku.pk, quantity=2, reference="a")  # 3 left
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.stock_reserve(sku_id=sku.pk, quantity=1, reference="b")  # 2 left
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.stock_reserve(sku_id=sku.pk, quantity=1, reference="c")  # still low
    (message,) = mail.outbox
    assert message.to == ["stock@example.com"]
    assert message.subject == "[积分商城] 低库存：马克杯 剩 2 件"
    assert "已到提醒线 2 件" in message.body
    assert f"https://jifen.example.com/admin/catalog/sku/{sku.pk}/change/" in message.body


def test_a_rolled_back_change_alerts_no_one(sku, staff, django_capture_on_commit_callbacks):
    from django.db import transaction

    staff("stock@example.com", "change_sku")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            catalog_services.stock_reserve(sku_id=sku.pk, quantity=3, reference="a")
            raise RuntimeError("the checkout failed")
    assert callbacks == [] and mail.outbox == []


def test_nobody_to_tell_sends_nothing(db, settings):
    settings.JIFEN_OPERATOR_ALERT_EMAILS = ""
    assert operators_send(subject="x", body="y", permission="catalog.change_sku") == 0
    assert mail.outbox == []
