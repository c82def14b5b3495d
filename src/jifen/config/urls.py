from functools import partial

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from ninja.openapi.views import openapi_json, openapi_view

from jifen.config.api import api
from jifen.web import views as web_views

urlpatterns = [
    path("api/v1/", api.urls),
    # The stable addresses API.md gives for the OpenAPI document and its browsable page.
    path("api/openapi.json", partial(openapi_json, api=api), name="openapi-json"),
    path("api/docs", partial(openapi_view, api=api), name="openapi-docs"),
    path("admin/", admin.site.urls),
    # Sign-up first: the same address as allauth's, with the invite code filled in.
    path("accounts/signup/", web_views.SignupView.as_view(), name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("tiers/", include("jifen.tiers.urls")),
    path("engage/", include("jifen.engagement.urls")),
    path("invite/", include("jifen.referrals.urls")),
    path("mall/", include("jifen.catalog.urls")),
    path("mall/", include("jifen.orders.urls")),
    path("mall/", include("jifen.vouchers.urls")),
    path("mall/", include("jifen.aftersales.urls")),
    path("mall/", include("jifen.reviews.urls")),
    path("pay/", include("jifen.payments.urls")),
    path("shipping/", include("jifen.shipping.urls")),
    path("earn/", include("jifen.rules.urls")),
    path("", include("jifen.web.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
elif settings.JIFEN_SERVE_MEDIA:
    # One-machine mode (make demo): uploads are served by the app. Behind a proxy in
    # production, the proxy or object storage serves MEDIA_URL instead.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
