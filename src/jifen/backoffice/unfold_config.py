"""django-unfold settings for the back-office; imported by jifen.config.settings."""

from django.utils.translation import gettext_lazy as _

UNFOLD = {
    "SITE_TITLE": _("积分商城 · 运营后台"),
    "SITE_HEADER": _("积分商城"),
    "SHOW_HISTORY": True,
}
