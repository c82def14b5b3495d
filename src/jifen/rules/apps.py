from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "jifen.rules"
    label = "rules"
