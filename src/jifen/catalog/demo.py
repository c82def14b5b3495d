"""A demo mall: categories, about twenty items of every kind, SKUs, stock and pictures.

`catalog_demo_load()` is idempotent (items are found by name) and goes through the
services, so the data obey every rule; `jifen load-catalog-demo` runs it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from jifen.catalog import services
from jifen.catalog.images import product_image_png
from jifen.catalog.models import Category, Item

CATEGORIES = [
    # (name, English, icon, children)
    ("数码家电", "Electronics", "headphones", [("耳机音箱", "Audio"), ("智能穿戴", "Wearables")]),
    ("美食饮品", "Food & drinks", "cup", [("咖啡茶饮", "Coffee & tea"), ("零食", "Snacks")]),
    ("生活家居", "Home", "bag", [("厨房", "Kitchen"), ("收纳", "Storage")]),
    ("卡券", "Vouchers", "ticket", [("优惠券", "Coupons"), ("会员卡", "Memberships")]),
    ("服务", "Services", "leaf", []),
]

# (category, kind, fulfilment, name, English, subtitle, tags, points, cash, market, stock,
#  icon, extra)
ITEMS = [
    (
        "耳机音箱",
        "physical",
        "shipping",
        "无线蓝牙耳机",
        "Wireless Bluetooth Earbuds",
        "主动降噪 · 30 小时续航",
        ["热门", "新品"],
        5000,
        "9.90",
        "299.00",
        12,
        "headphones",
        {"specs": [("颜色", ["云白", "曜黑"])], "featured": True, "per_order_limit": 1},
    ),
    (
        "耳机音箱",
        "physical",
        "shipping",
        "便携蓝牙音箱",
        "Portable speaker",
        "防水 IPX7 · 重低音",
        ["户外"],
        3600,
        "0",
        "199.00",
        20,
        "headphones",
        {},
    ),
    (
        "智能穿戴",
        "physical",
        "shipping",
        "智能手环",
        "Smart band",
        "心率血氧 · 14 天续航",
        ["新品"],
        4200,
        "19.90",
        "249.00",
        15,
        "card",
        {"specs": [("颜色", ["石墨黑", "樱花粉"]), ("表带", ["硅胶", "编织"])], "featured": True},
    ),
    (
        "咖啡茶饮",
        "coupon",
        "coupon",
        "星巴克咖啡券",
        "Starbucks coffee voucher",
        "中杯任意饮品 · 全国门店",
        ["热门", "饮品"],
        800,
        "0",
        "33.00",
        200,
        "cup",
        {"coupon": ("33.00", "0"), "valid_days": 30, "featured": True, "per_member_limit": 5},
    ),
    (
        "咖啡茶饮",
        "coupon",
        "coupon",
        "奶茶 10 元代金券",
        "Milk tea ¥10 voucher",
        "满 30 可用",
        ["饮品"],
        300,
        "0",
        "10.00",
        500,
        "cup",
        {"coupon": ("10.00", "30.00"), "valid_days": 15},
    ),
    (
        "零食",
        "physical",
        "shipping",
        "每日坚果礼盒",
        "Daily nuts gift box",
        "30 袋装 · 独立小包",
        ["零食", "热门"],
        1500,
        "0",
        "89.00",
        40,
        "gift",
        {},
    ),
    (
        "零食",
        "physical",
        "shipping",
        "手工曲奇",
        "Handmade cookies",
        "黄油原味 · 400g",
        ["零食"],
        900,
        "4.90",
        "49.00",
        3,
        "gift",
        {"low": 5},
    ),
    (
        "厨房",
        "physical",
        "shipping",
        "不锈钢保温杯",
        "Stainless thermos cup",
        "12 小时保温 · 500ml",
        ["家居"],
        2200,
        "0",
        "129.00",
        25,
        "bottle",
        {"specs": [("颜色", ["雾蓝", "奶白", "墨绿"])]},
    ),
    (
        "厨房",
        "physical",
        "shipping",
        "陶瓷餐具四件套",
        "Ceramic tableware set",
        "釉下彩 · 可进微波炉",
        ["家居"],
        3000,
        "29.00",
        "199.00",
        10,
        "bag",
        {},
    ),
    (
        "收纳",
        "physical",
        "shipping",
        "桌面收纳盒",
        "Desk organiser",
        "三格 · 可叠放",
        ["家居"],
        600,
        "0",
        "39.00",
        0,
        "bag",
        {},
    ),
    (
        "会员卡",
        "virtual",
        "code",
        "视频会员月卡",
        "Video streaming monthly pass",
        "激活码即时发放",
        ["热门", "会员"],
        1800,
        "0",
        "25.00",
        100,
        "card",
        {"featured": True},
    ),
    (
        "会员卡",
        "virtual",
        "link",
        "电子书畅读月卡",
        "E-book monthly pass",
        "兑换后点击链接领取",
        ["阅读"],
        1200,
        "0",
        "18.00",
        100,
        "book",
        {"link": "https://books.example.com/redeem"},
    ),
    (
        "会员卡",
        "virtual",
        "code",
        "音乐会员季卡",
        "Music membership (3 months)",
        "无损音质 · 离线下载",
        ["会员"],
        3000,
        "0",
        "45.00",
        50,
        "headphones",
        {"min_tier_rank": 1},
    ),
    (
        "优惠券",
        "coupon",
        "coupon",
        "全场 50 元优惠券",
        "¥50 store coupon",
        "满 299 可用",
        ["优惠"],
        1000,
        "0",
        "50.00",
        300,
        "ticket",
        {"coupon": ("50.00", "299.00"), "valid_days": 30},
    ),
    (
        "服务",
        "service",
        "voucher",
        "肩颈按摩预约券",
        "Shoulder massage booking",
        "45 分钟 · 全国 200 家门店",
        ["放松"],
        6800,
        "0",
        "168.00",
        8,
        "leaf",
        {"valid_days": 90, "min_tier_rank": 2, "featured": True},
    ),
    (
        "服务",
        "service",
        "voucher",
        "洗车服务券",
        "Car wash voucher",
        "标准洗车一次",
        ["出行"],
        1600,
        "0",
        "45.00",
        60,
        "ticket",
        {"valid_days": 60},
    ),
    (
        "服务",
        "service",
        "voucher",
        "家电清洗上门",
        "Home appliance cleaning",
        "空调 / 油烟机任选一台",
        ["家居"],
        8800,
        "49.00",
        "299.00",
        20,
        "leaf",
        {"valid_days": 120, "min_tier_rank": 3},
    ),
]


def _category_ids() -> dict[str, int]:
    ids: dict[str, int] = {}
    for n, (name, english, icon, children) in enumerate(CATEGORIES):
        parent = Category.objects.filter(name=name, parent=None).first() or services.category_save(
            name=name, name_en=english, icon=icon, sort_order=n
        )
        ids[name] = parent.pk
        for m, (child, child_en) in enumerate(children):
            row = Category.objects.filter(name=child, parent=parent).first()
            row = row or services.category_save(
                name=child, name_en=child_en, parent_id=parent.pk, sort_order=m
            )
            ids[child] = row.pk
    return ids


@transaction.atomic
def catalog_demo_load(*, images: bool = True, redemptions: bool = True) -> list[Item]:
    """Create the demo mall (once); with `redemptions`, sell a few units of each item so
    "popular" has an order. Returns the demo items."""
    categories = _category_ids()
    items = []
    now = timezone.now()
    for n, row in enumerate(ITEMS):
        (
            category,
            kind,
            fulfilment,
            name,
            english,
            subtitle,
            tags,
            points,
            cash,
            market,
            stock,
            icon,
            extra,
        ) = row
        item = Item.objects.filter(name=name).first()
        if item is not None:
            items.append(item)
            continue
        data = {
            "kind": kind,
            "fulfilment": fulfilment,
            "name": name,
            "name_en": english,
            "subtitle": subtitle,
            "category_id": categories[category],
            "market_price": Decimal(market),
            "description": f"{name}。{subtitle}。\n积分兑换，兑换后不支持退换积分以外的现金部分。",
            "is_featured": extra.get("featured", False),
            "sort_order": n,
            "min_tier_rank": extra.get("min_tier_rank", 0),
            "per_order_limit": extra.get("per_order_limit"),
            "per_member_limit": extra.get("per_member_limit"),
            "valid_days": extra.get("valid_days"),
            "link_url": extra.get("link", ""),
            "on_shelf_at": now - dt.timedelta(days=len(ITEMS) - n),
        }
        if "coupon" in extra:
            data["coupon_value"], data["coupon_threshold"] = map(Decimal, extra["coupon"])
        item = services.item_save(tag_names=tags, **data)
        if "specs" in extra:
            services.item_specs_set(item_id=item.pk, specs=extra["specs"])
        skus = services.item_skus_generate(
            item_id=item.pk, points=points, cash=Decimal(cash), stock_each=stock
        )
        for sku in skus:
            if extra.get("low"):
                services.sku_update(
                    sku_id=sku.pk,
                    points=sku.points,
                    cash=sku.cash,
                    low_stock_threshold=extra["low"],
                )
        if redemptions and stock > 2:
            sold = (n * 7) % 5 + 1
            reference = f"demo:sale:{item.pk}"
            services.stock_reserve(sku_id=skus[0].pk, quantity=sold, reference=reference)
            services.stock_commit(reference=reference)
        if images:
            for k, (image_icon, caption) in enumerate([(icon, subtitle), (None, english)]):
                services.item_image_add(
                    item_id=item.pk,
                    content=product_image_png(
                        name=name, seed=n + 3 * k, icon=image_icon, subtitle=caption
                    ),
                    filename=f"demo-{item.pk}-{k}.png",
                    alt=name,
                    sort_order=k,
                )
        items.append(item)
    return items
