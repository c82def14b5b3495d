"""Reviews under real concurrency (PostgreSQL): one review per line, each approval counted
once, each member's helpful mark counted once."""

import pytest

from jifen.core.errors import Conflict
from jifen.reviews import services
from jifen.reviews.models import ItemRating, Review, ReviewHelpful

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_review_per_line_from_20_threads(member, make_order, run_concurrently):
    line = make_order(member).lines.first()

    def submit(i):
        return services.review_submit(
            member_id=member.pk, order_line_id=line.pk, rating=1 + i % 5, text=f"#{i}"
        ).pk

    results = run_concurrently(submit, 20)
    ok = [value for status, value in results if status == "ok"]
    errors = [value for status, value in results if status == "error"]
    assert len(ok) == 1
    assert all(isinstance(e, Conflict) and e.code == "review_exists" for e in errors), errors
    assert list(Review.objects.values_list("pk", flat=True)) == ok


def test_concurrent_moderation_keeps_the_aggregate_exact(
    make_member, make_order, operator, goods, run_concurrently
):
    reviews = []
    for rating in (5, 4, 3, 2):
        owner = make_member()
        line = make_order(owner, skus=[goods["black"]]).lines.first()
        reviews.append(
            services.review_submit(member_id=owner.pk, order_line_id=line.pk, rating=rating)
        )
    actions = ["approve", "hide", "approve", "reject", "approve"]

    def moderate(i):
        # 40 threads: each review gets 10 moves (approve, hide, approve, reject, approve, …).
        review = reviews[i % 4]
        return services.review_moderate(
            review_id=review.pk, action=actions[(i // 4) % 5], by=operator
        ).status

    results = run_concurrently(moderate, 40)
    assert all(status == "ok" for status, _ in results), results
    approved = list(Review.objects.filter(status="approved").values_list("rating", flat=True))
    row = ItemRating.objects.get(item=goods["earbuds"])
    assert (row.count, row.total) == (len(approved), sum(approved))
    for stars in range(1, 6):
        assert getattr(row, f"stars_{stars}") == approved.count(stars)


def test_helpful_once_per_member_from_20_threads(
    make_member, make_order, operator, run_concurrently
):
    owner, reader = make_member(), make_member()
    line = make_order(owner).lines.first()
    review = services.review_submit(member_id=owner.pk, order_line_id=line.pk, rating=5)
    services.review_moderate(review_id=review.pk, action="approve", by=operator)

    results = run_concurrently(
        lambda i: services.review_mark_helpful(member_id=reader.pk, review_id=review.pk), 20
    )
    assert sorted(value for _, value in results) == [False] * 19 + [True]
    review.refresh_from_db()
    assert (review.helpful_count, ReviewHelpful.objects.count()) == (1, 1)
