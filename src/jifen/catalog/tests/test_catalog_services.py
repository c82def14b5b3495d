import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from jifen.catalog import services
from jifen.catalog.models import Item, ItemImage, Sku, StockMovement
from jifen.core.errors import Conflict, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


def test_search_text_has_names_tags_and_category_path(catalog):
    catalog.earbuds.refresh_from_db()
    assert catalog.earbuds.search_text == (
        "无线蓝牙耳机 wireless bluetooth earbuds 降噪 长续航 新品 热门 耳机 headphones 数码 digital"
    )


def test_renaming_a_category_refreshes_the_items_below_it(catalog):
    services.category_save(
        category_id=catalog.digital.pk, name="数码电器", name_en="Electronics", sort_order=1
    )
    catalog.earbuds.refresh_from_db()
    assert catalog.earbuds.search_text.endswith("耳机 headphones 数码电器 electronics")


def test_a_category_cannot_move_under_itself(catalog):
    with pytest.raises(ValidationFailed) as error:
        services.category_save(
            category_id=catalog.digital.pk, name="数码", parent_id=catalog.audio.pk
        )
    assert error.value.code == "invalid_parent"
    catalog.digital.refresh_from_db()
    assert catalog.digital.parent_id is None


def test_spec_combinations_become_skus_with_their_stock(catalog):
    services.item_specs_set(
        item_id=catalog.earbuds.pk, specs=[("颜色", ["白色", "黑色"]), ("版本", ["标准", "Pro"])]
    )
    made = services.item_skus_generate(item_id=catalog.earbuds.pk, points=6000, stock_each=3)
    assert [sku.options for sku in made] == [
        {"颜色": "白色", "版本": "标准"},
        {"颜色": "白色", "版本": "Pro"},
        {"颜色": "黑色", "版本": "标准"},
        {"颜色": "黑色", "版本": "Pro"},
    ]
    assert [(s.points, s.stock_initial, s.remaining) for s in made] == [(6000, 3, 3)] * 4
    assert StockMovement.objects.filter(kind="initial", sku__in=made).count() == 4
    # Generating again adds nothing.
    assert services.item_skus_generate(item_id=catalog.earbuds.pk, points=1) == []


def test_sku_options_must_match_the_specs(catalog):
    with pytest.raises(ValidationFailed) as error:
        services.sku_create(item_id=catalog.earbuds.pk, points=1, options={"颜色": "红色"})
    assert error.value.code == "invalid_options"
    with pytest.raises(Conflict):
        services.sku_create(item_id=catalog.earbuds.pk, points=1, options={"颜色": "白色"})
    assert Sku.objects.filter(item=catalog.earbuds).count() == 2


def test_a_points_plus_cash_price_keeps_its_decimal(catalog):
    sku = Sku.objects.get(pk=catalog.earbuds_white.pk)
    assert (sku.points, sku.cash, sku.currency) == (5000, Decimal("9.90"), "CNY")


@pytest.mark.parametrize(
    ("points", "cash", "code"),
    [
        (0, "0", "invalid_price"),
        (-1, "0", "invalid_points"),
        (1.5, "0", "invalid_points"),
        (10, "-1", "invalid_amount"),
        (10, "9.999", "invalid_amount"),
        (10, "abc", "invalid_amount"),
        (10, "NaN", "invalid_amount"),
    ],
)
def test_bad_prices_are_refused(catalog, points, cash, code):
    with pytest.raises(ValidationFailed) as error:
        services.sku_create(item_id=catalog.coupon.pk, points=points, cash=cash, options={})
    assert error.value.code == code
    assert Sku.objects.filter(item=catalog.coupon).count() == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kind": "physical", "fulfilment": "code"}, "invalid_fulfilment"),
        ({"kind": "gift"}, "invalid_kind"),
        ({"kind": "coupon", "coupon_value": None, "valid_days": 30}, "required"),
        ({"kind": "virtual", "fulfilment": "link", "link_url": ""}, "required"),
        ({"per_order_limit": 3, "per_member_limit": 2}, "invalid_limits"),
        ({"per_order_limit": 0}, "invalid_quantity"),
        ({"name": "  "}, "required"),
        ({"min_tier_rank": -1}, "invalid_tier"),
    ],
)
def test_item_validation(catalog, changes, code):
    data = {"kind": "physical", "name": "测试", "category_id": catalog.life.pk, **changes}
    before = Item.objects.count()
    with pytest.raises(ValidationFailed) as error:
        services.item_save(**data)
    assert error.value.code == code
    assert Item.objects.count() == before


def test_shelf_window_must_end_after_it_starts(catalog):
    now = timezone.now()
    with pytest.raises(ValidationFailed) as error:
        services.item_save(
            item_id=catalog.coupon.pk, on_shelf_at=now, off_shelf_at=now - dt.timedelta(hours=1)
        )
    assert error.value.code == "invalid_shelf_window"
    catalog.coupon.refresh_from_db()
    assert catalog.coupon.off_shelf_at is None


def test_item_save_updates_only_what_it_is_given(catalog):
    item = services.item_save(
        item_id=catalog.coupon.pk, subtitle="全国门店通用", tag_names=["饮品"]
    )
    assert (item.name, item.subtitle, item.coupon_value) == (
        "星巴克咖啡券",
        "全国门店通用",
        Decimal("30.00"),
    )
    assert [t.name for t in item.tags.all()] == ["饮品"]
    with pytest.raises(NotFound):
        services.item_save(item_id=999_999, name="x")


def _png(size=(800, 600), colour=(200, 50, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_an_uploaded_image_gets_a_thumbnail(catalog, media):
    row = services.item_image_add(item_id=catalog.coupon.pk, content=_png(), alt="正面")
    with Image.open(row.thumbnail.path) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (480, 480))
    with Image.open(row.image.path) as image:
        assert image.size == (800, 600)
    assert row.image.name.startswith(f"catalog/{catalog.coupon.pk}/")


@pytest.mark.parametrize("content", [b"", b"not an image", b"GIF89a" + b"\x00" * 20])
def test_a_bad_upload_is_refused(catalog, media, content):
    with pytest.raises(ValidationFailed) as error:
        services.item_image_add(item_id=catalog.coupon.pk, content=content)
    assert error.value.code == "invalid_image"
    assert not ItemImage.objects.exists()


def test_generated_images_are_pleasant_pngs(catalog, media):
    from jifen.catalog.images import product_image_png

    content = product_image_png(name="无线蓝牙耳机", seed=3, icon="headphones")
    with Image.open(io.BytesIO(content)) as image:
        assert (image.format, image.size) == ("PNG", (800, 800))
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert len(colours) > 200  # a gradient, not a flat fill
