from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "jifen.referrals"
    label = "referrals"
