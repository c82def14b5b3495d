import pytest

from jifen.catalog import services
from jifen.catalog.models import MemberItemQuota
from jifen.core.errors import Conflict, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


def test_per_member_limit_is_counted_once_per_reference(catalog, member):
    item = catalog.earbuds  # 5 per member
    assert (
        services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=2, reference="o1")
        == 2
    )
    assert (
        services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=2, reference="o1")
        == 2
    )
    assert (
        services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=3, reference="o2")
        == 5
    )
    with pytest.raises(Conflict) as error:
        services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=1, reference="o3")
    assert error.value.code == "per_member_limit"
    assert MemberItemQuota.objects.get(member=member, item=item).taken == 5

    assert services.item_quota_return(reference="o2") == 2
    assert services.item_quota_return(reference="o2") == 2
    assert (
        services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=1, reference="o3")
        == 3
    )


def test_items_without_a_limit_are_counted(catalog, member):
    taken = services.item_quota_take(
        item_id=catalog.coupon.pk, member_id=member.pk, quantity=4, reference="c1"
    )
    assert taken == 4
    with pytest.raises(NotFound):
        services.item_quota_return(reference="nope")


def test_redeem_check(catalog, member):
    item = services.item_redeem_check(
        sku_id=catalog.earbuds_white.pk, member_id=member.pk, quantity=2
    )
    assert item.pk == catalog.earbuds.pk
    with pytest.raises(ValidationFailed) as error:
        services.item_redeem_check(sku_id=catalog.earbuds_white.pk, member_id=member.pk, quantity=3)
    assert error.value.code == "per_order_limit"
    with pytest.raises(NotFound) as error:
        services.item_redeem_check(sku_id=catalog.massage_sku.pk, member_id=member.pk, quantity=1)
    assert error.value.code == "item_not_found"
    with pytest.raises(NotFound):
        services.item_redeem_check(sku_id=catalog.later_sku.pk, member_id=member.pk, quantity=1)


def test_partial_quota_returns_never_exceed_the_take_and_act_once(catalog, member):
    """Review N7: after-sales give back the quota per refunded unit, once per return
    reference, never more than the take."""
    from jifen.catalog.models import QuotaMovement

    item = catalog.earbuds  # 5 per member
    services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=3, reference="o1")
    services.item_quota_take(item_id=item.pk, member_id=member.pk, quantity=2, reference="o2")
    assert services.item_quota_return(reference="o1", quantity=1, return_reference="a1:1") == 4
    # a replay changes nothing; the same reference with another quantity is refused
    assert services.item_quota_return(reference="o1", quantity=1, return_reference="a1:1") == 4
    with pytest.raises(Conflict) as reused:
        services.item_quota_return(reference="o1", quantity=2, return_reference="a1:1")
    assert reused.value.code == "reference_reused"
    assert services.item_quota_return(reference="o1", quantity=2, return_reference="a2:1") == 2
    before = list(QuotaMovement.objects.values_list("kind", "quantity", "reference"))
    with pytest.raises(ValidationFailed) as error:
        services.item_quota_return(reference="o1", quantity=1, return_reference="a3:1")
    assert error.value.code == "quota_return_exceeds_taken"
    # a whole return of the take now has nothing left to give back
    assert services.item_quota_return(reference="o1") == 2
    assert list(QuotaMovement.objects.values_list("kind", "quantity", "reference")) == before
    assert MemberItemQuota.objects.get(member=member, item=item).taken == 2
    # the other take: one unit partially, then the whole return gives back only the rest
    assert services.item_quota_return(reference="o2", quantity=1, return_reference="b1") == 1
    assert services.item_quota_return(reference="o2") == 0
    assert services.item_quota_return(reference="o2") == 0
    with pytest.raises(NotFound):
        services.item_quota_return(reference="nope", quantity=1, return_reference="x")
