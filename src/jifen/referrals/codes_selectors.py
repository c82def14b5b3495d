"""Product-code reads: a member's redemptions, a batch's progress."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from jifen.referrals.alphabet import grouped
from jifen.referrals.codes_models import CodeBatch, ProductCode
from jifen.referrals.codes_services import code_batch_codes


def code_redemptions(*, member_id: int, offset: int = 0, limit: int = 20) -> tuple[list, int]:
    """The member's redeemed codes, newest first, with their batch; and how many."""
    query = ProductCode.objects.filter(redeemed_by_id=member_id)
    rows = list(
        query.select_related("batch").order_by("-redeemed_at", "-pk")[offset : offset + limit]
    )
    return rows, query.count()


def code_batches_with_progress():
    """Batches with `redeemed`: a correlated subquery, computed for the rows shown only."""
    redeemed = (
        ProductCode.objects.filter(batch=OuterRef("pk"), redeemed_by__isnull=False)
        .order_by()
        .values("batch")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return CodeBatch.objects.annotate(redeemed=Coalesce(Subquery(redeemed), 0))


def code_batch_export_rows(*, batch: CodeBatch, redeem_url: str):
    """The printing sheet: a header, then one row per code (derived again, see
    codes_services). `redeem_url` is the absolute address of the redemption page; each row's
    link pre-fills the code there (for the QR printed next to it)."""
    yield ["batch", "serial", "code", "points", "valid_from", "valid_until", "url"]
    for serial, code in code_batch_codes(batch):
        yield [
            batch.name,
            serial,
            grouped(code),
            batch.points,
            batch.valid_from.isoformat(),
            batch.valid_until.isoformat(),
            f"{redeem_url}?code={code}",
        ]
