"""Pool codes under real concurrency (PostgreSQL): one code never goes to two members."""

import pytest

from jifen.core.errors import Conflict
from jifen.vouchers import services
from jifen.vouchers.models import LowPoolAlert, MemberVoucher, PoolCode

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ten_codes(goods):
    services.code_pool_save(sku_id=goods.card_sku.pk, low_pool_threshold=3)
    services.code_pool_import(
        sku_id=goods.card_sku.pk, text="\n".join(f"CODE-{n:02d}" for n in range(10))
    )
    return goods


def test_50_members_issuing_from_a_pool_of_10(ten_codes, make_member, run_concurrently):
    goods = ten_codes
    members = [make_member() for _ in range(50)]

    def take(i):
        try:
            (voucher,) = services.vouchers_issue(
                member_id=members[i].pk,
                order_line_id=i + 1,
                item_id=goods.card.pk,
                sku_id=goods.card_sku.pk,
                quantity=1,
                reference=f"race:{i}",
            )
            return voucher.code
        except Conflict as error:
            return error.code

    results = run_concurrently(take, 50)
    assert all(status == "ok" for status, _ in results), results
    outcomes = [value for _, value in results]
    codes = sorted(o for o in outcomes if o.startswith("CODE-"))
    assert codes == [f"CODE-{n:02d}" for n in range(10)]  # every code exactly once
    assert outcomes.count("code_pool_exhausted") == 40
    assert MemberVoucher.objects.count() == 10
    assert len(set(MemberVoucher.objects.values_list("member_id", flat=True))) == 10
    issued = PoolCode.objects.filter(status="issued")
    assert issued.count() == 10
    assert set(issued.values_list("issued_to__code", flat=True)) == set(codes)
    for code in issued.select_related("issued_to"):
        assert code.issued_to.code == code.code
    assert LowPoolAlert.objects.filter(resolved_at__isnull=True).count() == 1


def test_one_reference_from_20_threads_issues_once(ten_codes, member, run_concurrently):
    goods = ten_codes

    def take(i):
        return [
            v.pk
            for v in services.vouchers_issue(
                member_id=member.pk,
                order_line_id=None,
                item_id=goods.card.pk,
                sku_id=goods.card_sku.pk,
                quantity=2,
                reference="same",
            )
        ]

    results = run_concurrently(take, 20)
    assert {status for status, _ in results} == {"ok"}, results
    assert len({tuple(pks) for _, pks in results}) == 1
    assert MemberVoucher.objects.count() == 2
    assert PoolCode.objects.filter(status="available").count() == 8


def test_generated_coupons_race(goods, make_member, run_concurrently):
    members = [make_member() for _ in range(20)]

    def take(i):
        return services.vouchers_issue(
            member_id=members[i].pk,
            order_line_id=None,
            item_id=goods.coupon.pk,
            sku_id=goods.coupon_sku.pk,
            quantity=5,
            reference=f"coupon:{i}",
        )[0].code

    results = run_concurrently(take, 20)
    assert {status for status, _ in results} == {"ok"}, results
    assert MemberVoucher.objects.count() == 100
    assert len(set(MemberVoucher.objects.values_list("code", flat=True))) == 100


def test_one_coupon_redeemed_for_ten_shop_orders_at_once(goods, member, run_concurrently):
    """Review M2: exactly one shop order gets the coupon; the others are `voucher_used`."""
    from jifen.integrations.services import api_client_create

    shop, _secret = api_client_create(name="官方商城")
    (coupon,) = services.vouchers_issue(
        member_id=member.pk,
        order_line_id=None,
        item_id=goods.coupon.pk,
        sku_id=goods.coupon_sku.pk,
        quantity=1,
        reference="race-coupon",
    )

    def redeem(i):
        try:
            return services.voucher_mark_used(
                code=coupon.code, order_amount="300.00", client_id=shop.pk, reference=f"SO-{i}"
            ).used_reference
        except Conflict as error:
            return error.code

    results = run_concurrently(redeem, 10)

    assert all(status == "ok" for status, _ in results), results
    answers = [value for _, value in results]
    winner = MemberVoucher.objects.get(pk=coupon.pk)
    assert winner.status == "used"
    assert answers.count("voucher_used") == 9
    assert [a for a in answers if a != "voucher_used"] == [winner.used_reference]
