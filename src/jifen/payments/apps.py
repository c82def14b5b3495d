from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "jifen.payments"
    label = "payments"
    verbose_name = _("支付")
    _check_registered = False

    def ready(self) -> None:
        from jifen.ledger.verification import register_check
        from jifen.payments.verification import check_payments

        if not PaymentsConfig._check_registered:  # joins `jifen verify-ledger` once
            register_check(check_payments)
            PaymentsConfig._check_registered = True
