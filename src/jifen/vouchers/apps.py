from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "jifen.vouchers"
    label = "vouchers"
    verbose_name = _("卡券")
    _check_registered = False

    def ready(self) -> None:
        from jifen.ledger.verification import register_check
        from jifen.vouchers.verification import check_code_pools

        if not VouchersConfig._check_registered:  # joins the ledger verification once
            register_check(check_code_pools)
            VouchersConfig._check_registered = True
