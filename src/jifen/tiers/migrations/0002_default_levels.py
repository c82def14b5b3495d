"""The default levels: 普通, 银卡, 金卡, 钻石. Operators change them in the back-office."""

from decimal import Decimal

from django.db import migrations

DEFAULT_LEVELS = [
    {
        "code": "normal",
        "name": "普通",
        "rank": 0,
        "style": "plain",
        "min_points": None,
        "min_spend": None,
        "earn_multiplier": Decimal("1.00"),
        "mall_discount": Decimal("1.00"),
        "extra_draws": 0,
        "birthday_points": 0,
        "free_shipping": False,
        "exclusive_items": False,
        "boost_days": 0,
        "boost_multiplier": Decimal("1.00"),
    },
    {
        "code": "silver",
        "name": "银卡",
        "rank": 1,
        "style": "silver",
        "min_points": 2000,
        "min_spend": Decimal("2000.00"),
        "earn_multiplier": Decimal("1.10"),
        "mall_discount": Decimal("0.95"),
        "extra_draws": 1,
        "birthday_points": 100,
        "free_shipping": False,
        "exclusive_items": False,
        "boost_days": 0,
        "boost_multiplier": Decimal("1.00"),
    },
    {
        "code": "gold",
        "name": "金卡",
        "rank": 2,
        "style": "gold",
        "min_points": 8000,
        "min_spend": Decimal("8000.00"),
        "earn_multiplier": Decimal("1.25"),
        "mall_discount": Decimal("0.90"),
        "extra_draws": 2,
        "birthday_points": 500,
        "free_shipping": True,
        "exclusive_items": False,
        "boost_days": 7,
        "boost_multiplier": Decimal("2.00"),
    },
    {
        "code": "diamond",
        "name": "钻石",
        "rank": 3,
        "style": "diamond",
        "min_points": 30000,
        "min_spend": Decimal("30000.00"),
        "earn_multiplier": Decimal("1.50"),
        "mall_discount": Decimal("0.85"),
        "extra_draws": 5,
        "birthday_points": 2000,
        "free_shipping": True,
        "exclusive_items": True,
        "boost_days": 30,
        "boost_multiplier": Decimal("2.00"),
    },
]


def seed(apps, schema_editor):
    Level = apps.get_model("tiers", "Level")
    for values in DEFAULT_LEVELS:
        Level.objects.get_or_create(code=values["code"], defaults=values)


def unseed(apps, schema_editor):
    Level = apps.get_model("tiers", "Level")
    Level.objects.filter(code__in=[v["code"] for v in DEFAULT_LEVELS]).delete()


class Migration(migrations.Migration):
    dependencies = [("tiers", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
