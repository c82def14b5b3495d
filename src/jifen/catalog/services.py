"""Writes to the catalog and its stock (docs: jifen.catalog.models for I4).

Catalog: `category_save`, `item_save`, `item_specs_set`, `sku_create`, `sku_update`,
`item_skus_generate`, `item_image_add`, `item_search_text_refresh`.

Stock (what checkout and after-sales call):
- `stock_reserve(sku_id, quantity, reference)`: remaining → reserved, for one checkout line;
  `stock_reserve_lines(lines)` reserves several SKUs in ascending SKU order (no deadlocks);
- `stock_release(reference)`: reserved → remaining (cancelled or timed-out checkout);
- `stock_commit(reference)`: reserved → sold (paid), and the item's redemptions count;
- `stock_return(reference, quantity)`: sold units back into remaining (after-sales);
- `stock_adjust(sku_id, delta, reason, by)`: goods received (+) or a stocktake (±).

Guarantees, kept by the database rather than by Python:
- Once only: each operation claims a unique row first (the reservation's reference, or the
  movement's (kind, reference)); a repeated call changes nothing and returns the first
  result; the same reference with other arguments is a Conflict.
- Never negative, never oversold: counters change by one guarded UPDATE each
  (`remaining = remaining - n WHERE remaining >= n`, row count checked), backed by CHECKs.
- Every change writes a StockMovement in the same transaction (I4 checks them).

Errors raised: ValidationFailed, NotFound, OutOfStock (409), Conflict.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import uuid
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.catalog.models import (
    Category,
    Item,
    ItemImage,
    ItemSpec,
    LowStockAlert,
    MemberItemQuota,
    QuotaMovement,
    Sku,
    StockMovement,
    StockReservation,
    Tag,
)
from jifen.core.errors import Conflict, NotFound, ValidationFailed

MAX_QUANTITY = 1_000_000
MAX_POINTS = 100_000_000
MAX_CASH = Decimal("99999999.99")
MAX_IMAGE_BYTES = 8 * 1024 * 1024
THUMBNAIL_SIZE = (480, 480)
FULFILMENTS = {
    Item.Kind.PHYSICAL: {Item.Fulfilment.SHIPPING},
    Item.Kind.VIRTUAL: {Item.Fulfilment.CODE, Item.Fulfilment.LINK},
    Item.Kind.COUPON: {Item.Fulfilment.COUPON},
    Item.Kind.SERVICE: {Item.Fulfilment.VOUCHER},
}


class OutOfStock(Conflict):
    code = "out_of_stock"
    default_message = "Not enough stock."


# --- validation -------------------------------------------------------------------------------


def _quantity(value, field_name: str = "quantity") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise ValidationFailed(
            _("数量须为 1 到 %(max)s 之间的整数。") % {"max": MAX_QUANTITY},
            code="invalid_quantity",
            fields={field_name: value},
        )
    return value


def _reference(value, field_name: str = "reference") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100 or "\x00" in value:
        raise ValidationFailed(
            _("业务单号须为 1 到 100 个字符。"),
            code="invalid_reference",
            fields={field_name: value},
        )
    return value


def _text(value, field_name: str, *, max_length: int, required: bool = False) -> str:
    value = "" if value is None else value
    if not isinstance(value, str) or "\x00" in value or len(value.strip()) > max_length:
        raise ValidationFailed(
            _("%(field)s 不能超过 %(n)s 个字符。") % {"field": field_name, "n": max_length},
            code="invalid_text",
            fields={field_name: value if isinstance(value, str) else str(value)},
        )
    value = value.strip()
    if required and not value:
        raise ValidationFailed(
            _("请填写%(field)s。") % {"field": field_name},
            code="required",
            fields={field_name: ""},
        )
    return value


def _points(value, field_name: str = "points") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POINTS:
        raise ValidationFailed(
            _("积分须为 0 到 %(max)s 之间的整数。") % {"max": MAX_POINTS},
            code="invalid_points",
            fields={field_name: value},
        )
    return value


def _money(value, field_name: str, *, allow_none: bool = False) -> Decimal | None:
    if value is None or value == "":
        if allow_none:
            return None
        value = "0"
    try:
        amount = Decimal(str(value)) if not isinstance(value, float) else None
    except (InvalidOperation, ValueError):
        amount = None
    if (
        amount is None
        or not amount.is_finite()
        or amount < 0
        or amount > MAX_CASH
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise ValidationFailed(
            _("金额须为不超过两位小数的非负数。"),
            code="invalid_amount",
            fields={field_name: str(value)},
        )
    return amount.quantize(Decimal("0.01"))


def _options_key(options: dict) -> str:
    return "|".join(f"{name}:{value}" for name, value in options.items())


# --- categories, tags, search text ------------------------------------------------------------


def _category_path_names(category_id: int) -> list[str]:
    """The names (Chinese and English) of a category and its ancestors."""
    names: list[str] = []
    seen: set[int] = set()
    current = category_id
    while current is not None and current not in seen:
        seen.add(current)
        row = Category.objects.filter(pk=current).values("parent_id", "name", "name_en").first()
        if row is None:
            break
        names += [row["name"], row["name_en"]]
        current = row["parent_id"]
    return names


def _descendants(category_id: int) -> set[int]:
    rows = list(Category.objects.values_list("pk", "parent_id"))
    children: dict[int | None, list[int]] = {}
    for pk, parent in rows:
        children.setdefault(parent, []).append(pk)
    found, todo = {category_id}, [category_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def item_search_text_refresh(*, item_ids: Iterable[int]) -> int:
    """Recompute the search column of these items (after a rename of them, their tags or
    their categories). Returns how many items were refreshed."""
    count = 0
    paths: dict[int, list[str]] = {}
    for item in Item.objects.filter(pk__in=list(item_ids)).prefetch_related("tags"):
        if item.category_id not in paths:
            paths[item.category_id] = _category_path_names(item.category_id)
        parts = [
            item.name,
            item.name_en,
            item.subtitle,
            item.keywords,
            *(tag.name for tag in item.tags.all()),
            *paths[item.category_id],
        ]
        text = " ".join(part.strip() for part in parts if part and part.strip()).lower()
        Item.objects.filter(pk=item.pk).update(search_text=text)
        count += 1
    return count


@transaction.atomic
def category_save(
    *,
    category_id: int | None = None,
    name: str,
    name_en: str = "",
    parent_id: int | None = None,
    icon: str = "",
    sort_order: int = 0,
    is_active: bool = True,
) -> Category:
    """Create or update a category. A category cannot be its own ancestor (ValidationFailed,
    `invalid_parent`); renaming refreshes the search text of the items under it."""
    name = _text(name, "name", max_length=40, required=True)
    name_en = _text(name_en, "name_en", max_length=60)
    icon = _text(icon, "icon", max_length=16)
    if parent_id is not None and not Category.objects.filter(pk=parent_id).exists():
        raise NotFound(_("上级分类不存在。"), code="category_not_found", fields={"parent_id": 0})
    if category_id is None:
        category = Category.objects.create(
            name=name,
            name_en=name_en,
            parent_id=parent_id,
            icon=icon,
            sort_order=sort_order,
            is_active=is_active,
        )
        return category
    category = Category.objects.select_for_update().filter(pk=category_id).first()
    if category is None:
        raise NotFound(_("分类不存在。"), code="category_not_found")
    category_validate(category_id=category_id, parent_id=parent_id)
    renamed = (category.name, category.name_en, category.parent_id) != (name, name_en, parent_id)
    Category.objects.filter(pk=category_id).update(
        name=name,
        name_en=name_en,
        parent_id=parent_id,
        icon=icon,
        sort_order=sort_order,
        is_active=is_active,
    )
    if renamed:
        subtree = _descendants(category_id)
        item_search_text_refresh(
            item_ids=Item.objects.filter(category_id__in=subtree).values_list("pk", flat=True)
        )
    category.refresh_from_db()
    return category


def tags_ensure(*, names: Iterable[str]) -> list[Tag]:
    """The tags with these names, created when missing (unique names: safe to race)."""
    tags = []
    for raw in names:
        name = _text(raw, "tags", max_length=30)
        if not name:
            continue
        tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    return tags


# --- items ------------------------------------------------------------------------------------

ITEM_FIELDS = (
    "kind",
    "fulfilment",
    "name",
    "name_en",
    "subtitle",
    "keywords",
    "description",
    "category_id",
    "market_price",
    "per_member_limit",
    "per_order_limit",
    "min_tier_rank",
    "on_shelf_at",
    "off_shelf_at",
    "is_active",
    "is_featured",
    "sort_order",
    "coupon_value",
    "coupon_threshold",
    "valid_days",
    "link_url",
)


def _clean_item(data: dict) -> dict:
    kind = data.get("kind")
    if kind not in Item.Kind.values:
        raise ValidationFailed(_("商品类型不正确。"), code="invalid_kind", fields={"kind": kind})
    fulfilment = data.get("fulfilment") or next(iter(sorted(FULFILMENTS[kind])))
    if fulfilment not in FULFILMENTS[kind]:
        raise ValidationFailed(
            _("该类型商品不能使用这种发放方式。"),
            code="invalid_fulfilment",
            fields={"fulfilment": fulfilment},
        )
    clean = {
        "kind": kind,
        "fulfilment": fulfilment,
        "name": _text(data.get("name"), "name", max_length=80, required=True),
        "name_en": _text(data.get("name_en"), "name_en", max_length=120),
        "subtitle": _text(data.get("subtitle"), "subtitle", max_length=120),
        "keywords": _text(data.get("keywords"), "keywords", max_length=200),
        "description": _text(data.get("description"), "description", max_length=20000),
        "market_price": _money(data.get("market_price"), "market_price", allow_none=True),
        "is_active": bool(data.get("is_active", True)),
        "is_featured": bool(data.get("is_featured", False)),
        "sort_order": int(data.get("sort_order") or 0),
        "link_url": _text(data.get("link_url"), "link_url", max_length=200),
        "on_shelf_at": data.get("on_shelf_at"),
        "off_shelf_at": data.get("off_shelf_at"),
    }
    category_id = data.get("category_id")
    if not Category.objects.filter(pk=category_id).exists():
        raise NotFound(
            _("分类不存在。"), code="category_not_found", fields={"category_id": category_id}
        )
    clean["category_id"] = category_id
    for name in ("per_member_limit", "per_order_limit", "valid_days"):
        value = data.get(name)
        if value in (None, ""):
            clean[name] = None
        else:
            clean[name] = _quantity(value, name)
    rank = data.get("min_tier_rank") or 0
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= 100:
        raise ValidationFailed(
            _("会员等级序号不正确。"), code="invalid_tier", fields={"min_tier_rank": rank}
        )
    clean["min_tier_rank"] = rank
    on, off = clean["on_shelf_at"], clean["off_shelf_at"]
    for name, value in (("on_shelf_at", on), ("off_shelf_at", off)):
        if value is not None and (not isinstance(value, dt.datetime) or timezone.is_naive(value)):
            raise ValidationFailed(
                _("时间须带时区。"), code="invalid_datetime", fields={name: str(value)}
            )
    if on and off and off <= on:
        raise ValidationFailed(
            _("下架时间须晚于上架时间。"),
            code="invalid_shelf_window",
            fields={"off_shelf_at": off.isoformat()},
        )
    if kind == Item.Kind.COUPON:
        clean["coupon_value"] = _money(data.get("coupon_value"), "coupon_value")
        clean["coupon_threshold"] = _money(data.get("coupon_threshold"), "coupon_threshold")
        if not clean["coupon_value"]:
            raise ValidationFailed(
                _("请填写券面额。"), code="required", fields={"coupon_value": ""}
            )
        if clean["valid_days"] is None:
            raise ValidationFailed(
                _("请填写有效天数。"), code="required", fields={"valid_days": ""}
            )
    else:
        clean["coupon_value"] = clean["coupon_threshold"] = None
    if fulfilment == Item.Fulfilment.LINK and not clean["link_url"]:
        raise ValidationFailed(_("请填写兑换链接。"), code="required", fields={"link_url": ""})
    if (
        clean["per_member_limit"]
        and clean["per_order_limit"]
        and (clean["per_order_limit"] > clean["per_member_limit"])
    ):
        raise ValidationFailed(
            _("每单限兑不能多于每人限兑。"),
            code="invalid_limits",
            fields={"per_order_limit": clean["per_order_limit"]},
        )
    return clean


def item_validate(*, item_id: int | None = None, **data) -> dict:
    """The cleaned fields item_save would write, or the DomainError it would raise (for
    forms that show errors before saving). Reads only."""
    if item_id is not None:
        item = Item.objects.filter(pk=item_id).first()
        if item is None:
            raise NotFound(_("商品不存在。"), code="item_not_found")
        data = {**{name: getattr(item, name) for name in ITEM_FIELDS}, **data}
    return _clean_item(data)


def category_validate(*, category_id: int | None, parent_id: int | None) -> None:
    """ValidationFailed `invalid_parent` when `parent_id` is the category or below it."""
    if category_id is not None and parent_id is not None and parent_id in _descendants(category_id):
        raise ValidationFailed(
            _("上级分类不能是它自己或它的下级。"),
            code="invalid_parent",
            fields={"parent_id": parent_id},
        )


@transaction.atomic
def item_save(*, item_id: int | None = None, tag_names: Iterable[str] | None = None, **data):
    """Create or update an item from ITEM_FIELDS (kind, name and category required).

    Kind and fulfilment must agree (physical → shipping; virtual → code or link; coupon →
    coupon, with a value and validity; service → voucher); the shelf window must end after
    it starts; the per-order limit may not exceed the per-member limit. `tag_names`, when
    given, replaces the tags. Errors: ValidationFailed, NotFound (category or item).
    """
    unknown = set(data) - set(ITEM_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("未知字段。"), code="unknown_fields", fields=dict.fromkeys(unknown, "")
        )
    if item_id is not None:
        item = Item.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise NotFound(_("商品不存在。"), code="item_not_found")
        merged = {name: getattr(item, name) for name in ITEM_FIELDS}
        merged.update(data)
        clean = _clean_item(merged)
        Item.objects.filter(pk=item_id).update(**clean, updated_at=timezone.now())
    else:
        clean = _clean_item(data)
        item = Item.objects.create(**clean)
    if tag_names is not None:
        item.tags.set(tags_ensure(names=tag_names))
    item_search_text_refresh(item_ids=[item.pk])
    item.refresh_from_db()
    return item


@transaction.atomic
def item_specs_set(*, item_id: int, specs: list[tuple[str, list[str]]]) -> list[ItemSpec]:
    """Replace an item's specifications: [("颜色", ["红", "蓝"]), ("尺码", ["S", "M"])].

    Names and values are unique and non-empty; at most 3 specs of 30 values each.
    Existing SKUs keep their options (generate the missing ones with item_skus_generate).
    """
    if not Item.objects.filter(pk=item_id).exists():
        raise NotFound(_("商品不存在。"), code="item_not_found")
    if len(specs) > 3:
        raise ValidationFailed(_("规格最多 3 项。"), code="too_many_specs", fields={"specs": ""})
    seen: set[str] = set()
    cleaned = []
    for name, values in specs:
        name = _text(name, "specs", max_length=20, required=True)
        values = [_text(v, "specs", max_length=30, required=True) for v in values]
        if name in seen or not values or len(values) > 30 or len(set(values)) != len(values):
            raise ValidationFailed(
                _("规格名和规格值须唯一且不为空。"), code="invalid_specs", fields={"specs": name}
            )
        seen.add(name)
        cleaned.append((name, values))
    ItemSpec.objects.filter(item_id=item_id).delete()
    return [
        ItemSpec.objects.create(item_id=item_id, name=name, values=values, sort_order=i)
        for i, (name, values) in enumerate(cleaned)
    ]


def _initial_movement(sku: Sku, quantity: int, by) -> None:
    if quantity:
        StockMovement.objects.create(
            sku=sku,
            kind=StockMovement.Kind.INITIAL,
            quantity=quantity,
            reference=f"sku:{sku.pk}:initial",
            reason=_("初始库存"),
            created_by=by,
        )


@transaction.atomic
def sku_create(
    *,
    item_id: int,
    points: int,
    cash=Decimal(0),
    options: dict | None = None,
    code: str | None = None,
    stock_initial: int = 0,
    low_stock_threshold: int = 0,
    sort_order: int = 0,
    by=None,
) -> Sku:
    """Add a SKU with its initial stock (an "initial" movement); remaining = stock_initial.

    Options must name the item's specs with one of their values, one SKU per combination
    (Conflict `sku_exists`). A price needs points or cash (or both).
    """
    item = Item.objects.filter(pk=item_id).first()
    if item is None:
        raise NotFound(_("商品不存在。"), code="item_not_found")
    points = _points(points)
    cash = _money(cash, "cash")
    if points == 0 and not cash:
        raise ValidationFailed(_("请设置价格。"), code="invalid_price", fields={"points": 0})
    if isinstance(stock_initial, bool) or not isinstance(stock_initial, int):
        raise ValidationFailed(_("库存须为整数。"), code="invalid_quantity", fields={})
    if not 0 <= stock_initial <= MAX_QUANTITY or not 0 <= low_stock_threshold <= MAX_QUANTITY:
        raise ValidationFailed(
            _("库存须为 0 到 %(max)s 之间的整数。") % {"max": MAX_QUANTITY},
            code="invalid_quantity",
            fields={"stock_initial": stock_initial},
        )
    options = dict(options or {})
    specs = {spec.name: spec.values for spec in ItemSpec.objects.filter(item_id=item_id)}
    if set(options) != set(specs) or any(options[n] not in specs[n] for n in options):
        raise ValidationFailed(
            _("规格须与商品的规格一致。"), code="invalid_options", fields={"options": options}
        )
    options = {name: options[name] for name in specs}  # the specs' order
    key = _options_key(options)
    if Sku.objects.filter(item_id=item_id, options_key=key).exists():
        raise Conflict(_("该规格组合已存在。"), code="sku_exists", fields={"options": options})
    code = _text(code, "code", max_length=40) or f"I{item_id}-{uuid.uuid4().hex[:8].upper()}"
    try:
        with transaction.atomic():
            sku = Sku.objects.create(
                item_id=item_id,
                code=code,
                options=options,
                options_key=key,
                points=points,
                cash=cash,
                currency=item.currency,
                stock_initial=stock_initial,
                remaining=stock_initial,
                low_stock_threshold=low_stock_threshold,
                sort_order=sort_order,
            )
    except IntegrityError as error:
        raise Conflict(
            _("SKU 编码或规格组合已存在。"), code="sku_exists", fields={"code": code}
        ) from error
    _initial_movement(sku, stock_initial, by)
    _low_stock_check(sku.pk)
    return sku


@transaction.atomic
def sku_update(
    *,
    sku_id: int,
    points: int,
    cash=Decimal(0),
    low_stock_threshold: int = 0,
    is_active: bool = True,
    sort_order: int = 0,
) -> Sku:
    """Change a SKU's price, threshold, status or order. Stock changes only through the
    stock services."""
    points = _points(points)
    cash = _money(cash, "cash")
    if points == 0 and not cash:
        raise ValidationFailed(_("请设置价格。"), code="invalid_price", fields={"points": 0})
    if not 0 <= low_stock_threshold <= MAX_QUANTITY:
        raise ValidationFailed(_("低库存提醒须为非负整数。"), code="invalid_quantity", fields={})
    updated = Sku.objects.filter(pk=sku_id).update(
        points=points,
        cash=cash,
        low_stock_threshold=low_stock_threshold,
        is_active=is_active,
        sort_order=sort_order,
    )
    if not updated:
        raise NotFound(_("SKU 不存在。"), code="sku_not_found")
    _low_stock_check(sku_id)
    return Sku.objects.get(pk=sku_id)


@transaction.atomic
def item_skus_generate(
    *, item_id: int, points: int, cash=Decimal(0), stock_each: int = 0, by=None
) -> list[Sku]:
    """Create the SKUs missing for every combination of the item's spec options (one SKU
    without options when it has no specs), each at this price with `stock_each` units."""
    specs = list(ItemSpec.objects.filter(item_id=item_id))
    combos = itertools.product(*(spec.values for spec in specs)) if specs else [()]
    existing = set(Sku.objects.filter(item_id=item_id).values_list("options_key", flat=True))
    made = []
    for n, combo in enumerate(combos):
        options = {spec.name: value for spec, value in zip(specs, combo, strict=True)}
        if _options_key(options) in existing:
            continue
        made.append(
            sku_create(
                item_id=item_id,
                points=points,
                cash=cash,
                options=options,
                stock_initial=stock_each,
                sort_order=n,
                by=by,
            )
        )
    return made


def _thumbnail(image) -> bytes:
    from PIL import ImageOps

    thumb = ImageOps.fit(image.convert("RGB"), THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


@transaction.atomic
def item_image_add(
    *, item_id: int, content: bytes, filename: str = "image.jpg", alt: str = "", sort_order=0
) -> ItemImage:
    """Store an uploaded image (JPEG, PNG or WebP, up to 8 MB and 6000 px a side) and a
    480×480 JPEG thumbnail made with Pillow. ValidationFailed `invalid_image` otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not Item.objects.filter(pk=item_id).exists():
        raise NotFound(_("商品不存在。"), code="item_not_found")
    alt = _text(alt, "alt", max_length=80)
    if not content or len(content) > MAX_IMAGE_BYTES:
        raise ValidationFailed(
            _("图片须小于 8 MB。"), code="invalid_image", fields={"image": filename}
        )
    try:
        with Image.open(io.BytesIO(content)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(content))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        image = None
    if image is None or image.format not in {"JPEG", "PNG", "WEBP"} or max(image.size) > 6000:
        raise ValidationFailed(
            _("请上传 JPEG、PNG 或 WebP 图片。"), code="invalid_image", fields={"image": filename}
        )
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[image.format]
    stem = uuid.uuid4().hex[:12]
    row = ItemImage(item_id=item_id, alt=alt, sort_order=sort_order)
    row.image.save(f"{stem}.{extension}", ContentFile(content), save=False)
    row.thumbnail.save(f"{stem}-thumb.jpg", ContentFile(_thumbnail(image)), save=False)
    row.save()
    return row


@transaction.atomic
def item_image_delete(*, image_id: int) -> None:
    """Remove an image and its files (after the transaction commits)."""
    row = ItemImage.objects.filter(pk=image_id).first()
    if row is None:
        raise NotFound(_("图片不存在。"), code="image_not_found")
    names = [f.name for f in (row.image, row.thumbnail) if f]
    storage = row.image.storage
    row.delete()
    transaction.on_commit(lambda: [storage.delete(name) for name in names])


# --- stock ------------------------------------------------------------------------------------


def _sku_exists(sku_id) -> None:
    if (
        isinstance(sku_id, bool)
        or not isinstance(sku_id, int)
        or not Sku.objects.filter(pk=sku_id).exists()
    ):
        raise NotFound(_("SKU 不存在。"), code="sku_not_found", fields={"sku_id": sku_id})


def _low_stock_check(sku_id: int) -> None:
    """Open an alert when remaining is at or below the threshold and none is open; resolve
    the open one when remaining is above it again. Called after each change, while this
    transaction holds the SKU's row lock (the UPDATE took it), so the read is current."""
    row = Sku.objects.filter(pk=sku_id).values("remaining", "low_stock_threshold").first()
    if row is None:
        return
    remaining, threshold = row["remaining"], row["low_stock_threshold"]
    if threshold and remaining <= threshold:
        if not LowStockAlert.objects.filter(sku_id=sku_id, resolved_at__isnull=True).exists():
            try:
                with transaction.atomic():
                    LowStockAlert.objects.create(
                        sku_id=sku_id, remaining=remaining, threshold=threshold
                    )
            except IntegrityError:
                return  # opened by a concurrent change: one alert per crossing
            _notify_low_stock(sku_id, remaining, threshold)
    else:
        LowStockAlert.objects.filter(sku_id=sku_id, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )


def _notify_low_stock(sku_id: int, remaining: int, threshold: int) -> None:
    from jifen.backoffice.notifications import operators_notify

    sku = Sku.objects.select_related("item").get(pk=sku_id)
    name = f"{sku.item.name} {sku.label}".strip()
    operators_notify(
        subject=_("低库存：%(sku)s 剩 %(n)s 件") % {"sku": name, "n": remaining},
        body=_("%(sku)s（%(code)s）可售库存 %(n)s 件，已到提醒线 %(threshold)s 件，请及时补货。")
        % {"sku": name, "code": sku.code, "n": remaining, "threshold": threshold},
        permission="catalog.change_sku",
        path=f"/admin/catalog/sku/{sku_id}/change/",
    )


def _movement(sku_id: int, kind: str, quantity: int, reference: str, reason="", by=None):
    return StockMovement.objects.create(
        sku_id=sku_id,
        kind=kind,
        quantity=quantity,
        reference=reference,
        reason=reason,
        created_by=by,
    )


@transaction.atomic
def stock_reserve(
    *, sku_id: int, quantity: int, reference: str, expires_at: dt.datetime | None = None
) -> StockReservation:
    """Set `quantity` units of a SKU aside for `reference` (remaining → reserved).

    Once per reference: a repeat with the same SKU and quantity returns the reservation;
    with others, Conflict `reference_reused`. OutOfStock when fewer units remain (nothing
    changes) or the SKU is disabled. One guarded UPDATE: never oversold under concurrency.
    """
    quantity = _quantity(quantity)
    reference = _reference(reference)
    _sku_exists(sku_id)
    try:
        with transaction.atomic():
            reservation = StockReservation.objects.create(
                sku_id=sku_id, quantity=quantity, reference=reference, expires_at=expires_at
            )
    except IntegrityError:
        existing = StockReservation.objects.get(reference=reference)
        if existing.sku_id != sku_id or existing.quantity != quantity:
            raise Conflict(
                _("该业务单号已用于其他预留。"),
                code="reference_reused",
                fields={"reference": reference},
            ) from None
        return existing
    taken = Sku.objects.filter(pk=sku_id, is_active=True, remaining__gte=quantity).update(
        remaining=F("remaining") - quantity, reserved=F("reserved") + quantity
    )
    if not taken:  # the reservation row rolls back with this error
        raise OutOfStock(_("库存不足。"), fields={"sku_id": sku_id, "quantity": quantity})
    _movement(sku_id, StockMovement.Kind.RESERVED, quantity, reference)
    _low_stock_check(sku_id)
    return reservation


@transaction.atomic
def stock_reserve_lines(
    *, lines: list[tuple[int, int, str]], expires_at: dt.datetime | None = None
) -> list[StockReservation]:
    """Reserve several (sku_id, quantity, reference) lines, all or none.

    SKU rows are updated in ascending id order, so two checkouts of the same SKUs cannot
    deadlock. Returns the reservations in the order of `lines`.
    """
    order = sorted(range(len(lines)), key=lambda i: (lines[i][0], lines[i][2]))
    made: dict[int, StockReservation] = {}
    for i in order:
        sku_id, quantity, reference = lines[i]
        made[i] = stock_reserve(
            sku_id=sku_id, quantity=quantity, reference=reference, expires_at=expires_at
        )
    return [made[i] for i in range(len(lines))]


def _reservation(reference: str) -> StockReservation:
    reservation = StockReservation.objects.filter(reference=_reference(reference)).first()
    if reservation is None:
        raise NotFound(
            _("预留不存在。"), code="reservation_not_found", fields={"reference": reference}
        )
    return reservation


def _transition(reference: str, to: str) -> StockReservation | None:
    """Move a reservation out of "reserved" by one guarded UPDATE; None if another call
    already moved it (the caller decides whether that is a replay or a conflict)."""
    moved = StockReservation.objects.filter(
        reference=reference, status=StockReservation.Status.RESERVED
    ).update(status=to, updated_at=timezone.now())
    return StockReservation.objects.get(reference=reference) if moved else None


@transaction.atomic
def stock_release(*, reference: str) -> StockReservation:
    """Give a reservation's units back (reserved → remaining). Idempotent: releasing a
    released reservation returns it; a sold one is a Conflict `reservation_sold`."""
    current = _reservation(reference)
    reservation = _transition(reference, StockReservation.Status.RELEASED)
    if reservation is None:
        current.refresh_from_db()
        if current.status == StockReservation.Status.RELEASED:
            return current
        raise Conflict(_("该预留已售出，不能释放。"), code="reservation_sold")
    q = reservation.quantity
    moved = Sku.objects.filter(pk=reservation.sku_id, reserved__gte=q).update(
        reserved=F("reserved") - q, remaining=F("remaining") + q
    )
    if not moved:  # only if a counter was tampered with: refuse rather than go negative
        raise Conflict(_("库存数据不一致。"), code="stock_inconsistent")
    _movement(reservation.sku_id, StockMovement.Kind.RELEASED, q, reference)
    _low_stock_check(reservation.sku_id)
    return reservation


@transaction.atomic
def stock_commit(*, reference: str) -> StockReservation:
    """A paid reservation becomes sold (reserved → sold) and adds to the item's
    redemptions count. Idempotent; a released reservation is a Conflict
    `reservation_released`."""
    current = _reservation(reference)
    reservation = _transition(reference, StockReservation.Status.SOLD)
    if reservation is None:
        current.refresh_from_db()
        if current.status == StockReservation.Status.SOLD:
            return current
        raise Conflict(_("该预留已释放，不能售出。"), code="reservation_released")
    q = reservation.quantity
    moved = Sku.objects.filter(pk=reservation.sku_id, reserved__gte=q).update(
        reserved=F("reserved") - q, sold=F("sold") + q
    )
    if not moved:
        raise Conflict(_("库存数据不一致。"), code="stock_inconsistent")
    Item.objects.filter(skus__pk=reservation.sku_id).update(
        redemptions_count=F("redemptions_count") + q
    )
    _movement(reservation.sku_id, StockMovement.Kind.SOLD, q, reference)
    return reservation


@transaction.atomic
def stock_return(
    *, reference: str, quantity: int, return_reference: str | None = None
) -> StockMovement:
    """Sold units of a reservation come back into stock (after-sales).

    Once per `return_reference` (default: the reservation's reference, i.e. one return
    per line); the total returned never exceeds the quantity sold (ValidationFailed
    `return_exceeds_sold`); only sold reservations (Conflict `reservation_not_sold`).
    """
    quantity = _quantity(quantity)
    reservation = _reservation(reference)
    key = _reference(return_reference or reference, "return_reference")
    try:
        with transaction.atomic():
            movement = _movement(reservation.sku_id, StockMovement.Kind.RETURNED, quantity, key)
    except IntegrityError:
        existing = StockMovement.objects.get(kind=StockMovement.Kind.RETURNED, reference=key)
        if existing.quantity != quantity or existing.sku_id != reservation.sku_id:
            raise Conflict(
                _("该退货单号已用于其他退货。"), code="reference_reused", fields={"reference": key}
            ) from None
        return existing
    if reservation.status != StockReservation.Status.SOLD:
        raise Conflict(_("只有已售出的预留可以退回。"), code="reservation_not_sold")
    counted = StockReservation.objects.filter(
        pk=reservation.pk,
        status=StockReservation.Status.SOLD,
        returned__lte=F("quantity") - quantity,
    ).update(returned=F("returned") + quantity, updated_at=timezone.now())
    if not counted:
        raise ValidationFailed(
            _("退回数量超过已售数量。"),
            code="return_exceeds_sold",
            fields={"quantity": quantity},
        )
    Sku.objects.filter(pk=reservation.sku_id).update(
        returned=F("returned") + quantity, remaining=F("remaining") + quantity
    )
    _low_stock_check(reservation.sku_id)
    return movement


@transaction.atomic
def stock_adjust(
    *,
    sku_id: int,
    delta: int,
    reason: str,
    by=None,
    reference: str | None = None,
    kind: str | None = None,
) -> StockMovement:
    """Goods received (kind "received", delta > 0) or a stocktake correction ("adjusted",
    either sign); kind defaults by the sign of delta. Remaining never goes below zero
    (OutOfStock). A reason is required. With a `reference`, a repeat is a replay.
    """
    if isinstance(delta, bool) or not isinstance(delta, int) or not 0 < abs(delta) <= MAX_QUANTITY:
        raise ValidationFailed(
            _("调整数量须为非零整数。"), code="invalid_quantity", fields={"delta": delta}
        )
    reason = _text(reason, "reason", max_length=200, required=True)
    kind = kind or (StockMovement.Kind.RECEIVED if delta > 0 else StockMovement.Kind.ADJUSTED)
    if kind not in (StockMovement.Kind.RECEIVED, StockMovement.Kind.ADJUSTED) or (
        kind == StockMovement.Kind.RECEIVED and delta < 0
    ):
        raise ValidationFailed(_("调整类型不正确。"), code="invalid_kind", fields={"kind": kind})
    _sku_exists(sku_id)
    reference = _reference(reference) if reference is not None else f"adjust:{uuid.uuid4().hex}"
    try:
        with transaction.atomic():
            movement = _movement(sku_id, kind, delta, reference, reason, by)
    except IntegrityError:
        existing = StockMovement.objects.get(kind=kind, reference=reference)
        if existing.sku_id != sku_id or existing.quantity != delta:
            raise Conflict(
                _("该业务单号已用于其他调整。"),
                code="reference_reused",
                fields={"reference": reference},
            ) from None
        return existing
    counter = "received" if kind == StockMovement.Kind.RECEIVED else "adjusted"
    guard = Q(pk=sku_id) & (Q() if delta > 0 else Q(remaining__gte=-delta))
    moved = Sku.objects.filter(guard).update(
        **{counter: F(counter) + delta}, remaining=F("remaining") + delta
    )
    if not moved:
        raise OutOfStock(_("可售库存不足以扣减。"), code="out_of_stock", fields={"delta": delta})
    _low_stock_check(sku_id)
    return movement


def stock_release_expired(*, now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Release reservations whose `expires_at` has passed (abandoned checkouts), each in its
    own transaction; safe to run twice or beside checkout. Returns how many it released."""
    now = now or timezone.now()
    released = 0
    references = StockReservation.objects.filter(
        status=StockReservation.Status.RESERVED, expires_at__lte=now
    ).values_list("reference", flat=True)[:batch_size]
    for reference in list(references):
        try:
            stock_release(reference=reference)
        except Conflict:
            continue  # committed meanwhile
        released += 1
    return released


# --- redemption checks and per-member limits (for checkout) ------------------------------------


def item_redeem_check(*, sku_id: int, member_id: int, quantity: int):
    """The visible, active SKU a member may put in one order line, or a DomainError:
    NotFound `item_not_found` (not visible to them: tier, shelf, inactive), ValidationFailed
    `per_order_limit` (more than the item allows per order). Stock and the per-member limit
    are enforced by `stock_reserve` and `item_quota_take` in the same transaction."""
    from jifen.catalog.selectors import item_detail

    quantity = _quantity(quantity)
    sku = Sku.objects.filter(pk=sku_id, is_active=True).values("item_id").first()
    if sku is None:
        raise NotFound(_("SKU 不存在。"), code="sku_not_found", fields={"sku": sku_id})
    item = item_detail(item_id=sku["item_id"], member_id=member_id)
    if item.per_order_limit and quantity > item.per_order_limit:
        raise ValidationFailed(
            _("该商品每单限兑 %(n)s 件。") % {"n": item.per_order_limit},
            code="per_order_limit",
            fields={"quantity": quantity},
        )
    return item


@transaction.atomic
def item_quota_take(*, item_id: int, member_id: int, quantity: int, reference: str) -> int:
    """Count `quantity` units against the item's per-member limit, once per reference;
    returns the units the member has taken. Conflict `per_member_limit` past the limit
    (nothing changes). Items without a limit are counted too, so a limit added later
    applies to what was redeemed before. One guarded UPDATE: safe under concurrency."""
    quantity = _quantity(quantity)
    reference = _reference(reference)
    item = Item.objects.filter(pk=item_id).values("per_member_limit").first()
    if item is None:
        raise NotFound(_("商品不存在。"), code="item_not_found")
    quota, _created = MemberItemQuota.objects.get_or_create(member_id=member_id, item_id=item_id)
    try:
        with transaction.atomic():
            QuotaMovement.objects.create(
                quota=quota, kind="take", quantity=quantity, reference=reference
            )
    except IntegrityError:
        return MemberItemQuota.objects.get(pk=quota.pk).taken  # a replay
    limit = item["per_member_limit"]
    guard = Q(pk=quota.pk) & (Q(taken__lte=limit - quantity) if limit else Q())
    if not MemberItemQuota.objects.filter(guard).update(taken=F("taken") + quantity):
        raise Conflict(
            _("该商品每人限兑 %(n)s 件。") % {"n": limit},
            code="per_member_limit",
            fields={"quantity": quantity},
        )
    return MemberItemQuota.objects.get(pk=quota.pk).taken


@transaction.atomic
def item_quota_return(
    *, reference: str, quantity: int | None = None, return_reference: str | None = None
) -> int:
    """Give back units taken under `reference`; returns the units the member has taken.

    Without `quantity`: what is left of the take (a cancelled order), once per reference.
    With `quantity` (an after-sale refund of some units): once per `return_reference`; the
    units returned under one take never exceed what it took (ValidationFailed
    `quota_return_exceeds_taken`, nothing changes). The take's row is locked, so returns of
    one take are serialised; the quota row is then changed by one guarded UPDATE. A repeat
    of a return reference with another quantity is Conflict `reference_reused`. NotFound
    `quota_not_found` when nothing was taken under `reference`.
    """
    reference = _reference(reference)
    if quantity is not None:
        quantity = _quantity(quantity)
    take = (
        QuotaMovement.objects.select_for_update().filter(kind="take", reference=reference).first()
    )
    if take is None:
        raise NotFound(_("没有这笔占用。"), code="quota_not_found")
    # A partial return is stored as "<take reference>><return reference>" so that every
    # return of a take can be found (and summed) from the take's reference.
    key = reference if return_reference is None else f"{reference}>{_reference(return_reference)}"
    if len(key) > QuotaMovement._meta.get_field("reference").max_length:
        raise ValidationFailed(
            _("归还单号过长。"), code="invalid_reference", fields={"return_reference": key}
        )
    existing = QuotaMovement.objects.filter(kind="return", reference=key).first()
    if existing is not None:
        if quantity is not None and existing.quantity != quantity:
            raise Conflict(
                _("该归还单号已用于其他归还。"), code="reference_reused", fields={"reference": key}
            )
        return MemberItemQuota.objects.get(pk=take.quota_id).taken
    returned = (
        QuotaMovement.objects.filter(kind="return", quota_id=take.quota_id)
        .filter(Q(reference=reference) | Q(reference__startswith=f"{reference}>"))
        .aggregate(n=Sum("quantity"))["n"]
        or 0
    )
    left = take.quantity - returned
    if quantity is None:
        quantity = left
    if quantity > left:
        raise ValidationFailed(
            _("归还数量超过占用数量。"),
            code="quota_return_exceeds_taken",
            fields={"quantity": quantity, "left": left},
        )
    if quantity <= 0:
        return MemberItemQuota.objects.get(pk=take.quota_id).taken
    QuotaMovement.objects.create(
        quota_id=take.quota_id, kind="return", quantity=quantity, reference=key
    )
    MemberItemQuota.objects.filter(pk=take.quota_id, taken__gte=quantity).update(
        taken=F("taken") - quantity
    )
    return MemberItemQuota.objects.get(pk=take.quota_id).taken
