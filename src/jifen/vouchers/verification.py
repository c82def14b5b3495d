"""Code pools (registered with the ledger verification by jifen.vouchers.apps).

For every pool: `available` equals its codes with status "available"; every issued code
points at a voucher of the pool's SKU that carries the same code; no voucher holds a code
of another one (one code, one member).
"""

from __future__ import annotations

from django.db.models import Count, F, Q

from jifen.vouchers.models import CodePool, PoolCode


def check_code_pools(report) -> None:
    from jifen.ledger.verification import Violation

    pools = CodePool.objects.annotate(
        counted=Count("codes", filter=Q(codes__status=PoolCode.Status.AVAILABLE))
    ).exclude(available=F("counted"))
    for pool in pools:
        report.violations.append(
            Violation(
                "I4",
                f"code pool {pool.pk}",
                f"available {pool.available} != available codes {pool.counted}",
            )
        )
    orphans = PoolCode.objects.filter(status=PoolCode.Status.ISSUED, issued_to__isnull=True)
    for code in orphans.values_list("pk", flat=True):
        report.violations.append(Violation("I4", f"pool code {code}", "issued to no voucher"))
    mismatched = (
        PoolCode.objects.filter(issued_to__isnull=False)
        .exclude(issued_to__code=F("code"), issued_to__sku_id=F("pool__sku_id"))
        .values_list("pk", flat=True)
    )
    for code in mismatched:
        report.violations.append(
            Violation("I4", f"pool code {code}", "its voucher has another code or SKU")
        )
    report.summary["code_pools"] = CodePool.objects.count()
