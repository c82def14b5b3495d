"""Review pages: the review form of an order line, an item's reviews, my reviews, and the
"helpful" button. Each view parses input, calls one service or selector and renders."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jifen.core.errors import Conflict, DomainError, NotFound
from jifen.reviews import selectors, services
from jifen.reviews.forms import RATING_LABELS, ReviewForm
from jifen.reviews.models import MAX_PHOTOS, MAX_TEXT, Review

PAGE_SIZE = 10


def _page(request) -> int:
    try:
        return max(1, min(int(request.GET.get("page", 1)), 10**6))
    except (TypeError, ValueError):
        return 1


def _order_url(number: str) -> str:
    """The order's detail page (the orders app's), or my reviews if it has none yet."""
    try:
        return reverse("orders:detail", args=[number])
    except NoReverseMatch:
        return reverse("reviews:mine")


def _uploads(request) -> list[tuple[str, bytes]]:
    # Read at most one byte over the limit, and one file over the count: the service refuses
    # them without this process holding a hundred huge uploads in memory.
    files = request.FILES.getlist("photos")[: services.MAX_PHOTOS + 1]
    return [(f.name, f.read(services.MAX_PHOTO_BYTES + 1)) for f in files]


@login_required
def review_new(request, line_id: int):
    try:
        line = selectors.line_for_review(member_id=request.user.pk, order_line_id=line_id)
    except NotFound as error:
        raise Http404(error.message) from error
    except Conflict as error:
        messages.info(request, error.message)
        from jifen.orders.models import OrderLine

        number = OrderLine.objects.filter(pk=line_id).values_list("order__number", flat=True)
        return redirect(_order_url(number.first() or ""))
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.review_submit(
                member_id=request.user.pk,
                order_line_id=line.pk,
                rating=data["rating"],
                text=data["text"],
                is_anonymous=data["is_anonymous"],
                photos=_uploads(request),
            )
        except DomainError as error:
            target = "photos" if "photos" in error.fields else None
            if target is None and error.fields.keys() & {"rating", "text"}:
                target = next(iter(error.fields.keys() & {"rating", "text"}))
            if target == "photos":
                form.add_error(None, error.message)
            else:
                form.add_error(target, error.message)
        else:
            if services.reviews_premoderated():
                messages.success(request, _("评价已提交，审核通过后展示。"))
            else:
                messages.success(request, _("评价已发布，感谢分享！"))
            return HttpResponseRedirect(_order_url(line.order.number))
    return render(
        request,
        "reviews/new.html",
        {
            "form": form,
            "line": line,
            "labels": RATING_LABELS,
            "max_photos": MAX_PHOTOS,
            "max_text": MAX_TEXT,
            "selected": form["rating"].value(),
            "order_url": _order_url(line.order.number),
            "nav": "mall",
        },
    )


@login_required
def item_reviews(request, item_id: int):
    try:
        result = selectors.item_reviews(item_id=item_id, page=_page(request), page_size=PAGE_SIZE)
    except NotFound as error:
        raise Http404(error.message) from error
    from jifen.catalog.models import Item

    item = Item.objects.get(pk=item_id)
    return render(
        request,
        "reviews/item_reviews.html",
        {
            "item": item,
            "result": result,
            "summary": selectors.item_rating(item_id=item_id),
            "nav": "mall",
        },
    )


@login_required
def my_reviews(request):
    result = selectors.member_reviews(
        member_id=request.user.pk, page=_page(request), page_size=PAGE_SIZE
    )
    return render(request, "reviews/mine.html", {"result": result, "nav": "me"})


@login_required
@require_POST
def review_helpful(request, review_id: int):
    try:
        services.review_mark_helpful(member_id=request.user.pk, review_id=review_id)
    except NotFound as error:
        raise Http404(error.message) from error
    except DomainError as error:
        messages.error(request, error.message)
    count = Review.objects.filter(pk=review_id).values_list("helpful_count", flat=True).first()
    if request.htmx:
        return render(request, "reviews/includes/helpful_done.html", {"count": count or 0})
    item_id = Review.objects.filter(pk=review_id).values_list("item_id", flat=True).first()
    return redirect(reverse("reviews:item", args=[item_id]))
