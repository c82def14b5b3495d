from django.apps import AppConfig


class TiersConfig(AppConfig):
    name = "jifen.tiers"
    label = "tiers"
