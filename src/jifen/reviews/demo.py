"""Demo reviews: the lines of the demo's received (delivered or completed) orders get
reviews through the services — most approved (some with generated photos), one left
pending, one rejected. Idempotent: a line keeps the review it has, and moderation to the
status a review already has changes nothing, so `jifen load-demo` can run again.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

from jifen.catalog.images import PALETTES, product_image
from jifen.reviews import services
from jifen.reviews.models import Review

TEXTS = [
    (5, "包装很用心，东西和图片一样，积分换的很值！", True),
    (4, "物流很快，质量不错，就是颜色比图片稍微深一点。", True),
    (5, "第二次兑换了，家里人都说好用。", False),
    (3, "一般般，能用，但做工还可以更好。", False),
    (5, "客服很耐心，发货速度快，五星好评。", True),
    (2, "收到时外盒有点压坏了，东西没问题。", False),
    (4, "性价比很高，推荐大家用积分换。", False),
    (5, "超出预期，做工精细，手感很好。", True),
]
PENDING_AT, REJECTED_AT = 1, 3  # which reviews (by line order) stay pending / are rejected
MAX_LINES = 24


def review_photo_jpeg(*, name: str, seed: int) -> bytes:
    """A member's "photo" of the goods: the product picture on a tabletop, slightly turned
    and softened, as a 900×900 JPEG. Drawn with Pillow; nothing is downloaded."""
    top, bottom = PALETTES[(seed + 3) % len(PALETTES)]
    canvas = Image.new("RGB", (900, 900), tuple(int(c * 0.35 + 150) for c in top))
    draw = ImageDraw.Draw(canvas)
    for y in range(450, 900, 30):  # the table's planks
        draw.line((0, y, 900, y + 40), fill=tuple(int(c * 0.3 + 120) for c in bottom), width=3)
    product = product_image(name=name, seed=seed).resize((560, 560))
    product = product.rotate((seed % 7) - 3, expand=True, fillcolor=(0, 0, 0))
    mask = Image.new("L", product.size, 0)
    ImageDraw.Draw(mask).rectangle((8, 8, product.size[0] - 8, product.size[1] - 8), fill=255)
    shadow = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    ImageDraw.Draw(shadow).rectangle((190, 200, 770, 780), fill=(0, 0, 0, 90))
    shadow = shadow.filter(ImageFilter.GaussianBlur(24))
    canvas.paste(shadow, (0, 0), shadow)
    canvas.paste(product, (170, 150), mask.filter(ImageFilter.GaussianBlur(1)))
    out = io.BytesIO()
    canvas.filter(ImageFilter.SMOOTH).save(out, "JPEG", quality=82)
    return out.getvalue()


def load_reviews_demo(*, log: Callable[[str], None] = print) -> list[Review]:
    """Review the received orders' lines (up to 24, oldest first) and moderate them.
    Returns the demo's reviews; logs and returns [] when no order is received yet."""
    from jifen.members.models import User
    from jifen.orders.models import OrderLine

    lines = list(
        OrderLine.objects.filter(order__status__in=services.RECEIVED_STATUSES)
        .select_related("order")
        .order_by("pk")[:MAX_LINES]
    )
    if not lines:
        log("reviews: no delivered or completed orders yet; no demo reviews")
        return []
    operator = (
        User.objects.filter(is_staff=True, is_active=True).order_by("-is_superuser", "pk").first()
    )
    reviews = []
    for n, line in enumerate(lines):
        review = Review.objects.filter(order_line=line).first()
        if review is None:
            rating, text, with_photos = TEXTS[n % len(TEXTS)]
            photos = (
                [
                    (f"demo-{line.pk}-{k}.jpg", review_photo_jpeg(name=line.item_name, seed=n + k))
                    for k in range(1 + n % 3)
                ]
                if with_photos
                else []
            )
            review = services.review_submit(
                member_id=line.order.member_id,
                order_line_id=line.pk,
                rating=rating,
                text=text,
                is_anonymous=n % 4 == 2,
                photos=photos,
            )
        if operator is not None and n != PENDING_AT:
            if n == REJECTED_AT:
                review = services.review_moderate(
                    review_id=review.pk, action="reject", by=operator, note="内容与商品无关"
                )
            else:
                review = services.review_moderate(
                    review_id=review.pk, action="approve", by=operator
                )
        reviews.append(review)
    counts = {s: sum(r.status == s for r in reviews) for s in Review.Status.values}
    log(
        "reviews: {approved} approved, {pending} pending, {rejected} rejected".format(
            approved=counts["approved"], pending=counts["pending"], rejected=counts["rejected"]
        )
    )
    return reviews
