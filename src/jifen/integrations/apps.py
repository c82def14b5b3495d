from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "jifen.integrations"
    label = "integrations"
