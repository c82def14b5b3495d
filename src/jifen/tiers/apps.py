from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TiersConfig(AppConfig):
    name = "jifen.tiers"
    label = "tiers"
    verbose_name = _("会员等级")
