from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "jifen.payments"
    label = "payments"
    verbose_name = _("支付")
    _check_registered = False

    def ready(self) -> None:
        from django.core import checks

        from jifen.ledger.verification import register_check
        from jifen.payments.checks import check_sandbox_in_production
        from jifen.payments.verification import check_payments

        # Not tagged "deploy": a production start-up (migrate, check) refuses the sandbox too.
        checks.register(check_sandbox_in_production, checks.Tags.security)

        if not PaymentsConfig._check_registered:  # joins `jifen verify-ledger` once
            register_check(check_payments)
            PaymentsConfig._check_registered = True
