from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "jifen.integrations"
    label = "integrations"
    verbose_name = _("系统接入")
    _check_registered = False

    def ready(self) -> None:
        from jifen.integrations.holds.verification import check_integration_holds
        from jifen.ledger.verification import register_check

        if not IntegrationsConfig._check_registered:  # joins the ledger verification once
            register_check(check_integration_holds)
            IntegrationsConfig._check_registered = True
