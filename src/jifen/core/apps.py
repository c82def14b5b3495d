from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "jifen.core"
    label = "core"
