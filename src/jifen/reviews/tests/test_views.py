import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from jifen.reviews import services
from jifen.reviews.models import ItemRating, Review
from jifen.reviews.tests.conftest import png

pytestmark = pytest.mark.django_db


def render(template: str, **context) -> str:
    return Template(template).render(Context(context))


# --- the order page's block ---------------------------------------------------------------


def test_order_block_links_and_shows_status(member, make_order):
    order = make_order(member)
    first, second = order.lines.all()
    services.review_submit(member_id=member.pk, order_line_id=first.pk, rating=4)
    html = render('{% include "reviews/_order_reviews.html" %}', order=order)
    assert f'href="/mall/reviews/new/{second.pk}/"' in html
    assert f"/mall/reviews/new/{first.pk}/" not in html
    assert "待审核" in html and 'aria-label="4 星"' in html


def test_order_block_empty_before_receipt(member, make_order):
    order = make_order(member, status="shipped")
    html = render('{% include "reviews/_order_reviews.html" %}', order=order)
    assert html.strip() == ""


# --- the item page's block ----------------------------------------------------------------


def test_item_page_shows_approved_reviews(
    member, make_member, make_order, operator, goods, logged_in
):
    owner = make_member(name="王小二")
    line = make_order(owner).lines.first()
    review = services.review_submit(
        member_id=owner.pk,
        order_line_id=line.pk,
        rating=5,
        text="声音清楚",
        is_anonymous=True,
        photos=[("a.png", png())],
    )
    services.review_moderate(review_id=review.pk, action="approve", by=operator)
    hidden_owner = make_member()
    other = make_order(hidden_owner).lines.first()
    services.review_submit(member_id=hidden_owner.pk, order_line_id=other.pk, rating=1, text="秘密")
    response = logged_in(member).get(f"/mall/items/{goods['earbuds'].pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="item-reviews"' in html
    assert "声音清楚" in html and "王**二" in html and "王小二" not in html
    assert "秘密" not in html  # pending: not public
    assert "-thumb.jpg" in html
    assert f'href="/mall/items/{goods["earbuds"].pk}/reviews/"' in html


def test_item_page_without_reviews(member, goods, logged_in):
    html = logged_in(member).get(f"/mall/items/{goods['cup'].pk}/").content.decode()
    assert 'data-testid="no-reviews"' in html


def test_all_reviews_page(member, make_member, make_order, operator, goods, logged_in):
    for rating in (5, 2):
        owner = make_member()
        line = make_order(owner).lines.first()
        review = services.review_submit(member_id=owner.pk, order_line_id=line.pk, rating=rating)
        services.review_moderate(review_id=review.pk, action="approve", by=operator)
    response = logged_in(member).get(f"/mall/items/{goods['earbuds'].pk}/reviews/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="review"') == 2
    assert "3.5" in html
    assert logged_in(member).get("/mall/items/999999/reviews/").status_code == 404


def test_pages_need_login(db, goods):
    response = Client().get(f"/mall/items/{goods['earbuds'].pk}/reviews/")
    assert response.status_code == 302 and "login" in response.url


# --- the review form ----------------------------------------------------------------------


def test_form_renders_accessible_stars(member, make_order, logged_in):
    line = make_order(member).lines.first()
    response = logged_in(member).get(f"/mall/reviews/new/{line.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('type="radio" id="rating-') == 5
    assert '<label for="rating-5"' in html and "<legend" in html
    assert 'type="file" id="id_photos" name="photos"' in html and "multiple" in html


def test_form_submits_with_photos(member, make_order, logged_in):
    order = make_order(member)
    line = order.lines.first()
    response = logged_in(member).post(
        f"/mall/reviews/new/{line.pk}/",
        {
            "rating": "5",
            "text": "很好用",
            "is_anonymous": "on",
            "photos": [
                SimpleUploadedFile("a.png", png(), content_type="image/png"),
                SimpleUploadedFile("b.jpg", png(fmt="JPEG"), content_type="image/jpeg"),
            ],
        },
    )
    assert response.status_code == 302
    review = Review.objects.get()
    assert (review.rating, review.text, review.is_anonymous, review.photos.count()) == (
        5,
        "很好用",
        True,
        2,
    )


def test_form_refuses_bad_photo_and_keeps_nothing(member, make_order, logged_in):
    line = make_order(member).lines.first()
    response = logged_in(member).post(
        f"/mall/reviews/new/{line.pk}/",
        {"rating": "4", "photos": [SimpleUploadedFile("x.png", b"not an image")]},
    )
    assert response.status_code == 200
    assert "请上传 JPEG、PNG 或 WebP 图片" in response.content.decode()
    assert Review.objects.count() == 0


def test_form_requires_rating(member, make_order, logged_in):
    line = make_order(member).lines.first()
    response = logged_in(member).post(f"/mall/reviews/new/{line.pk}/", {"text": "没评分"})
    assert response.status_code == 200
    assert "请选择评分。" in response.content.decode()
    assert Review.objects.count() == 0


def test_form_for_others_line_is_404(member, make_member, make_order, logged_in):
    line = make_order(make_member()).lines.first()
    assert logged_in(member).get(f"/mall/reviews/new/{line.pk}/").status_code == 404


def test_form_for_reviewed_line_redirects(member, make_order, logged_in):
    line = make_order(member).lines.first()
    services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=3)
    response = logged_in(member).get(f"/mall/reviews/new/{line.pk}/")
    assert response.status_code == 302
    assert Review.objects.count() == 1


def test_my_reviews_page(member, make_order, operator, logged_in):
    line = make_order(member).lines.first()
    review = services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=2)
    services.review_moderate(review_id=review.pk, action="reject", by=operator, note="含广告")
    html = logged_in(member).get("/mall/reviews/").content.decode()
    assert "未通过" in html and "含广告" in html


def test_helpful_button(make_member, make_order, operator, logged_in):
    owner, reader = make_member(), make_member()
    line = make_order(owner).lines.first()
    review = services.review_submit(member_id=owner.pk, order_line_id=line.pk, rating=5)
    services.review_moderate(review_id=review.pk, action="approve", by=operator)
    client = logged_in(reader)
    response = client.post(f"/mall/reviews/{review.pk}/helpful/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-testid="helpful-done"' in response.content.decode()
    client.post(f"/mall/reviews/{review.pk}/helpful/", HTTP_HX_REQUEST="true")
    review.refresh_from_db()
    assert review.helpful_count == 1


# --- back-office --------------------------------------------------------------------------


@pytest.fixture
def staff_client(operator):
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(operator)
    return client


def test_admin_queue_renders_with_filters(staff_client, member, make_order):
    line = make_order(member).lines.first()
    services.review_submit(
        member_id=member.pk, order_line_id=line.pk, rating=3, photos=[("a.png", png())]
    )
    for query in ("", "?status__exact=pending", "?rating=3", "?photos=yes", "?q=耳机"):
        response = staff_client.get(f"/admin/reviews/review/{query}")
        assert response.status_code == 200, query
        assert "-thumb.jpg" in response.content.decode(), query
    assert staff_client.get("/admin/reviews/itemrating/").status_code == 200


def test_admin_detail_and_moderation_actions(staff_client, member, make_order, goods):
    line = make_order(member).lines.first()
    review = services.review_submit(member_id=member.pk, order_line_id=line.pk, rating=3)
    page = staff_client.get(f"/admin/reviews/review/{review.pk}/change/")
    assert page.status_code == 200
    response = staff_client.post(
        reverse("admin:reviews_review_approve", args=[review.pk]),
        {"_form_submitted": "True", "note": "ok"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    review.refresh_from_db()
    assert (review.status, review.moderation_note) == ("approved", "ok")
    assert ItemRating.objects.get(item=goods["earbuds"]).count == 1
    staff_client.post(
        reverse("admin:reviews_review_hide", args=[review.pk]),
        {"_form_submitted": "True", "note": "投诉"},
    )
    review.refresh_from_db()
    assert review.status == "hidden"
    assert ItemRating.objects.get(item=goods["earbuds"]).count == 0


def test_admin_bulk_approve(staff_client, make_member, make_order, goods):
    ids = []
    for rating in (5, 4):
        owner = make_member()
        line = make_order(owner).lines.first()
        ids.append(
            services.review_submit(member_id=owner.pk, order_line_id=line.pk, rating=rating).pk
        )
    response = staff_client.post(
        "/admin/reviews/review/",
        {"action": "approve_selected", "_selected_action": [str(i) for i in ids]},
    )
    assert response.status_code == 302
    assert set(Review.objects.values_list("status", flat=True)) == {"approved"}
    row = ItemRating.objects.get(item=goods["earbuds"])
    assert (row.count, row.total) == (2, 9)


def test_admin_refuses_non_operators(member, make_order):
    client = Client()
    client.force_login(member)
    assert client.get("/admin/reviews/review/").status_code == 302  # to the admin login
