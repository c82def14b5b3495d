"""The review form and the item page's reviews in Chromium, at phone and desktop widths."""

import mimetypes

import pytest
from django.conf import settings
from django.test import Client

from jifen.reviews import services
from jifen.reviews.demo import review_photo_jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _media(route, root):
    path = root / route.request.url.split("/media/", 1)[1]
    if not path.is_file():
        return route.fulfill(status=404)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return route.fulfill(status=200, body=path.read_bytes(), content_type=kind)


SIZES = {"phone": (390, 844), "desktop": (1280, 900)}


def test_review_form_and_item_block(
    live_server, browser, make_member, make_order, operator, goods, tmp_path, media
):
    owner = make_member(name="王小二", password="Secret-pass-123")
    first, second = make_order(owner).lines.all()
    review = services.review_submit(
        member_id=owner.pk,
        order_line_id=first.pk,
        rating=4,
        text="音质清楚，佩戴舒服，续航比预期的还长。",
        is_anonymous=True,
        photos=[("a.jpg", review_photo_jpeg(name="无线蓝牙耳机", seed=k)) for k in range(2)],
    )
    services.review_moderate(review_id=review.pk, action="approve", by=operator)
    for name, (width, height) in SIZES.items():
        client = Client()
        client.force_login(owner)
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        context.route("**/media/**", lambda route: _media(route, media))
        page = context.new_page()
        page.goto(f"{live_server.url}/mall/reviews/new/{second.pk}/")
        page.focus("#rating-1")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.is_checked("#rating-3")
        page.screenshot(path=str(tmp_path / f"form-{name}.png"), full_page=True)
        page.goto(f"{live_server.url}/mall/items/{goods['earbuds'].pk}/#reviews")
        page.locator("[data-testid=item-reviews]").screenshot(
            path=str(tmp_path / f"item-{name}.png")
        )
        assert page.locator("[data-testid=review]").count() == 1
        context.close()
    print(tmp_path)
