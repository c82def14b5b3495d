"""Reviews in the JSON API: an item's public reviews, a member's reviews, submitting one and
marking one helpful. Photos are uploaded on the site (the review form); the API takes the
rating, text and anonymity. Each operation parses input, calls one service or selector and
renders the result; errors are DomainErrors in the one error shape.
"""

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool, StrictInt

from jifen.core.errors import NotFound
from jifen.members.api import ERRORS, StrictSchema, Text, local
from jifen.members.auth import member_auth
from jifen.reviews import selectors, services
from jifen.reviews.models import MAX_TEXT, Review

router = Router(tags=["reviews"])

MAX_ID = 2**63 - 1


class PhotoOut(Schema):
    url: str
    thumbnail: str | None


class PublicReviewOut(Schema):
    id: int
    rating: int
    text: str
    member: str = Field(description="会员名（匿名评价已打码）")
    sku_label: str
    photos: list[PhotoOut]
    helpful_count: int
    created_at: dt.datetime


class RatingOut(Schema):
    count: int
    average: float
    distribution: dict[str, int] = Field(description='{"5": n, "4": n, …}')


class PublicReviewList(Schema):
    items: list[PublicReviewOut]
    count: int
    rating: RatingOut


class MyReviewOut(Schema):
    id: int
    order_number: str
    order_line_id: int
    item_id: int
    item_name: str
    rating: int
    text: str
    is_anonymous: bool
    status: str
    status_label: str
    photos: list[PhotoOut]
    helpful_count: int
    created_at: dt.datetime


class MyReviewList(Schema):
    items: list[MyReviewOut]
    count: int


class ReviewIn(StrictSchema):
    order_line_id: StrictInt = Field(ge=1, le=MAX_ID)
    rating: StrictInt = Field(ge=1, le=5)
    text: Text = Field("", max_length=MAX_TEXT + 100)  # the service counts after trimming
    is_anonymous: StrictBool = False


class Paging(Schema):
    page: int = Field(1, ge=1, le=10**6)
    page_size: int = Field(10, ge=1, le=100)


class HelpfulOut(Schema):
    marked: bool = Field(description="false when this member had marked it before")
    helpful_count: int


def _photos(request: HttpRequest, review: Review) -> list[dict]:
    return [
        {
            "url": request.build_absolute_uri(p.image.url),
            "thumbnail": request.build_absolute_uri(p.thumbnail.url) if p.thumbnail else None,
        }
        for p in review.photos.all()
    ]


def _public(request: HttpRequest, review: Review) -> dict:
    return {
        "id": review.pk,
        "rating": review.rating,
        "text": review.text,
        "member": selectors.display_name(review),
        "sku_label": review.sku.label,
        "photos": _photos(request, review),
        "helpful_count": review.helpful_count,
        "created_at": local(review.approved_at or review.created_at),
    }


def _mine(request: HttpRequest, review: Review) -> dict:
    return {
        "id": review.pk,
        "order_number": review.order_line.order.number,
        "order_line_id": review.order_line_id,
        "item_id": review.item_id,
        "item_name": review.order_line.item_name,
        "rating": review.rating,
        "text": review.text,
        "is_anonymous": review.is_anonymous,
        "status": review.status,
        "status_label": review.get_status_display(),
        "photos": _photos(request, review),
        "helpful_count": review.helpful_count,
        "created_at": local(review.created_at),
    }


@router.get("/items/{item_id}/reviews", response={200: PublicReviewList, **ERRORS})
def item_review_list(request, item_id: int, paging: Query[Paging]):
    """An item's approved reviews, newest first, with its rating summary. Public."""
    if not 1 <= item_id <= MAX_ID:
        raise NotFound(code="item_not_found")
    result = selectors.item_reviews(item_id=item_id, page=paging.page, page_size=paging.page_size)
    summary = selectors.item_rating(item_id=item_id)
    return {
        "items": [_public(request, review) for review in result.items],
        "count": result.count,
        "rating": {
            "count": summary.count,
            "average": summary.average,
            "distribution": {str(stars): n for stars, n, _pct in summary.distribution},
        },
    }


@router.get("/me/reviews", auth=member_auth, response={200: MyReviewList, **ERRORS})
def my_review_list(request, paging: Query[Paging]):
    """The member's reviews in every status (pending, approved, rejected, hidden)."""
    result = selectors.member_reviews(
        member_id=request.auth.pk, page=paging.page, page_size=paging.page_size
    )
    return {"items": [_mine(request, review) for review in result.items], "count": result.count}


@router.post("/me/reviews", auth=member_auth, response={201: MyReviewOut, **ERRORS})
def my_review_create(request, payload: ReviewIn):
    """Review a line of one of my received (delivered or completed) orders, once per line:
    409 `review_exists`, 409 `order_not_received`, 404 `order_line_not_found`."""
    review = services.review_submit(
        member_id=request.auth.pk,
        order_line_id=payload.order_line_id,
        rating=payload.rating,
        text=payload.text,
        is_anonymous=payload.is_anonymous,
    )
    review = Review.objects.select_related("order_line__order").get(pk=review.pk)
    return Status(201, _mine(request, review))


@router.post("/reviews/{review_id}/helpful", auth=member_auth, response={200: HelpfulOut, **ERRORS})
def review_helpful(request, review_id: int):
    """Mark an approved review helpful, once per member (a repeat returns `marked: false`)."""
    if not 1 <= review_id <= MAX_ID:
        raise NotFound(code="review_not_found")
    marked = services.review_mark_helpful(member_id=request.auth.pk, review_id=review_id)
    count = Review.objects.filter(pk=review_id).values_list("helpful_count", flat=True).get()
    return {"marked": marked, "helpful_count": count}
