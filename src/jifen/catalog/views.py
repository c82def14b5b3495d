"""The mall pages: home, search (htmx partial updates), item detail."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from jifen.catalog import selectors
from jifen.catalog.forms import SORT_CHOICES, SearchForm
from jifen.catalog.models import Category, Item
from jifen.core.errors import DomainError, NotFound

PAGE_SIZE = 20


@login_required
def mall_home(request):
    home = selectors.mall_home(member_id=request.user.pk)
    return render(request, "catalog/home.html", {"home": home, "nav": "mall"})


@login_required
def mall_search(request):
    form = SearchForm(request.GET)
    result, error = None, None
    values: dict = {}
    if form.is_valid():
        values = form.cleaned_data
        try:
            result = selectors.item_search(
                member_id=request.user.pk,
                q=values["q"],
                category_id=values["category"],
                kind=values["kind"] or None,
                points_min=values["points_min"],
                points_max=values["points_max"],
                in_stock=values["in_stock"],
                affordable=values["affordable"],
                sort=values["sort"] or "recommended",
                page=values["page"] or 1,
                page_size=PAGE_SIZE,
            )
        except DomainError as failure:
            error = failure.message
    params = {k: v for k, v in request.GET.items() if k != "page" and v not in ("", None)}
    category = None
    if values.get("category"):
        category = Category.objects.filter(pk=values["category"]).first()
    context = {
        "form": form,
        "result": result,
        "error": error,
        "sort": values.get("sort") or "recommended",
        "sorts": SORT_CHOICES,
        "kinds": Item.Kind.choices,
        "kind": values.get("kind") or "",
        "category": category,
        "categories": selectors.category_tree(),
        "query": urlencode(params),
        "sort_query": urlencode({k: v for k, v in params.items() if k != "sort"}),
        "kind_query": urlencode({k: v for k, v in params.items() if k != "kind"}),
        "nav": "mall",
    }
    partial = request.htmx and request.htmx.target == "mall-results"
    template = "catalog/partials/results.html" if partial else "catalog/search.html"
    return render(request, template, context)


@login_required
def item_page(request, item_id: int):
    try:
        item = selectors.item_detail(item_id=item_id, member_id=request.user.pk)
    except NotFound as error:
        raise Http404(error.message) from error
    balance = selectors.member_balance(request.user.pk)
    return render(
        request,
        "catalog/item.html",
        {
            "item": item,
            "images": list(item.images.all()),
            "specs": list(item.specs.all()),
            "skus_json": selectors.sku_options_json(item),
            "tier_name": selectors.tier_name_for_rank(item.min_tier_rank)
            if item.min_tier_rank
            else "",
            "balance": balance,
            "affordable": balance is not None and balance >= (item.price_points or 0),
            "share_target": f"item:{item.pk}",  # sharing an item earns points (engagement)
            "nav": "mall",
        },
    )
