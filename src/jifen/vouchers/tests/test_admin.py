"""Back-office: pools, the import page, codes masked, vouchers' actions, low-pool alerts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jifen.catalog.models import Sku
from jifen.vouchers import services
from jifen.vouchers.admin import low_pool_badge
from jifen.vouchers.models import CodePool, MemberVoucher

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_member):
    user = make_member(email="boss@example.com", phone=None, is_staff=True, name="老板")
    type(user).objects.filter(pk=user.pk).update(is_superuser=True)
    user.refresh_from_db()
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def issued(goods, member):
    services.code_pool_save(sku_id=goods.card_sku.pk, low_pool_threshold=5)
    services.code_pool_import(sku_id=goods.card_sku.pk, text="SECRET-CODE-1234\nSECRET-CODE-5678\n")
    card = services.vouchers_issue(
        member_id=member.pk,
        order_line_id=None,
        item_id=goods.card.pk,
        sku_id=goods.card_sku.pk,
        quantity=1,
        reference="card",
    )[0]
    coupon = services.vouchers_issue(
        member_id=member.pk,
        order_line_id=None,
        item_id=goods.coupon.pk,
        sku_id=goods.coupon_sku.pk,
        quantity=1,
        reference="coupon",
    )[0]
    return card, coupon


def test_pages_load_and_codes_are_masked(issued, boss):
    card, coupon = issued
    pool = CodePool.objects.get()
    for url in (
        "/admin/vouchers/codepool/",
        f"/admin/vouchers/codepool/{pool.pk}/change/",
        "/admin/vouchers/codepool/add/",
        f"/admin/vouchers/codepool/{pool.pk}/import/",
        "/admin/vouchers/poolcode/",
        f"/admin/vouchers/poolcode/?pool__id__exact={pool.pk}",
        "/admin/vouchers/codeimport/",
        "/admin/vouchers/membervoucher/",
        "/admin/vouchers/membervoucher/?status__exact=unused&kind__exact=coupon",
        f"/admin/vouchers/membervoucher/{card.pk}/change/",
        "/admin/vouchers/lowpoolalert/?open=yes",
    ):
        response = boss.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "SECRET-CODE-1234" not in page and "SECRET-CODE-5678" not in page, url
    assert "••••••••1234" in boss.get("/admin/vouchers/poolcode/").content.decode()
    assert low_pool_badge(None) == "1"


def test_search_by_code_and_member(issued, boss, member):
    card, coupon = issued
    page = boss.get("/admin/vouchers/membervoucher/", {"q": coupon.code}).content.decode()
    assert f"/admin/vouchers/membervoucher/{coupon.pk}/change/" in page
    assert f"/admin/vouchers/membervoucher/{card.pk}/change/" not in page
    page = boss.get("/admin/vouchers/membervoucher/", {"q": member.phone}).content.decode()
    assert f"/admin/vouchers/membervoucher/{card.pk}/change/" in page


def test_import_page_adds_codes_through_the_service(goods, boss):
    pool = services.code_pool_save(sku_id=goods.card_sku.pk)
    upload = SimpleUploadedFile("codes.csv", b"A-1\nA-2\nA-2\n")
    response = boss.post(f"/admin/vouchers/codepool/{pool.pk}/import/", {"csv_file": upload})
    assert response.status_code == 302
    assert Sku.objects.get(pk=goods.card_sku.pk).remaining == 2
    record = pool.imports.get()
    assert (record.imported, record.duplicates, record.created_by_id) == (2, 1, boss.user.pk)
    response = boss.post(f"/admin/vouchers/codepool/{pool.pk}/import/", {"text": "ok\nnot ok\n"})
    assert response.status_code == 200
    assert "第 2 行的卡密无效" in response.content.decode()
    assert Sku.objects.get(pk=goods.card_sku.pk).remaining == 2
    response = boss.post(f"/admin/vouchers/codepool/{pool.pk}/import/", {"text": "B-1\n"})
    assert response.status_code == 302
    assert CodePool.objects.get().available == 3


def test_add_pool_through_the_service(goods, boss):
    response = boss.post(
        "/admin/vouchers/codepool/add/",
        {"sku": goods.card_sku.pk, "name": "视频卡", "low_pool_threshold": 3},
    )
    assert response.status_code == 302
    pool = CodePool.objects.get()
    assert (pool.sku_id, pool.name, pool.low_pool_threshold) == (goods.card_sku.pk, "视频卡", 3)


def test_mark_used_and_revoke_actions(issued, boss):
    card, coupon = issued
    response = boss.post(
        f"/admin/vouchers/membervoucher/{coupon.pk}/mark_used/",
        {"note": "门店核销", "_form_submitted": "on"},
    )
    assert response.status_code == 302
    coupon.refresh_from_db()
    assert (coupon.status, coupon.used_by_id, coupon.used_note) == (
        "used",
        boss.user.pk,
        "门店核销",
    )
    response = boss.post(
        f"/admin/vouchers/membervoucher/{card.pk}/revoke/",
        {"reason": "会员投诉卡密无效", "_form_submitted": "on"},
    )
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == "revoked"
    assert card.revoke_reason == "会员投诉卡密无效（老板）"
    boss.post(
        f"/admin/vouchers/membervoucher/{coupon.pk}/revoke/",
        {"reason": "x", "_form_submitted": "on"},
    )
    assert MemberVoucher.objects.get(pk=coupon.pk).status == "used"


def test_plain_staff_cannot_import(goods, make_member):
    user = make_member(email="staff@example.com", phone=None, is_staff=True)
    client = Client()
    client.force_login(user)
    pool = services.code_pool_save(sku_id=goods.card_sku.pk)
    response = client.post(f"/admin/vouchers/codepool/{pool.pk}/import/", {"text": "A\n"})
    assert response.status_code == 403
    assert CodePool.objects.get().available == 0


def test_void_code_action(goods, boss):
    services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\nB2\n")
    code = CodePool.objects.get().codes.get(code="A1")
    response = boss.post(
        f"/admin/vouchers/poolcode/{code.pk}/void/",
        {"reason": "供应商作废", "_form_submitted": "on"},
    )
    assert response.status_code == 302
    code.refresh_from_db()
    assert code.status == "revoked"
    assert Sku.objects.get(pk=goods.card_sku.pk).remaining == 1
    assert boss.get(f"/admin/vouchers/poolcode/{code.pk}/change/").status_code == 200
