from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "jifen.catalog"
    label = "catalog"
    verbose_name = _("商城商品")
    _check_registered = False

    def ready(self) -> None:
        from jifen.catalog.verification import check_stock
        from jifen.ledger.verification import register_check

        if not CatalogConfig._check_registered:  # I4 joins the ledger verification once
            register_check(check_stock)
            CatalogConfig._check_registered = True
