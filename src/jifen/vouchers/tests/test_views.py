"""/mall/cards/ (tabs) and /mall/cards/<id>/."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from jifen.vouchers import services
from jifen.vouchers.models import MemberVoucher

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(goods, member):
    """Three coupons (one used, one expired), a card code, a link."""
    services.code_pool_import(sku_id=goods.card_sku.pk, text="VIDEO-0001\n")
    issued = {}
    for name, item, sku, quantity in [
        ("coupons", goods.coupon, goods.coupon_sku, 3),
        ("card", goods.card, goods.card_sku, 1),
        ("link", goods.ebook, goods.ebook_sku, 1),
    ]:
        issued[name] = services.vouchers_issue(
            member_id=member.pk,
            order_line_id=None,
            item_id=item.pk,
            sku_id=sku.pk,
            quantity=quantity,
            reference=name,
        )
    services.voucher_mark_used(voucher_id=issued["coupons"][0].pk)
    MemberVoucher.objects.filter(pk=issued["coupons"][1].pk).update(
        valid_from=timezone.now() - dt.timedelta(days=40),
        valid_until=timezone.now() - dt.timedelta(days=10),
    )
    return issued


def test_tabs(wallet, member, logged_in):
    http = logged_in(member)
    page = http.get("/mall/cards/").content.decode()
    assert page.count('data-testid="voucher"') == 3  # a coupon, the card, the link
    assert "VIDEO-0001" not in page  # codes only on the card's own page
    assert "满 299 可用" in page
    assert 'aria-current="true" data-tab="usable">可用 <span class="num">3</span>' in page
    used = http.get("/mall/cards/?tab=used").content.decode()
    assert used.count('data-testid="voucher"') == 1
    expired = http.get("/mall/cards/?tab=expired").content.decode()
    assert expired.count('data-testid="voucher"') == 1 and "已过期" in expired
    assert http.get("/mall/cards/?tab=nonsense&page=x").status_code == 200


def test_card_page_shows_the_code_and_copy_button(wallet, member, logged_in):
    http = logged_in(member)
    card = wallet["card"][0]
    page = http.get(f"/mall/cards/{card.pk}/").content.decode()
    assert 'value="VIDEO-0001"' in page
    assert 'data-copy="#voucher-code"' in page
    link = http.get(f"/mall/cards/{wallet['link'][0].pk}/").content.decode()
    assert 'value="https://books.example.com/redeem"' in link
    coupon = wallet["coupons"][2]
    page = http.get(f"/mall/cards/{coupon.pk}/").content.decode()
    assert coupon.code in page and "订单满 ¥299 可用" in page


def test_used_or_expired_card_hides_the_code(wallet, member, logged_in):
    http = logged_in(member)
    for voucher in wallet["coupons"][:2]:
        page = http.get(f"/mall/cards/{voucher.pk}/").content.decode()
        assert voucher.code not in page


def test_someone_elses_card_is_404(wallet, make_member, logged_in):
    http = logged_in(make_member())
    assert http.get(f"/mall/cards/{wallet['card'][0].pk}/").status_code == 404
    assert http.get("/mall/cards/").content.decode().count('data-testid="voucher"') == 0


def test_login_required():
    response = Client().get("/mall/cards/")
    assert response.status_code == 302 and "/login" in response["Location"]
