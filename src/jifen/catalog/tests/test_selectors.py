import datetime as dt

import pytest
from django.utils import timezone

from jifen.catalog import selectors, services
from jifen.core.errors import NotFound, Unauthenticated, ValidationFailed
from jifen.ledger.services import points_earn

pytestmark = pytest.mark.django_db


def names(result) -> list[str]:
    return [item.name for item in result.items]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("耳机", ["无线蓝牙耳机"]),  # Chinese, name and category
        ("蓝牙", ["无线蓝牙耳机"]),  # part of a Chinese word
        ("咖啡", ["星巴克咖啡券"]),
        ("coff", ["星巴克咖啡券"]),  # part of an English word
        ("BLUETOOTH", ["无线蓝牙耳机"]),  # any case
        ("wireless earb", ["无线蓝牙耳机"]),  # every word must match
        ("Headphones", ["无线蓝牙耳机"]),  # English category name
        ("降噪", ["无线蓝牙耳机"]),  # subtitle
        ("热门", ["无线蓝牙耳机", "星巴克咖啡券"]),  # tag
        ("生活", ["星巴克咖啡券", "电子书月卡"]),  # ancestor category name
        ("wireless coffee", []),
        ("保温杯", []),  # not on the shelf yet
        ("按摩", []),  # above rank 0
        ("%", []),  # LIKE wildcards are literal
        ("_", []),
    ],
)
def test_search(catalog, q, expected):
    result = selectors.item_search(q=q)
    assert sorted(names(result)) == sorted(expected)
    assert result.count == len(expected)


def test_category_filter_includes_descendants(catalog):
    assert names(selectors.item_search(category_id=catalog.digital.pk)) == ["无线蓝牙耳机"]
    assert sorted(names(selectors.item_search(category_id=catalog.life.pk))) == [
        "星巴克咖啡券",
        "电子书月卡",
    ]
    assert names(selectors.item_search(category_id=999_999)) == []


def test_kind_points_and_stock_filters(catalog):
    assert names(selectors.item_search(kind="coupon")) == ["星巴克咖啡券"]
    assert names(selectors.item_search(points_min=500, points_max=1000)) == ["星巴克咖啡券"]
    assert names(selectors.item_search(points_max=300)) == ["电子书月卡"]
    assert sorted(names(selectors.item_search(in_stock=True))) == ["无线蓝牙耳机", "星巴克咖啡券"]


def test_affordable_uses_the_members_balance(catalog, member):
    points_earn(member_id=member.pk, points=800, source="test", reference="t:1")
    result = selectors.item_search(member_id=member.pk, affordable=True, sort="points_asc")
    assert names(result) == ["电子书月卡", "星巴克咖啡券"]  # 300 and exactly 800
    with pytest.raises(Unauthenticated):
        selectors.item_search(affordable=True)


def test_sorting(catalog):
    services.stock_reserve(sku_id=catalog.coupon_sku.pk, quantity=3, reference="s1")
    services.stock_commit(reference="s1")
    assert names(selectors.item_search(sort="popular"))[0] == "星巴克咖啡券"
    assert names(selectors.item_search(sort="points_asc")) == [
        "电子书月卡",
        "星巴克咖啡券",
        "无线蓝牙耳机",
    ]
    assert names(selectors.item_search(sort="points_desc")) == [
        "无线蓝牙耳机",
        "星巴克咖啡券",
        "电子书月卡",
    ]
    assert names(selectors.item_search(sort="new")) == [
        "电子书月卡",
        "星巴克咖啡券",
        "无线蓝牙耳机",
    ]
    assert names(selectors.item_search())[0] == "无线蓝牙耳机"  # featured first


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"sort": "cheap"}, "invalid_sort"),
        ({"kind": "gift"}, "invalid_kind"),
        ({"points_min": -1}, "invalid_points_range"),
        ({"points_min": 10, "points_max": 5}, "invalid_points_range"),
        ({"page": 0}, "invalid_page"),
        ({"page_size": 101}, "invalid_page"),
        ({"q": "x" * 101}, "invalid_query"),
        ({"q": "a\x00"}, "invalid_query"),
    ],
)
def test_bad_search_input(catalog, kwargs, code):
    with pytest.raises(ValidationFailed) as error:
        selectors.item_search(**kwargs)
    assert error.value.code == code


def test_prices_and_stock_are_annotated(catalog):
    item = selectors.item_detail(item_id=catalog.earbuds.pk)
    assert (item.price_points, selectors.money(item.price_cash), item.stock) == (5000, "9.90", 20)
    assert [sku.remaining for sku in item.active_skus] == [10, 10]


def test_tier_visibility(catalog, member):
    with pytest.raises(NotFound):
        selectors.item_detail(item_id=catalog.massage.pk, member_id=member.pk)
    from jifen.tiers.models import Level, MemberTier

    gold = Level.objects.get(rank=2)
    MemberTier.objects.create(member=member, level=gold, since=timezone.localdate())
    item = selectors.item_detail(item_id=catalog.massage.pk, member_id=member.pk)
    assert item.name == "肩颈按摩预约券"
    assert selectors.tier_name_for_rank(2) == gold.name


def test_shelf_window(catalog):
    later = timezone.now() + dt.timedelta(days=4)
    with pytest.raises(NotFound):
        selectors.item_detail(item_id=catalog.later.pk)
    assert "保温杯" in names(selectors.item_search(now=later))
    services.item_save(
        item_id=catalog.coupon.pk, off_shelf_at=timezone.now() + dt.timedelta(days=1)
    )
    assert "星巴克咖啡券" not in names(selectors.item_search(now=later))


def test_category_tree(catalog):
    tree = selectors.category_tree()
    assert [(n.name, [c.name for c in n.children]) for n in tree] == [
        ("数码", ["耳机"]),
        ("生活", ["咖啡"]),
    ]


def test_mall_home(catalog, member):
    points_earn(member_id=member.pk, points=1000, source="test", reference="t:2")
    home = selectors.mall_home(member_id=member.pk)
    assert home.balance == 1000
    assert [i.name for i in home.featured] == ["无线蓝牙耳机"]
    assert [i.name for i in home.affordable] == ["星巴克咖啡券"]  # the e-book has no stock
    assert len(home.hot) == 3
