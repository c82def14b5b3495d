"""Demo code pools: every demo SKU fulfilled by "code" gets a pool of generated codes.

`load_vouchers_demo()` runs after the catalog demo (jifen.catalog.demo) and before any demo
orders that issue vouchers. It is idempotent: a SKU whose pool already has an import is
left alone. Everything goes through the services, so stock and codes agree: the SKU's
units on hand are first taken off by a stocktake adjustment, then as many codes are
imported, which add the units back (a unit on sale always has a code waiting).
"""

from __future__ import annotations

from django.db import transaction

from jifen.catalog import services as catalog_services
from jifen.catalog.models import Item, Sku
from jifen.vouchers import services
from jifen.vouchers.models import CodeImport, CodePool

LOW_POOL_THRESHOLD = 10
MIN_CODES = 20


@transaction.atomic
def load_vouchers_demo() -> list[CodePool]:
    """Create and fill the demo pools (once). Returns the pools of the demo's code SKUs."""
    pools = []
    skus = Sku.objects.filter(item__fulfilment=Item.Fulfilment.CODE).select_related("item")
    for sku in skus.order_by("pk"):
        pool = services.code_pool_save(sku_id=sku.pk)  # the threshold once codes are in
        pools.append(pool)
        if CodeImport.objects.filter(pool=pool).exists():
            continue
        on_hand = Sku.objects.filter(pk=sku.pk).values_list("remaining", flat=True).get()
        if on_hand:
            # Units created before the pool had no codes: swap them for coded ones.
            catalog_services.stock_adjust(
                sku_id=sku.pk,
                delta=-on_hand,
                kind="adjusted",
                reason="库存改由卡密池管理",
                reference=f"demo:codepool:{sku.pk}",
            )
        sku.refresh_from_db()
        count = max(on_hand + sku.reserved, MIN_CODES)
        prefix = "".join(ch for ch in (sku.item.name_en or "CARD").upper() if ch.isalpha())[:4]
        codes = [f"{prefix}-{services.generate_code()[5:]}" for _ in range(count)]
        record = services.code_pool_import(sku_id=sku.pk, text="\n".join(codes))
        CodeImport.objects.filter(pk=record.pk).update(file_name="demo-codes.csv")
        # Set after the import, so an empty new pool does not alert the operators.
        pools[-1] = services.code_pool_save(sku_id=sku.pk, low_pool_threshold=LOW_POOL_THRESHOLD)
    return pools
