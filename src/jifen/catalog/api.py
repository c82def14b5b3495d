"""The mall catalog in the JSON API: items (search, filters, sorting) and categories.

Reads only, open to anonymous callers (who see what rank 0 sees); a member, by session or
bearer token, sees the items of their tier and may ask for `affordable` ones.
"""

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from jifen.catalog import selectors
from jifen.catalog.models import Item
from jifen.core.errors import NotFound
from jifen.members.api import ERRORS

router = Router(tags=["catalog"])

MAX_ID = 2**63 - 1
Sort = Literal["recommended", "popular", "new", "points_asc", "points_desc"]
Kind = Literal["physical", "virtual", "coupon", "service"]


class CategoryRef(Schema):
    id: int
    name: str


class ItemOut(Schema):
    id: int
    name: str
    name_en: str
    subtitle: str
    kind: str
    fulfilment: str
    category: CategoryRef
    points: int = Field(description="积分价（最便宜的 SKU）")
    cash: str = Field(description='加钱购金额（最便宜的 SKU），如 "9.90"')
    currency: str
    market_price: str | None
    stock: int
    in_stock: bool
    is_featured: bool
    min_tier_rank: int
    redemptions_count: int
    image: str | None
    thumbnail: str | None


class ItemList(Schema):
    items: list[ItemOut]
    count: int


class SkuOut(Schema):
    id: int
    code: str
    options: dict
    points: int
    cash: str
    currency: str
    stock: int


class SpecOut(Schema):
    name: str
    values: list[str]


class ImageOut(Schema):
    url: str
    thumbnail: str | None
    alt: str


class CouponOut(Schema):
    value: str
    threshold: str
    valid_days: int | None


class ItemDetailOut(ItemOut):
    description: str
    tags: list[str]
    images: list[ImageOut]
    specs: list[SpecOut]
    skus: list[SkuOut]
    per_member_limit: int | None
    per_order_limit: int | None
    valid_days: int | None
    coupon: CouponOut | None
    on_shelf_at: dt.datetime | None
    off_shelf_at: dt.datetime | None


class CategoryOut(Schema):
    id: int
    name: str
    name_en: str
    icon: str
    children: list["CategoryOut"]


class CategoryList(Schema):
    items: list[CategoryOut]
    count: int


class ItemFilters(Schema):
    q: str | None = Field(None, max_length=100, description="关键词（中文或英文，可部分匹配）")
    category: int | None = Field(None, ge=1, le=MAX_ID, description="分类（含下级分类）")
    kind: Kind | None = None
    points_min: int | None = Field(None, ge=0, le=10**12)
    points_max: int | None = Field(None, ge=0, le=10**12)
    in_stock: bool = False
    affordable: bool = Field(False, description="只看我的积分够兑换的（需登录）")
    sort: Sort = "recommended"
    page: int = Field(1, ge=1, le=10**6)
    page_size: int = Field(20, ge=1, le=100)


def _member_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not user.is_closed:
        return user.pk
    return None


def _url(request: HttpRequest, field) -> str | None:
    return request.build_absolute_uri(field.url) if field else None


def _item(request: HttpRequest, item: Item) -> dict:
    images = list(item.images.all())
    first = images[0] if images else None
    return {
        "id": item.pk,
        "name": item.name,
        "name_en": item.name_en,
        "subtitle": item.subtitle,
        "kind": item.kind,
        "fulfilment": item.fulfilment,
        "category": {"id": item.category_id, "name": item.category.name},
        "points": item.price_points,
        "cash": selectors.money(item.price_cash),
        "currency": item.currency,
        "market_price": selectors.money(item.market_price),
        "stock": item.stock,
        "in_stock": item.stock > 0,
        "is_featured": item.is_featured,
        "min_tier_rank": item.min_tier_rank,
        "redemptions_count": item.redemptions_count,
        "image": _url(request, first.image) if first else None,
        "thumbnail": _url(request, first.thumbnail) if first else None,
    }


@router.get("/items", response={200: ItemList, **ERRORS})
def item_list(request, filters: Query[ItemFilters]):
    """Search the mall: `q` matches name, English name, subtitle, tags and category names
    (every word, partial words too); filters; sorting; `{"items", "count"}`."""
    result = selectors.item_search(
        member_id=_member_id(request),
        q=filters.q,
        category_id=filters.category,
        kind=filters.kind,
        points_min=filters.points_min,
        points_max=filters.points_max,
        in_stock=filters.in_stock,
        affordable=filters.affordable,
        sort=filters.sort,
        page=filters.page,
        page_size=filters.page_size,
    )
    return {"items": [_item(request, item) for item in result.items], "count": result.count}


@router.get("/items/{item_id}", response={200: ItemDetailOut, **ERRORS})
def item_get(request, item_id: int):
    """One item with its SKUs (`id`, `stock`, `points`, `cash`, `currency`), specs, images."""
    if not 1 <= item_id <= MAX_ID:
        raise NotFound(code="item_not_found")
    item = selectors.item_detail(item_id=item_id, member_id=_member_id(request))
    coupon = None
    if item.kind == Item.Kind.COUPON:
        coupon = {
            "value": selectors.money(item.coupon_value),
            "threshold": selectors.money(item.coupon_threshold),
            "valid_days": item.valid_days,
        }
    return {
        **_item(request, item),
        "description": item.description,
        "tags": [tag.name for tag in item.tags.all()],
        "images": [
            {"url": _url(request, i.image), "thumbnail": _url(request, i.thumbnail), "alt": i.alt}
            for i in item.images.all()
        ],
        "specs": [{"name": s.name, "values": s.values} for s in item.specs.all()],
        "skus": [
            {
                "id": sku.pk,
                "code": sku.code,
                "options": sku.options,
                "points": sku.points,
                "cash": selectors.money(sku.cash),
                "currency": sku.currency,
                "stock": sku.remaining,
            }
            for sku in item.active_skus
        ],
        "per_member_limit": item.per_member_limit,
        "per_order_limit": item.per_order_limit,
        "valid_days": item.valid_days,
        "coupon": coupon,
        "on_shelf_at": timezone.localtime(item.on_shelf_at) if item.on_shelf_at else None,
        "off_shelf_at": timezone.localtime(item.off_shelf_at) if item.off_shelf_at else None,
    }


def _node(node: selectors.CategoryNode) -> dict:
    return {
        "id": node.id,
        "name": node.name,
        "name_en": node.name_en,
        "icon": node.icon,
        "children": [_node(child) for child in node.children],
    }


@router.get("/categories", response={200: CategoryList, **ERRORS})
def category_list(request):
    """The category tree: top-level categories, each with its `children`."""
    roots = selectors.category_tree()
    return {"items": [_node(root) for root in roots], "count": len(roots)}
