from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "jifen.referrals"
    label = "referrals"
    verbose_name = _("邀请与商品码")
