import pytest

from jifen.reviews.demo import load_reviews_demo
from jifen.reviews.models import ItemRating, Review, ReviewPhoto

pytestmark = pytest.mark.django_db


def test_demo_reviews_are_idempotent(make_member, make_order, operator, goods):
    for status in ("delivered", "completed", "completed", "shipped"):
        make_order(make_member(), status=status)  # two lines each; the shipped one is skipped
    lines: list[str] = []
    first = load_reviews_demo(log=lines.append)
    assert len(first) == 6
    statuses = [r.status for r in Review.objects.order_by("order_line_id")]
    assert statuses == ["approved", "pending", "approved", "rejected", "approved", "approved"]
    photos = ReviewPhoto.objects.count()
    assert photos == 1 + 2 + 2  # lines 0, 1 and 4 have photos (1 + n % 3 each)
    again = load_reviews_demo(log=lines.append)
    assert [r.pk for r in again] == [r.pk for r in first]
    assert (Review.objects.count(), ReviewPhoto.objects.count()) == (6, photos)
    assert sum(ItemRating.objects.values_list("count", flat=True)) == 4
    assert lines[-1] == "reviews: 4 approved, 1 pending, 1 rejected"


def test_demo_without_received_orders(db):
    lines: list[str] = []
    assert load_reviews_demo(log=lines.append) == []
    assert lines == ["reviews: no delivered or completed orders yet; no demo reviews"]
