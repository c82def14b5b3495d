"""jifen generate-catalog-images: draw pictures (Pillow, no downloads) for items without."""

from django.core.management.base import BaseCommand

from jifen.catalog import services
from jifen.catalog.images import ICONS, product_image_png
from jifen.catalog.models import Item

ICON_BY_KIND = {"physical": "gift", "virtual": "card", "coupon": "ticket", "service": "leaf"}


class Command(BaseCommand):
    help = "为没有图片的商品生成商品图（渐变、图标和商品名）。"

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="也为已有图片的商品再加一张")

    def handle(self, *args, **options):
        items = Item.objects.order_by("pk")
        if not options["all"]:
            items = items.filter(images__isnull=True)
        made = 0
        for item in items:
            icon = ICON_BY_KIND.get(item.kind, ICONS[item.pk % len(ICONS)])
            services.item_image_add(
                item_id=item.pk,
                content=product_image_png(
                    name=item.name, seed=item.pk, icon=icon, subtitle=item.subtitle
                ),
                filename=f"generated-{item.pk}.png",
                alt=item.name,
                sort_order=100,
            )
            made += 1
        self.stdout.write(self.style.SUCCESS(f"{made} images"))
