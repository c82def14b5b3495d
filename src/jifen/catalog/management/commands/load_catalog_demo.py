"""jifen load-catalog-demo: the demo mall (categories, items, SKUs, stock, pictures)."""

from django.core.management.base import BaseCommand

from jifen.catalog.demo import catalog_demo_load


class Command(BaseCommand):
    help = "载入演示商城商品（可重复运行）。"

    def add_arguments(self, parser):
        parser.add_argument("--no-images", action="store_true")

    def handle(self, *args, **options):
        items = catalog_demo_load(images=not options["no_images"])
        self.stdout.write(self.style.SUCCESS(f"{len(items)} items"))
