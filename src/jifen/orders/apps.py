from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "jifen.orders"
    label = "orders"
    verbose_name = _("兑换订单")
