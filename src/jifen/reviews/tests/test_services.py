import pytest

from jifen.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jifen.engagement.models import Task, TaskCompletion
from jifen.reviews import selectors, services
from jifen.reviews.models import ItemRating, Review, ReviewHelpful, ReviewPhoto
from jifen.reviews.tests.conftest import png

pytestmark = pytest.mark.django_db


def rating_row(item) -> dict:
    row = ItemRating.objects.filter(item=item).values(
        "count", "total", "stars_1", "stars_2", "stars_3", "stars_4", "stars_5"
    )
    return row.first() or {}


def nothing_written():
    return (Review.objects.count(), ReviewPhoto.objects.count(), ItemRating.objects.count())


# --- submit: eligibility -------------------------------------------------------------------


def test_submit_pending_by_default(member, make_order, goods):
    order = make_order(member)
    line = order.lines.first()
    review = services.review_submit(
        member_id=member.pk, order_line_id=line.pk, rating=4, text="  音质不错，续航很长  "
    )
    review.refresh_from_db()
    assert (review.status, review.rating, review.text) == ("pending", 4, "音质不错，续航很长")
    assert (review.item_id, review.sku_id, review.member_id) == (
        goods["earbuds"].pk,
        goods["white"].pk,
        member.pk,
    )
    assert review.approved_at is None
    assert rating_row(goods["earbuds"]) == {}  # not public, not counted


@pytest.mark.parametrize("status", ["delivered", "completed"])
def test_submit_received_statuses(member, make_order, status):
    line = make_order(member, status=status).lines.first()
    review = services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=5)
    assert review.pk and review.text == ""


@pytest.mark.parametrize("status", ["pending_payment", "paid", "shipped", "cancelled", "refunded"])
def test_submit_refused_before_receipt(member, make_order, status):
    line = make_order(member, status=status).lines.first()
    with pytest.raises(Conflict) as error:
        services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=5)
    assert error.value.code == "order_not_received"
    assert nothing_written() == (0, 0, 0)


def test_submit_refused_for_another_members_line(member, make_member, make_order):
    line = make_order(make_member()).lines.first()
    with pytest.raises(NotFound) as error:
        services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=5)
    assert error.value.code == "order_line_not_found"
    assert nothing_written() == (0, 0, 0)


@pytest.mark.parametrize("line_id", [0, -1, 10**20, "1", None, True, 999999])
def test_submit_refused_for_unknown_line(member, make_order, line_id):
    make_order(member)
    with pytest.raises(NotFound):
        services.review_submit(member_id=member.pk, order_line_id=line_id, rating=5)
    assert nothing_written() == (0, 0, 0)


def test_submit_twice_refused(member, make_order):
    line = make_order(member).lines.first()
    first = services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=5, text="好")
    with pytest.raises(Conflict) as error:
        services.review_submit(
            member_id=member.pk,
            order_line_id=line.pk,
            rating=1,
            text="差",
            photos=[("a.png", png())],
        )
    assert error.value.code == "review_exists"
    assert list(Review.objects.values_list("pk", "rating", "text")) == [(first.pk, 5, "好")]
    assert ReviewPhoto.objects.count() == 0


def test_each_line_reviewed_on_its_own(member, make_order, goods):
    first, second = make_order(member).lines.all()
    services.review_submit(member_id=member.pk, order_line_id=first.pk, rating=5)
    services.review_submit(member_id=member.pk, order_line_id=second.pk, rating=3)
    assert sorted(Review.objects.values_list("item_id", "rating")) == sorted(
        [(goods["earbuds"].pk, 5), (goods["cup"].pk, 3)]
    )


# --- submit: input ----------------------------------------------------------------------------


@pytest.mark.parametrize("rating", [0, 6, -1, 3.5, "5", None, True])
def test_submit_refuses_bad_rating(member, make_order, rating):
    line = make_order(member).lines.first()
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=rating)
    assert error.value.code == "invalid_rating"
    assert nothing_written() == (0, 0, 0)


@pytest.mark.parametrize("text", ["字" * 501, "a\x00b", 42])
def test_submit_refuses_bad_text(member, make_order, text):
    line = make_order(member).lines.first()
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=5, text=text)
    assert error.value.code == "invalid_text"
    assert nothing_written() == (0, 0, 0)


def test_submit_text_of_500_characters(member, make_order):
    line = make_order(member).lines.first()
    review = services.review_submit(
        member_id=member.pk, order_line_id=line.pk, rating=5, text="好" * 500
    )
    assert len(review.text) == 500


# --- photos -----------------------------------------------------------------------------------


def test_submit_with_photos_and_thumbnails(member, make_order, media):
    from PIL import Image

    line = make_order(member).lines.first()
    review = services.review_submit(
        member_id=member.pk,
        order_line_id=line.pk,
        rating=5,
        photos=[("a.png", png((1200, 900))), ("b.jpg", png(fmt="JPEG"))],
    )
    photos = list(review.photos.all())
    assert [p.sort_order for p in photos] == [0, 1]
    assert photos[0].image.name.endswith(".png") and photos[1].image.name.endswith(".jpg")
    with Image.open(photos[0].thumbnail.path) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (240, 240))
    assert photos[0].image.name.startswith(f"reviews/{review.pk}/")


def test_photo_not_an_image(member, make_order):
    line = make_order(member).lines.first()
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(
            member_id=member.pk,
            order_line_id=line.pk,
            rating=5,
            photos=[("ok.png", png()), ("evil.png", b"<?php echo 1; ?>")],
        )
    assert (error.value.code, error.value.fields) == ("invalid_photo", {"photos": "evil.png"})
    assert nothing_written() == (0, 0, 0)


def test_photo_gif_refused(member, make_order):
    line = make_order(member).lines.first()
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(
            member_id=member.pk, order_line_id=line.pk, rating=5, photos=[("a.gif", png(fmt="GIF"))]
        )
    assert error.value.code == "invalid_photo"
    assert nothing_written() == (0, 0, 0)


def test_photo_too_big(member, make_order):
    line = make_order(member).lines.first()
    big = png() + b"\0" * services.MAX_PHOTO_BYTES
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(
            member_id=member.pk, order_line_id=line.pk, rating=5, photos=[("big.png", big)]
        )
    assert error.value.code == "photo_too_large"
    assert nothing_written() == (0, 0, 0)


def test_photo_too_many_pixels(member, make_order):
    line = make_order(member).lines.first()
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(
            member_id=member.pk,
            order_line_id=line.pk,
            rating=5,
            photos=[("wide.png", png((6001, 2), (0, 0, 0)))],
        )
    assert error.value.code == "invalid_photo"
    assert nothing_written() == (0, 0, 0)


def test_photos_too_many(member, make_order):
    line = make_order(member).lines.first()
    with pytest.raises(ValidationFailed) as error:
        services.review_submit(
            member_id=member.pk,
            order_line_id=line.pk,
            rating=5,
            photos=[(f"{n}.png", png()) for n in range(7)],
        )
    assert error.value.code == "too_many_photos"
    assert nothing_written() == (0, 0, 0)


def test_six_photos_allowed(member, make_order):
    line = make_order(member).lines.first()
    review = services.review_submit(
        member_id=member.pk,
        order_line_id=line.pk,
        rating=5,
        photos=[(f"{n}.png", png()) for n in range(6)],
    )
    assert review.photos.count() == 6


# --- moderation and aggregates ----------------------------------------------------------------


@pytest.fixture
def three_reviews(make_member, make_order, goods):
    """Three pending reviews of the earbuds: 5, 4 and 2 stars."""
    reviews = []
    for rating in (5, 4, 2):
        owner = make_member()
        line = make_order(owner, skus=[goods["black"]]).lines.first()
        reviews.append(
            services.review_submit(member_id=owner.pk, order_line_id=line.pk, rating=rating)
        )
    return reviews


def stars(**counts) -> dict:
    base = {f"stars_{n}": 0 for n in range(1, 6)}
    base.update({f"stars_{k[1:]}": v for k, v in counts.items()})
    return base


def test_aggregates_exact_across_approve_hide_reapprove(three_reviews, operator, goods):
    five, four, two = three_reviews
    item = goods["earbuds"]
    for review in three_reviews:
        services.review_moderate(review_id=review.pk, action="approve", by=operator)
    assert rating_row(item) == {"count": 3, "total": 11, **stars(s5=1, s4=1, s2=1)}
    assert selectors.item_rating(item_id=item.pk).average == 3.7

    services.review_moderate(review_id=two.pk, action="hide", by=operator, note="广告")
    assert rating_row(item) == {"count": 2, "total": 9, **stars(s5=1, s4=1)}
    services.review_moderate(review_id=two.pk, action="hide", by=operator)  # retry: no change
    assert rating_row(item) == {"count": 2, "total": 9, **stars(s5=1, s4=1)}

    services.review_moderate(review_id=two.pk, action="approve", by=operator)
    services.review_moderate(review_id=two.pk, action="approve", by=operator)  # retry
    assert rating_row(item) == {"count": 3, "total": 11, **stars(s5=1, s4=1, s2=1)}

    services.review_moderate(review_id=five.pk, action="reject", by=operator, note="不实")
    services.review_moderate(review_id=four.pk, action="hide", by=operator)
    services.review_moderate(review_id=two.pk, action="reject", by=operator)
    assert rating_row(item) == {"count": 0, "total": 0, **stars()}
    summary = selectors.item_rating(item_id=item.pk)
    assert (summary.count, summary.average) == (0, 0.0)


def test_reject_pending_does_not_touch_aggregates(three_reviews, operator, goods):
    five = three_reviews[0]
    review = services.review_moderate(
        review_id=five.pk, action="reject", by=operator, note="内容与商品无关"
    )
    review.refresh_from_db()
    assert (review.status, review.moderation_note, review.moderated_by_id) == (
        "rejected",
        "内容与商品无关",
        operator.pk,
    )
    assert review.moderated_at is not None and review.approved_at is None
    assert rating_row(goods["earbuds"]) == {}


def test_moderation_records_first_approval_once(three_reviews, operator):
    five = three_reviews[0]
    first = services.review_moderate(review_id=five.pk, action="approve", by=operator)
    approved_at = first.approved_at
    services.review_moderate(review_id=five.pk, action="hide", by=operator)
    again = services.review_moderate(review_id=five.pk, action="approve", by=operator)
    assert again.approved_at == approved_at


def test_moderation_refused_for_members(three_reviews, member):
    with pytest.raises(PermissionDenied):
        services.review_moderate(review_id=three_reviews[0].pk, action="approve", by=member)
    assert Review.objects.filter(status="pending").count() == 3
    assert ItemRating.objects.count() == 0


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"action": "delete"}, "invalid_action"),
        ({"action": None}, "invalid_action"),
        ({"action": "approve", "note": "x" * 201}, "invalid_note"),
        ({"action": "approve", "note": 3}, "invalid_note"),
    ],
)
def test_moderation_bad_input(three_reviews, operator, kwargs, code):
    with pytest.raises(ValidationFailed) as error:
        services.review_moderate(review_id=three_reviews[0].pk, by=operator, **kwargs)
    assert error.value.code == code
    assert Review.objects.filter(status="pending").count() == 3
    assert ItemRating.objects.count() == 0


@pytest.mark.parametrize("review_id", [0, 999999, "1", None, 10**20])
def test_moderation_unknown_review(three_reviews, operator, review_id):
    with pytest.raises(NotFound):
        services.review_moderate(review_id=review_id, action="approve", by=operator)
    assert ItemRating.objects.count() == 0


def test_bulk_approve(three_reviews, operator, goods):
    five, four, two = three_reviews
    services.review_moderate(review_id=five.pk, action="approve", by=operator)
    changed = services.review_moderate_many(
        review_ids=[r.pk for r in three_reviews], action="approve", by=operator
    )
    assert changed == 2
    assert rating_row(goods["earbuds"]) == {"count": 3, "total": 11, **stars(s5=1, s4=1, s2=1)}


def test_not_premoderated_approves_at_once(member, make_order, goods, settings):
    settings.JIFEN_REVIEWS_PREMODERATED = False
    line = make_order(member).lines.first()
    review = services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=4)
    assert review.status == "approved" and review.approved_at is not None
    assert rating_row(goods["earbuds"]) == {"count": 1, "total": 4, **stars(s4=1)}


def test_first_approval_completes_the_photo_review_task(member, make_order, operator):
    Task.objects.create(
        code="photo-review",
        title="发布带图评价",
        evidence="event",
        action="review_posted",
        required_details={"has_photo": True},
        points=0,
        makeup_cards=1,
        period="week",
        cap=1,
    )
    line = make_order(member).lines.first()
    review = services.review_submit(
        member_id=member.pk, order_line_id=line.pk, rating=5, photos=[("a.png", png())]
    )
    assert TaskCompletion.objects.count() == 0  # pending: not posted yet
    services.review_moderate(review_id=review.pk, action="approve", by=operator)
    services.review_moderate(review_id=review.pk, action="hide", by=operator)
    services.review_moderate(review_id=review.pk, action="approve", by=operator)
    assert list(TaskCompletion.objects.values_list("member_id", flat=True)) == [member.pk]


# --- helpful ----------------------------------------------------------------------------------


def test_mark_helpful_once_per_member(three_reviews, operator, make_member):
    five = three_reviews[0]
    services.review_moderate(review_id=five.pk, action="approve", by=operator)
    reader, other = make_member(), make_member()
    assert services.review_mark_helpful(member_id=reader.pk, review_id=five.pk) is True
    assert services.review_mark_helpful(member_id=reader.pk, review_id=five.pk) is False
    assert services.review_mark_helpful(member_id=other.pk, review_id=five.pk) is True
    five.refresh_from_db()
    assert five.helpful_count == 2
    assert ReviewHelpful.objects.count() == 2


def test_mark_helpful_refusals(three_reviews, operator, member):
    five, four, _two = three_reviews
    with pytest.raises(NotFound):  # pending: not public
        services.review_mark_helpful(member_id=member.pk, review_id=five.pk)
    services.review_moderate(review_id=four.pk, action="approve", by=operator)
    with pytest.raises(Conflict) as error:
        services.review_mark_helpful(member_id=four.member_id, review_id=four.pk)
    assert error.value.code == "own_review"
    assert ReviewHelpful.objects.count() == 0
    assert Review.objects.filter(helpful_count__gt=0).count() == 0


# --- selectors --------------------------------------------------------------------------------


def test_display_name_masks_anonymous(make_member, make_order):
    owner = make_member(name="张小明")
    line = make_order(owner).lines.first()
    review = services.review_submit(
        member_id=owner.pk, order_line_id=line.pk, rating=5, is_anonymous=True
    )
    assert selectors.display_name(review) == "张**明"
    review.is_anonymous = False
    assert selectors.display_name(review) == "张小明"


def test_order_line_reviews(member, make_order):
    order = make_order(member)
    first, second = order.lines.all()
    services.review_submit(member_id=member.pk, order_line_id=first.pk, rating=5)
    rows = selectors.order_line_reviews(order=order)
    assert [(r.line.pk, r.review is not None, r.can_review) for r in rows] == [
        (first.pk, True, False),
        (second.pk, False, True),
    ]
    shipped = make_order(member, status="shipped")
    assert [r.can_review for r in selectors.order_line_reviews(order=shipped)] == [False, False]
