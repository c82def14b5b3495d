"""Reads of the catalog: what a member may see, search, filters, sorting, item details.

An item is visible to a member when it is active, in an active category, on the shelf
(on_shelf_at <= now < off_shelf_at; either bound optional), has an active SKU, and the
member's tier rank (jifen.tiers.selectors.member_tier) is at least its `min_tier_rank`.
Anonymous visitors have rank 0.

Search (`?q=`) is case-insensitive substring matching on one column the services keep
(name, English name, subtitle, keywords, tags, category names), so partial words match in
Chinese ("咖啡" in "星巴克咖啡券") and English ("coff" in "coffee"); every word of the query
must match. On PostgreSQL a trigram GIN index serves the same LIKE (migration 0002).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.catalog.models import Category, Item, ItemImage, LowStockAlert, Sku
from jifen.core.errors import NotFound, ValidationFailed
from jifen.core.pagination import page_bounds

SORTS = ("recommended", "popular", "new", "points_asc", "points_desc")
MAX_QUERY_LENGTH = 100


def member_tier_rank(member_id: int | None) -> int:
    """The member's tier rank (0 for anonymous visitors)."""
    if member_id is None:
        return 0
    from jifen.tiers.selectors import member_tier

    return member_tier(member_id).rank


def member_balance(member_id: int | None) -> int | None:
    """Available points, or None for anonymous visitors."""
    if member_id is None:
        return None
    from jifen.ledger.selectors import points_summary

    try:
        return points_summary(member_id=member_id)["available"]
    except NotFound:  # a user without a wallet (an operator made by createsuperuser)
        return 0


def tier_name_for_rank(rank: int) -> str:
    """The name of the level with this rank (the closest below if none has it)."""
    from jifen.tiers.selectors import levels_active

    name = ""
    for level in levels_active():
        if level.rank <= rank:
            name = level.name
    return name


# --- categories -------------------------------------------------------------------------------


@dataclass
class CategoryNode:
    id: int
    name: str
    name_en: str
    icon: str
    parent_id: int | None
    children: list[CategoryNode] = field(default_factory=list)


def category_tree(*, active_only: bool = True) -> list[CategoryNode]:
    """The categories as a tree (top level first, each level by sort order). One query."""
    rows = Category.objects.all()
    if active_only:
        rows = rows.filter(is_active=True)
    nodes = {
        c.pk: CategoryNode(c.pk, c.name, c.name_en, c.icon, c.parent_id)
        for c in rows.order_by("sort_order", "pk")
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id else None
        if parent is not None:
            parent.children.append(node)
        elif node.parent_id is None:
            roots.append(node)
    return roots


def category_descendant_ids(category_id: int) -> set[int]:
    """The category and every category below it."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found, todo = {category_id}, [category_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def category_get(category_id: int) -> Category:
    category = Category.objects.filter(pk=category_id, is_active=True).first()
    if category is None:
        raise NotFound(_("分类不存在。"), code="category_not_found")
    return category


# --- items ------------------------------------------------------------------------------------


def items_visible(*, tier_rank: int = 0, now: dt.datetime | None = None) -> QuerySet[Item]:
    """Visible items, annotated with `price_points` and `price_cash` (the cheapest active
    SKU) and `stock` (units remaining over active SKUs)."""
    now = now or timezone.now()
    active_skus = Sku.objects.filter(item=OuterRef("pk"), is_active=True)
    cheapest = active_skus.order_by("points", "cash", "pk")
    stock = active_skus.order_by().values("item").annotate(s=Sum("remaining")).values("s")
    return (
        Item.objects.filter(is_active=True, category__is_active=True, min_tier_rank__lte=tier_rank)
        .filter(Q(on_shelf_at__isnull=True) | Q(on_shelf_at__lte=now))
        .filter(Q(off_shelf_at__isnull=True) | Q(off_shelf_at__gt=now))
        .filter(Exists(active_skus))
        .annotate(
            price_points=Subquery(cheapest.values("points")[:1], output_field=IntegerField()),
            price_cash=Subquery(
                cheapest.values("cash")[:1],
                output_field=DecimalField(max_digits=10, decimal_places=2),
            ),
            stock=Coalesce(Subquery(stock, output_field=IntegerField()), 0),
        )
        .select_related("category")
        .prefetch_related(
            Prefetch("images", queryset=ItemImage.objects.order_by("sort_order", "pk"))
        )
    )


def _ordered(items: QuerySet[Item], sort: str) -> QuerySet[Item]:
    if sort == "popular":
        return items.order_by("-redemptions_count", "-pk")
    if sort == "new":
        return items.order_by(Coalesce("on_shelf_at", "created_at").desc(), "-pk")
    if sort == "points_asc":
        return items.order_by("price_points", "price_cash", "pk")
    if sort == "points_desc":
        return items.order_by("-price_points", "-price_cash", "-pk")
    return items.order_by("-is_featured", "sort_order", "-pk")


def search_terms(q: str | None) -> list[str]:
    """The lower-cased words of a query; ValidationFailed when too long or with NUL."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY_LENGTH or "\x00" in q:
        raise ValidationFailed(
            _("搜索词不能超过 %(n)s 个字符。") % {"n": MAX_QUERY_LENGTH},
            code="invalid_query",
            fields={"q": q[:20]},
        )
    return [term.lower() for term in q.split()][:8]


@dataclass
class SearchResult:
    items: list[Item]
    count: int
    page: int
    page_size: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.count


def item_search(
    *,
    member_id: int | None = None,
    q: str | None = None,
    category_id: int | None = None,
    kind: str | None = None,
    points_min: int | None = None,
    points_max: int | None = None,
    in_stock: bool = False,
    affordable: bool = False,
    sort: str = "recommended",
    page: int = 1,
    page_size: int = 20,
    now: dt.datetime | None = None,
) -> SearchResult:
    """Visible items matching a query and filters, sorted and paginated.

    Points filters compare the cheapest SKU's points; `affordable` keeps items whose
    cheapest SKU costs no more than the member's available points (a member is needed:
    Unauthenticated otherwise). `category_id` includes its descendants. ValidationFailed
    for an unknown sort or kind, a negative or inverted points range, a bad page.
    """
    offset, limit = page_bounds(page, page_size)
    if sort not in SORTS:
        raise ValidationFailed(_("排序方式不正确。"), code="invalid_sort", fields={"sort": sort})
    if kind and kind not in Item.Kind.values:
        raise ValidationFailed(_("商品类型不正确。"), code="invalid_kind", fields={"kind": kind})
    for name, value in (("points_min", points_min), ("points_max", points_max)):
        if value is not None and value < 0:
            raise ValidationFailed(
                _("积分范围不能为负数。"), code="invalid_points_range", fields={name: value}
            )
    if points_min is not None and points_max is not None and points_min > points_max:
        raise ValidationFailed(
            _("最低积分不能高于最高积分。"),
            code="invalid_points_range",
            fields={"points_min": points_min, "points_max": points_max},
        )
    items = items_visible(tier_rank=member_tier_rank(member_id), now=now)
    for term in search_terms(q):
        items = items.filter(search_text__contains=term)
    if category_id is not None:
        items = items.filter(category_id__in=category_descendant_ids(category_id))
    if kind:
        items = items.filter(kind=kind)
    if points_min is not None:
        items = items.filter(price_points__gte=points_min)
    if points_max is not None:
        items = items.filter(price_points__lte=points_max)
    if in_stock:
        items = items.filter(stock__gt=0)
    if affordable:
        balance = member_balance(member_id)
        if balance is None:
            from jifen.core.errors import Unauthenticated

            raise Unauthenticated(_("请先登录。"), code="unauthenticated")
        items = items.filter(price_points__lte=balance)
    count = items.count()
    rows = list(_ordered(items, sort)[offset : offset + limit])
    return SearchResult(items=rows, count=count, page=page, page_size=limit)


def item_detail(*, item_id: int, member_id: int | None = None) -> Item:
    """A visible item with its active SKUs (`item.active_skus`), images, specs and tags;
    NotFound otherwise (also for items above the member's tier or off the shelf)."""
    if isinstance(item_id, bool) or not isinstance(item_id, int) or not 1 <= item_id < 2**63:
        raise NotFound(_("商品不存在或已下架。"), code="item_not_found")
    item = (
        items_visible(tier_rank=member_tier_rank(member_id))
        .filter(pk=item_id)
        .prefetch_related(
            "tags",
            "specs",
            Prefetch(
                "skus",
                queryset=Sku.objects.filter(is_active=True).order_by("sort_order", "pk"),
                to_attr="active_skus",
            ),
        )
        .first()
    )
    if item is None:
        raise NotFound(_("商品不存在或已下架。"), code="item_not_found")
    return item


@dataclass
class MallHome:
    balance: int | None
    featured: list[Item]
    hot: list[Item]
    new: list[Item]
    affordable: list[Item]
    categories: list[CategoryNode]


def mall_home(*, member_id: int | None, size: int = 8) -> MallHome:
    """The mall home: featured banners, popular and new items, what the member can afford
    (the dearest first: the best they can get now), top-level categories."""
    rank = member_tier_rank(member_id)
    visible = items_visible(tier_rank=rank)
    balance = member_balance(member_id)
    affordable: list[Item] = []
    if balance is not None:
        affordable = list(
            visible.filter(price_points__lte=balance, stock__gt=0).order_by("-price_points", "-pk")[
                :size
            ]
        )
    return MallHome(
        balance=balance,
        featured=list(visible.filter(is_featured=True).order_by("sort_order", "-pk")[:6]),
        hot=list(_ordered(visible, "popular")[:size]),
        new=list(_ordered(visible, "new")[:size]),
        affordable=affordable,
        categories=category_tree(),
    )


def sku_options_json(item: Item) -> list[dict]:
    """The SKUs as the spec picker needs them."""
    return [
        {
            "id": sku.pk,
            "options": sku.options,
            "points": sku.points,
            "cash": str(sku.cash),
            "stock": sku.remaining,
        }
        for sku in getattr(item, "active_skus", [])
    ]


# --- stock ------------------------------------------------------------------------------------


def low_stock_count() -> int:
    """Open low-stock alerts (the back-office badge)."""
    return LowStockAlert.objects.filter(resolved_at__isnull=True).count()


def sku_stock(*, sku_id: int) -> dict:
    row = (
        Sku.objects.filter(pk=sku_id)
        .values(
            "stock_initial", "received", "returned", "adjusted", "reserved", "sold", "remaining"
        )
        .first()
    )
    if row is None:
        raise NotFound(_("SKU 不存在。"), code="sku_not_found")
    return row


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"
