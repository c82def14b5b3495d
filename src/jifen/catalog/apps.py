from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "jifen.catalog"
    label = "catalog"
