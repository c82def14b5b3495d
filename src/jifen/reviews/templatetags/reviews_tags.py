"""Review blocks for other apps' pages: the item page and the order detail page include
reviews/_item_reviews.html and reviews/_order_reviews.html, which call these inclusion tags,
so those pages' views need no change."""

from django import template

from jifen.reviews import selectors

register = template.Library()

LATEST = 3


@register.inclusion_tag("reviews/includes/item_block.html", takes_context=True)
def item_reviews_block(context, item):
    """Average stars, count, distribution and the latest approved reviews of `item`."""
    return {
        "item": item,
        "summary": selectors.item_rating(item_id=item.pk),
        "reviews": selectors.item_reviews_latest(item_id=item.pk, size=LATEST),
        "request": context.get("request"),
        "user": context.get("user"),
    }


@register.inclusion_tag("reviews/includes/order_block.html", takes_context=True)
def order_reviews_block(context, order):
    """Each line of `order`: a "评价" link when it may be reviewed, else its review."""
    rows = selectors.order_line_reviews(order=order)
    return {
        "order": order,
        "rows": rows,
        # Nothing to say before the goods are received and while no line has a review.
        "show": any(row.review or row.can_review for row in rows),
        "request": context.get("request"),
    }


@register.filter
def reviewer(review) -> str:
    """The name shown with a review (masked when anonymous)."""
    return selectors.display_name(review)


@register.inclusion_tag("reviews/includes/stars.html")
def stars(rating, size="sm"):
    """Five stars, `rating` of them filled, with the rating as text for screen readers."""
    try:
        rating = int(rating or 0)
    except (TypeError, ValueError):
        rating = 0
    return {"rating": rating, "filled": range(rating), "empty": range(5 - rating), "size": size}
