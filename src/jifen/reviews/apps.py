from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "jifen.reviews"
    label = "reviews"
    verbose_name = _("商品评价")
    _check_registered = False

    def ready(self) -> None:
        from jifen.ledger.verification import register_check
        from jifen.reviews.verification import check_ratings

        if not ReviewsConfig._check_registered:  # the rating aggregates join the verification
            register_check(check_ratings)
            ReviewsConfig._check_registered = True
