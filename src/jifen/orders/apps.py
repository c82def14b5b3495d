from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "jifen.orders"
    label = "orders"
    verbose_name = _("兑换订单")
    _registered = False

    def ready(self) -> None:
        # Payments calls order_payment_succeeded when an order's cash part is paid. Once per
        # process, and only when the payments app offers its registry (built alongside).
        if OrdersConfig._registered:
            return
        try:
            from jifen.payments.registry import register_purpose
        except ImportError:
            return
        from jifen.orders.services import order_payment_succeeded

        register_purpose("order", order_payment_succeeded)
        OrdersConfig._registered = True
