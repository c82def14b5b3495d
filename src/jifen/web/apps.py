from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "jifen.web"
    label = "web"
