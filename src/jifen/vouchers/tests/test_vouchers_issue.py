"""vouchers_issue / vouchers_revoke / voucher_mark_used / vouchers_expire."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.vouchers import services
from jifen.vouchers.models import MemberVoucher, PoolCode

pytestmark = pytest.mark.django_db

CODE = re.compile(r"^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){3}$")


def issue(goods_item, sku, member, quantity=1, reference="order:J1:1", line=7):
    return services.vouchers_issue(
        member_id=member.pk,
        order_line_id=line,
        item_id=goods_item.pk,
        sku_id=sku.pk,
        quantity=quantity,
        reference=reference,
    )


@pytest.fixture
def pool(goods):
    services.code_pool_import(sku_id=goods.card_sku.pk, text="CODE-A\nCODE-B\nCODE-C\n")
    return goods.card_sku.code_pool


def test_issue_from_the_pool(goods, pool, member):
    vouchers = issue(goods.card, goods.card_sku, member, quantity=2)
    assert [(v.index, v.code, v.kind, v.status, v.order_line_id) for v in vouchers] == [
        (0, "CODE-A", "code", "unused", 7),
        (1, "CODE-B", "code", "unused", 7),
    ]
    assert vouchers[0].valid_until is None
    assert vouchers[0].item_name == "视频会员月卡"
    codes = {c.code: (c.status, c.issued_to_id) for c in PoolCode.objects.all()}
    assert codes == {
        "CODE-A": ("issued", vouchers[0].pk),
        "CODE-B": ("issued", vouchers[1].pk),
        "CODE-C": ("available", None),
    }


def test_replay_returns_the_same_vouchers(goods, pool, member):
    first = issue(goods.card, goods.card_sku, member, quantity=2)
    again = issue(goods.card, goods.card_sku, member, quantity=2)
    assert [v.pk for v in again] == [v.pk for v in first]
    assert MemberVoucher.objects.count() == 2
    assert PoolCode.objects.filter(status="available").count() == 1


def test_reference_reused_with_other_arguments(goods, pool, member, make_member):
    issue(goods.card, goods.card_sku, member)
    other = make_member()
    with pytest.raises(Conflict) as error:
        issue(goods.card, goods.card_sku, other)
    assert error.value.code == "reference_reused"
    with pytest.raises(Conflict):
        issue(goods.card, goods.card_sku, member, quantity=2)
    assert MemberVoucher.objects.count() == 1


def test_pool_exhausted_changes_nothing(goods, pool, member):
    with pytest.raises(Conflict) as error:
        issue(goods.card, goods.card_sku, member, quantity=4)
    assert error.value.code == "code_pool_exhausted"
    assert error.value.status == 409
    assert MemberVoucher.objects.count() == 0
    assert PoolCode.objects.filter(status="available").count() == 3


def test_no_pool_is_exhausted(goods, member):
    with pytest.raises(Conflict) as error:
        issue(goods.card, goods.card_sku, member)
    assert error.value.code == "code_pool_exhausted"


def test_coupon_codes_are_generated_with_value_and_validity(goods, member):
    before = timezone.now()
    vouchers = issue(goods.coupon, goods.coupon_sku, member, quantity=3)
    assert len({v.code for v in vouchers}) == 3
    for v in vouchers:
        assert CODE.match(v.code), v.code
        assert (v.kind, v.value, v.threshold, v.currency) == (
            "coupon",
            Decimal("50.00"),
            Decimal("299.00"),
            "CNY",
        )
        assert v.valid_until - v.valid_from == dt.timedelta(days=30)
        assert before <= v.valid_from <= timezone.now()


def test_service_voucher_and_link(goods, member):
    (voucher,) = issue(goods.massage, goods.massage_sku, member, reference="s")
    assert voucher.kind == "voucher" and CODE.match(voucher.code)
    assert voucher.value is None
    assert voucher.valid_until - voucher.valid_from == dt.timedelta(days=90)
    links = issue(goods.ebook, goods.ebook_sku, member, quantity=2, reference="l")
    assert [(v.kind, v.link, v.code, v.valid_until) for v in links] == [
        ("link", "https://books.example.com/redeem", "", None)
    ] * 2


@pytest.mark.parametrize(
    "change, code",
    [
        ({"quantity": 0}, "invalid_quantity"),
        ({"quantity": -1}, "invalid_quantity"),
        ({"quantity": 1.5}, "invalid_quantity"),
        ({"quantity": True}, "invalid_quantity"),
        ({"reference": ""}, "invalid_reference"),
        ({"reference": "x" * 101}, "invalid_reference"),
        ({"member_id": "1"}, "invalid_id"),
        ({"order_line_id": 0}, "invalid_id"),
    ],
)
def test_bad_input_changes_nothing(goods, member, change, code):
    args = {
        "member_id": member.pk,
        "order_line_id": None,
        "item_id": goods.coupon.pk,
        "sku_id": goods.coupon_sku.pk,
        "quantity": 1,
        "reference": "r",
        **change,
    }
    with pytest.raises(ValidationFailed) as error:
        services.vouchers_issue(**args)
    assert error.value.code == code
    assert MemberVoucher.objects.count() == 0


def test_unknown_or_mismatched_ids(goods, member):
    with pytest.raises(NotFound):
        issue(goods.coupon, type(goods.coupon_sku)(pk=10**9), member)
    with pytest.raises(ValidationFailed) as error:
        issue(goods.coupon, goods.massage_sku, member)
    assert error.value.code == "sku_item_mismatch"
    with pytest.raises(ValidationFailed) as error:
        issue(goods.earbuds, goods.earbuds_sku, member)
    assert error.value.code == "not_a_voucher_item"
    with pytest.raises(NotFound) as error:
        services.vouchers_issue(
            member_id=10**9,
            order_line_id=None,
            item_id=goods.coupon.pk,
            sku_id=goods.coupon_sku.pk,
            quantity=1,
            reference="r",
        )
    assert error.value.code == "member_not_found"
    assert MemberVoucher.objects.count() == 0


def test_revoke_voids_unused_only(goods, member):
    vouchers = issue(goods.coupon, goods.coupon_sku, member, quantity=3)
    services.voucher_mark_used(voucher_id=vouchers[0].pk)
    assert services.vouchers_revoke(reference="order:J1:1", quantity=1, reason="退款") == 1
    statuses = dict(MemberVoucher.objects.values_list("index", "status"))
    assert statuses == {0: "used", 1: "unused", 2: "revoked"}
    assert services.vouchers_revoke(reference="order:J1:1", reason="退款") == 1
    assert services.vouchers_revoke(reference="order:J1:1", reason="退款") == 0
    voided = MemberVoucher.objects.get(index=1)
    assert (voided.status, voided.revoke_reason) == ("revoked", "退款")
    assert voided.revoked_at is not None
    assert MemberVoucher.objects.get(index=0).status == "used"


def test_revoked_pool_code_is_never_issued_again(goods, pool, member, make_member):
    issue(goods.card, goods.card_sku, member)
    services.vouchers_revoke(reference="order:J1:1", reason="退款")
    (other,) = issue(goods.card, goods.card_sku, make_member(), reference="order:J2:1")
    assert other.code == "CODE-B"
    assert PoolCode.objects.get(code="CODE-A").status == "issued"


def test_revoke_bad_input(goods, member):
    with pytest.raises(NotFound):
        services.vouchers_revoke(reference="nothing", reason="x")
    issue(goods.coupon, goods.coupon_sku, member)
    with pytest.raises(ValidationFailed):
        services.vouchers_revoke(reference="order:J1:1", reason="")
    with pytest.raises(ValidationFailed):
        services.vouchers_revoke(reference="order:J1:1", quantity=0, reason="x")
    assert MemberVoucher.objects.get().status == "unused"


def test_mark_used_by_code_once(goods, member, operator):
    (voucher,) = issue(goods.coupon, goods.coupon_sku, member)
    used = services.voucher_mark_used(code=voucher.code.lower(), by=operator, note="门店核销")
    assert (used.status, used.used_by_id, used.used_note) == ("used", operator.pk, "门店核销")
    before = MemberVoucher.objects.values().get(pk=voucher.pk)
    # Without a redemption reference a second use cannot be told from a retry: refused.
    with pytest.raises(Conflict) as error:
        services.voucher_mark_used(code=voucher.code)
    assert error.value.code == "voucher_used"
    assert MemberVoucher.objects.values().get(pk=voucher.pk) == before


@pytest.fixture
def shop_client(db):
    from jifen.integrations.services import api_client_create

    obj, _secret = api_client_create(name="官方商城")
    return obj


def test_shop_redemption_replays_by_reference_and_refuses_another(goods, member, shop_client):
    (voucher,) = issue(goods.coupon, goods.coupon_sku, member)
    used = services.voucher_mark_used(
        code=voucher.code,
        order_amount=Decimal("299.00"),
        client_id=shop_client.pk,
        reference="SO-1",
        note="官方商城: SO-1",
    )
    assert (used.status, used.used_client_id, used.used_reference, used.used_note) == (
        "used",
        shop_client.pk,
        "SO-1",
        "官方商城: SO-1",
    )
    before = MemberVoucher.objects.values().get(pk=voucher.pk)

    again = services.voucher_mark_used(
        code=voucher.code, order_amount="399.00", client_id=shop_client.pk, reference="SO-1"
    )
    assert again.pk == voucher.pk
    assert MemberVoucher.objects.values().get(pk=voucher.pk) == before

    with pytest.raises(Conflict) as error:
        services.voucher_mark_used(
            code=voucher.code, order_amount="399.00", client_id=shop_client.pk, reference="SO-2"
        )
    assert error.value.code == "voucher_used"
    assert MemberVoucher.objects.values().get(pk=voucher.pk) == before

    from jifen.integrations.services import api_client_create

    other, _secret = api_client_create(name="另一个商城")
    with pytest.raises(Conflict) as error:  # the same order number from another client
        services.voucher_mark_used(
            code=voucher.code, order_amount="399.00", client_id=other.pk, reference="SO-1"
        )
    assert error.value.code == "voucher_used"
    assert MemberVoucher.objects.values().get(pk=voucher.pk) == before


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"reference": "SO-1"}, "order_amount_required"),
        ({"reference": "SO-1", "order_amount": "298.99"}, "below_threshold"),
        ({"reference": "SO-1", "order_amount": "-1"}, "invalid_amount"),
        ({"reference": "SO-1", "order_amount": "1.001"}, "invalid_amount"),
        ({"reference": "SO-1", "order_amount": 1.5}, "invalid_amount"),
        ({"reference": "SO-1", "order_amount": "NaN"}, "invalid_amount"),
        ({"order_amount": "299.00"}, "reference_required"),
        ({"reference": "", "order_amount": "299.00"}, "invalid_reference"),
        ({"reference": "x" * 101, "order_amount": "299.00"}, "invalid_reference"),
    ],
)
def test_shop_redemption_bad_input_changes_nothing(goods, member, shop_client, kwargs, code):
    (voucher,) = issue(goods.coupon, goods.coupon_sku, member)
    before = MemberVoucher.objects.values().get(pk=voucher.pk)

    with pytest.raises(ValidationFailed) as error:
        services.voucher_mark_used(code=voucher.code, client_id=shop_client.pk, **kwargs)

    assert error.value.code == code
    assert MemberVoucher.objects.values().get(pk=voucher.pk) == before


def test_shop_redemption_without_threshold_needs_no_amount(goods, member, shop_client):
    (voucher,) = issue(goods.massage, goods.massage_sku, member)

    used = services.voucher_mark_used(code=voucher.code, client_id=shop_client.pk, reference="B1")

    assert (used.status, used.used_reference) == ("used", "B1")


def test_mark_used_checks_threshold_expiry_and_revocation(goods, member):
    (voucher,) = issue(goods.coupon, goods.coupon_sku, member)
    with pytest.raises(ValidationFailed) as error:
        services.voucher_mark_used(code=voucher.code, order_amount=Decimal("298.99"))
    assert error.value.code == "below_threshold"
    MemberVoucher.objects.filter(pk=voucher.pk).update(
        valid_until=timezone.now() - dt.timedelta(seconds=1),
        valid_from=timezone.now() - dt.timedelta(days=1),
    )
    with pytest.raises(Conflict) as error:
        services.voucher_mark_used(voucher_id=voucher.pk)
    assert error.value.code == "voucher_expired"
    (second,) = issue(goods.coupon, goods.coupon_sku, member, reference="two")
    services.vouchers_revoke(reference="two", reason="退款")
    with pytest.raises(Conflict) as error:
        services.voucher_mark_used(code=second.code)
    assert error.value.code == "voucher_revoked"
    with pytest.raises(NotFound):
        services.voucher_mark_used(code="NOPE-NOPE")
    with pytest.raises(ValidationFailed):
        services.voucher_mark_used()
    assert set(MemberVoucher.objects.values_list("status", flat=True)) == {"unused", "revoked"}


def test_pool_codes_cannot_be_redeemed_by_code(goods, pool, member):
    issue(goods.card, goods.card_sku, member)
    with pytest.raises(NotFound):
        services.voucher_mark_used(code="CODE-A")


def test_expire_marks_past_validity_only(goods, member):
    vouchers = issue(goods.coupon, goods.coupon_sku, member, quantity=3)
    issue(goods.ebook, goods.ebook_sku, member, reference="link")  # no end
    services.voucher_mark_used(voucher_id=vouchers[2].pk)
    later = timezone.now() + dt.timedelta(days=31)
    assert services.vouchers_expire(now=timezone.now()) == 0
    assert services.vouchers_expire(now=later) == 2
    assert services.vouchers_expire(now=later) == 0
    assert sorted(MemberVoucher.objects.values_list("kind", "status")) == [
        ("coupon", "expired"),
        ("coupon", "expired"),
        ("coupon", "used"),
        ("link", "unused"),
    ]
