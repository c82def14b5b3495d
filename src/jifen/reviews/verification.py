"""R1, review ratings: registered with the ledger verification (jifen.reviews.apps).

Each item's ItemRating (count, total, stars_1..stars_5) equals the aggregate of its approved
reviews; an item with no approved review has no row or a zero row.
"""

from __future__ import annotations

from django.db.models import Count, Q, Sum

from jifen.reviews.models import ItemRating, Review

FIELDS = ("count", "total", "stars_1", "stars_2", "stars_3", "stars_4", "stars_5")


def check_ratings(report) -> None:
    from jifen.ledger.verification import Violation

    actual = {
        row.pop("item_id"): row
        for row in Review.objects.filter(status=Review.Status.APPROVED)
        .values("item_id")
        .annotate(
            count=Count("pk"),
            total=Sum("rating"),
            **{f"stars_{n}": Count("pk", filter=Q(rating=n)) for n in range(1, 6)},
        )
    }
    kept = {row.pop("item_id"): row for row in ItemRating.objects.values("item_id", *FIELDS)}
    zero = dict.fromkeys(FIELDS, 0)
    for item_id in actual.keys() | kept.keys():
        want = actual.get(item_id, zero)
        have = kept.get(item_id, zero)
        if want != have:
            report.violations.append(
                Violation("R1", f"item {item_id}", f"rating {have} != approved reviews {want}")
            )
    report.summary["reviews_approved"] = sum(row["count"] for row in actual.values())
