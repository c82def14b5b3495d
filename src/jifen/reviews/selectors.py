"""Reads for reviews: the item's rating and public reviews, a member's reviews, the order
page's lines with their reviews, the moderation queue's counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from jifen.core.errors import Conflict, NotFound
from jifen.core.pagination import page_bounds
from jifen.reviews.models import ItemRating, Review
from jifen.reviews.services import RECEIVED_STATUSES


@dataclass
class RatingSummary:
    count: int
    average: float
    # (stars, count, percent of the reviews) from 5 stars down to 1.
    distribution: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def rounded(self) -> int:
        """The average rounded to whole stars (for the star row)."""
        return int(self.average + 0.5)


@dataclass
class ReviewPage:
    items: list[Review]
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count


def item_rating(*, item_id: int) -> RatingSummary:
    """The item's approved reviews in one row read: count, average (one decimal) and the
    star distribution. An item without reviews has count 0."""
    row = ItemRating.objects.filter(item_id=item_id).first()
    if row is None or not row.count:
        return RatingSummary(0, 0.0, [(s, 0, 0) for s in range(5, 0, -1)])
    distribution = []
    for stars in range(5, 0, -1):
        n = getattr(row, f"stars_{stars}")
        distribution.append((stars, n, round(100 * n / row.count)))
    return RatingSummary(row.count, row.average, distribution)


def _public(item_id: int) -> QuerySet[Review]:
    return (
        Review.objects.filter(item_id=item_id, status=Review.Status.APPROVED)
        .select_related("member", "sku")
        .prefetch_related("photos")
        .order_by("-approved_at", "-pk")
    )


def item_reviews(*, item_id: int, page: int = 1, page_size: int = 10) -> ReviewPage:
    """Approved reviews of an item, newest approval first. NotFound `item_not_found` for an
    unknown item; ValidationFailed `invalid_page` for a bad page."""
    from jifen.catalog.models import Item

    offset, limit = page_bounds(page, page_size)
    if not Item.objects.filter(pk=item_id, is_active=True).exists():
        raise NotFound(_("商品不存在。"), code="item_not_found")
    queryset = _public(item_id)
    count = queryset.count()
    return ReviewPage(list(queryset[offset : offset + limit]), count, page, page_size)


def item_reviews_latest(*, item_id: int, size: int = 3) -> list[Review]:
    return list(_public(item_id)[:size])


def member_reviews(*, member_id: int, page: int = 1, page_size: int = 20) -> ReviewPage:
    """The member's own reviews in every status, newest first."""
    offset, limit = page_bounds(page, page_size)
    queryset = (
        Review.objects.filter(member_id=member_id)
        .select_related("item", "sku", "order_line__order")
        .prefetch_related("photos")
        .order_by("-created_at", "-pk")
    )
    count = queryset.count()
    return ReviewPage(list(queryset[offset : offset + limit]), count, page, page_size)


@dataclass
class LineReview:
    line: object
    review: Review | None
    can_review: bool


def order_line_reviews(*, order) -> list[LineReview]:
    """Each line of `order` with its review (if any) and whether it may be reviewed now
    (the order is received and the line has no review)."""
    lines = list(order.lines.all().order_by("pk"))
    reviews = {
        r.order_line_id: r
        for r in Review.objects.filter(order_line_id__in=[line.pk for line in lines])
    }
    received = order.status in RECEIVED_STATUSES
    return [
        LineReview(line, reviews.get(line.pk), received and line.pk not in reviews)
        for line in lines
    ]


def line_for_review(*, member_id: int, order_line_id: int):
    """The member's order line that the review form is for. NotFound
    `order_line_not_found` (not theirs, or none); Conflict `order_not_received` or
    `review_exists` when it cannot be reviewed (the form page says why)."""
    from jifen.orders.models import OrderLine

    line = (
        OrderLine.objects.select_related("order", "item", "sku")
        .filter(pk=order_line_id, order__member_id=member_id)
        .first()
    )
    if line is None:
        raise NotFound(_("找不到这件订单商品。"), code="order_line_not_found")
    if line.order.status not in RECEIVED_STATUSES:
        raise Conflict(_("确认收货后才能评价。"), code="order_not_received")
    if Review.objects.filter(order_line_id=line.pk).exists():
        raise Conflict(_("这件商品已经评价过了。"), code="review_exists")
    return line


def pending_count() -> int:
    """Reviews waiting for moderation (the back-office badge)."""
    return Review.objects.filter(status=Review.Status.PENDING).count()


def display_name(review: Review) -> str:
    """The name shown with a public review: masked for an anonymous one ("张**"), else the
    member's name, or their masked phone or member number when they have no name."""
    member = review.member
    name = (member.name or "").strip()
    if review.is_anonymous:
        if not name:
            return _("匿名会员")
        return f"{name[0]}**" if len(name) <= 2 else f"{name[0]}**{name[-1]}"
    if name:
        return name
    if member.phone and len(member.phone) >= 7:
        return f"{member.phone[:3]}****{member.phone[-4:]}"
    return member.member_number
