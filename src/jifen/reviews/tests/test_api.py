import json

import pytest
from django.test import Client

from jifen.reviews import services
from jifen.reviews.models import Review
from jifen.reviews.tests.conftest import png

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(f"/api/v1{path}", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def approved(make_member, make_order, operator, goods):
    """Two approved reviews of the earbuds (5 with a photo, anonymous; 3) and a pending one."""
    reviews = []
    for rating, anonymous, photos in (
        (5, True, [("a.png", png())]),
        (3, False, []),
        (1, False, []),
    ):
        owner = make_member(name="李雷雷")
        line = make_order(owner, skus=[goods["white"]]).lines.first()
        reviews.append(
            services.review_submit(
                member_id=owner.pk,
                order_line_id=line.pk,
                rating=rating,
                text=f"{rating} 星评价",
                is_anonymous=anonymous,
                photos=photos,
            )
        )
    for review in reviews[:2]:
        services.review_moderate(review_id=review.pk, action="approve", by=operator)
    return reviews


def test_item_reviews_public(approved, goods):
    response = Client().get(f"/api/v1/items/{goods['earbuds'].pk}/reviews")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["rating"] == {
        "count": 2,
        "average": 4.0,
        "distribution": {"5": 1, "4": 0, "3": 1, "2": 0, "1": 0},
    }
    assert [(r["rating"], r["member"], r["text"]) for r in body["items"]] == [
        (3, "李雷雷", "3 星评价"),
        (5, "李**雷", "5 星评价"),
    ]
    photo = body["items"][1]["photos"][0]
    assert photo["url"].startswith("http://testserver/media/reviews/")
    assert photo["thumbnail"].endswith("-thumb.jpg")
    assert body["items"][0]["sku_label"] == "白色"


def test_item_reviews_paginated(approved, goods):
    body = Client().get(f"/api/v1/items/{goods['earbuds'].pk}/reviews?page=2&page_size=1").json()
    assert (body["count"], [r["rating"] for r in body["items"]]) == (2, [5])


@pytest.mark.parametrize("query", ["page=0", "page_size=101", "page=x"])
def test_item_reviews_bad_paging(approved, goods, query):
    response = Client().get(f"/api/v1/items/{goods['earbuds'].pk}/reviews?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("item_id", ["999999", "0", "99999999999999999999999"])
def test_item_reviews_unknown_item(db, item_id):
    response = Client().get(f"/api/v1/items/{item_id}/reviews")
    assert response.status_code == 404
    assert response.json()["error"]["code"] in {"item_not_found", "not_found"}


def test_my_reviews_needs_login(db):
    assert Client().get("/api/v1/me/reviews").status_code == 401
    assert post(Client(), "/me/reviews", {"order_line_id": 1, "rating": 5}).status_code == 401


def test_post_and_list_my_reviews(member, make_order, bearer):
    order = make_order(member)
    line = order.lines.first()
    client = bearer(member)
    response = post(
        client,
        "/me/reviews",
        {"order_line_id": line.pk, "rating": 4, "text": "不错", "is_anonymous": True},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("order_number", "rating", "text", "is_anonymous", "status")} == {
        "order_number": order.number,
        "rating": 4,
        "text": "不错",
        "is_anonymous": True,
        "status": "pending",
    }
    assert body["status_label"] == "待审核"
    listed = client.get("/api/v1/me/reviews").json()
    assert (listed["count"], [r["id"] for r in listed["items"]]) == (1, [body["id"]])

    again = post(client, "/me/reviews", {"order_line_id": line.pk, "rating": 1})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "review_exists"
    assert Review.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"order_line_id": "1", "rating": 5},
        {"rating": 5},
        {"order_line_id": 1, "rating": 6},
        {"order_line_id": 1, "rating": 0},
        {"order_line_id": 1, "rating": 4.5},
        {"order_line_id": 1, "rating": 5, "text": 5},
        {"order_line_id": 1, "rating": 5, "is_anonymous": "yes"},
        {"order_line_id": 1, "rating": 5, "extra": 1},
    ],
)
def test_post_bad_input(member, make_order, bearer, body):
    line = make_order(member).lines.first()
    if body.get("order_line_id") == 1:
        body = {**body, "order_line_id": line.pk}
    response = post(bearer(member), "/me/reviews", body)
    assert response.status_code == 422
    assert Review.objects.count() == 0


def test_post_text_too_long(member, make_order, bearer):
    line = make_order(member).lines.first()
    response = post(
        bearer(member), "/me/reviews", {"order_line_id": line.pk, "rating": 5, "text": "长" * 501}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_text")
    assert Review.objects.count() == 0


def test_post_others_line_and_unreceived(member, make_member, make_order, bearer):
    others = make_order(make_member()).lines.first()
    response = post(bearer(member), "/me/reviews", {"order_line_id": others.pk, "rating": 5})
    assert (response.status_code, response.json()["error"]["code"]) == (
        404,
        "order_line_not_found",
    )
    shipped = make_order(member, status="shipped").lines.first()
    response = post(bearer(member), "/me/reviews", {"order_line_id": shipped.pk, "rating": 5})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "order_not_received")
    assert Review.objects.count() == 0


def test_helpful(approved, make_member, bearer):
    five = approved[0]
    reader = bearer(make_member())
    first = reader.post(f"/api/v1/reviews/{five.pk}/helpful")
    second = reader.post(f"/api/v1/reviews/{five.pk}/helpful")
    assert (first.status_code, first.json()) == (200, {"marked": True, "helpful_count": 1})
    assert (second.status_code, second.json()) == (200, {"marked": False, "helpful_count": 1})
    pending = approved[2]
    assert reader.post(f"/api/v1/reviews/{pending.pk}/helpful").status_code == 404
