from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "jifen.backoffice"
    label = "backoffice"
