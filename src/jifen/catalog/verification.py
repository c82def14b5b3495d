"""I4, stock: registered with the ledger verification (jifen.catalog.apps).

For every SKU: stock_initial + received + returned + adjusted = sold + reserved + remaining,
no counter is negative, each counter equals the sum of its movements, and `reserved`
equals the open reservations.
"""

from __future__ import annotations

from django.db.models import F, Q, Sum

from jifen.catalog.models import Sku, StockMovement, StockReservation

# Which counter each kind of movement feeds. Reserved is net: reserved − released − sold.
COUNTERS = {
    StockMovement.Kind.INITIAL: "stock_initial",
    StockMovement.Kind.RECEIVED: "received",
    StockMovement.Kind.RETURNED: "returned",
    StockMovement.Kind.ADJUSTED: "adjusted",
    StockMovement.Kind.SOLD: "sold",
}


def check_stock(report) -> None:
    from jifen.ledger.verification import Violation

    unbalanced = Sku.objects.exclude(
        stock_initial=F("sold")
        + F("reserved")
        + F("remaining")
        - F("received")
        - F("returned")
        - F("adjusted")
    ).values_list("pk", "code")
    for pk, code in unbalanced:
        row = Sku.objects.get(pk=pk)
        supply = row.stock_initial + row.received + row.returned + row.adjusted
        used = row.sold + row.reserved + row.remaining
        report.violations.append(
            Violation(
                "I4",
                f"sku {pk} ({code})",
                f"initial {row.stock_initial} + received {row.received} + returned "
                f"{row.returned} + adjusted {row.adjusted} = {supply} != sold {row.sold} + "
                f"reserved {row.reserved} + remaining {row.remaining} = {used}",
            )
        )
    negative = Sku.objects.filter(
        Q(remaining__lt=0) | Q(reserved__lt=0) | Q(sold__lt=0) | Q(stock_initial__lt=0)
    ).values_list("pk", "code")
    for pk, code in negative:
        report.violations.append(Violation("I4", f"sku {pk} ({code})", "a counter is negative"))

    moved: dict[tuple[int, str], int] = {
        (row["sku_id"], row["kind"]): row["s"] or 0
        for row in StockMovement.objects.values("sku_id", "kind").annotate(s=Sum("quantity"))
    }
    open_reserved = {
        row["sku_id"]: row["s"] or 0
        for row in StockReservation.objects.filter(status=StockReservation.Status.RESERVED)
        .values("sku_id")
        .annotate(s=Sum("quantity"))
    }
    fields = ["pk", "code", "reserved", *COUNTERS.values()]
    for row in Sku.objects.values(*fields).iterator(chunk_size=2000):
        subject = f"sku {row['pk']} ({row['code']})"
        for kind, counter in COUNTERS.items():
            expected = moved.get((row["pk"], kind), 0)
            if row[counter] != expected:
                report.violations.append(
                    Violation("I4", subject, f"{counter} {row[counter]} != movements {expected}")
                )
        net_reserved = (
            moved.get((row["pk"], StockMovement.Kind.RESERVED), 0)
            - moved.get((row["pk"], StockMovement.Kind.RELEASED), 0)
            - moved.get((row["pk"], StockMovement.Kind.SOLD), 0)
        )
        if not row["reserved"] == net_reserved == open_reserved.get(row["pk"], 0):
            report.violations.append(
                Violation(
                    "I4",
                    subject,
                    f"reserved {row['reserved']} != movements {net_reserved} or open "
                    f"reservations {open_reserved.get(row['pk'], 0)}",
                )
            )
    report.summary["skus"] = Sku.objects.count()
