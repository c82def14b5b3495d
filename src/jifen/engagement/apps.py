from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "jifen.engagement"
    label = "engagement"
