import pytest

from jifen.catalog.demo import catalog_demo_load
from jifen.catalog.models import Sku
from jifen.vouchers.demo import load_vouchers_demo
from jifen.vouchers.models import CodePool, PoolCode

pytestmark = pytest.mark.django_db


def test_demo_pools_match_the_stock_and_load_once():
    catalog_demo_load(images=False)
    pools = load_vouchers_demo()
    assert {p.sku.item.name for p in pools} == {"视频会员月卡", "音乐会员季卡", "云盘会员月卡"}
    # Every card-code SKU of the demo mall has its pool.
    assert {p.sku_id for p in pools} == set(
        Sku.objects.filter(item__fulfilment="code").values_list("pk", flat=True)
    )
    for pool in pools:
        sku = Sku.objects.get(pk=pool.sku_id)
        pool.refresh_from_db()
        assert pool.available == sku.remaining + sku.reserved
        assert pool.available >= 20
        assert PoolCode.objects.filter(pool=pool, status="available").count() == pool.available
    before = list(CodePool.objects.values_list("pk", "available"))
    load_vouchers_demo()
    assert list(CodePool.objects.values_list("pk", "available")) == before
