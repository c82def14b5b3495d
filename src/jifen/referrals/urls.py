from django.urls import path, re_path

from jifen.referrals import views

app_name = "referrals"
urlpatterns = [
    path("", views.invite, name="invite"),
    path("codes/", views.codes, name="codes"),
    # An invite code: 8 symbols of the alphabet; lower case and dashes are accepted too.
    re_path(r"^(?P<code>[0-9A-Za-z\-]{4,20})/$", views.landing, name="landing"),
    # Its QR code: public, like the link it encodes (apps show it too).
    re_path(r"^(?P<code>[0-9A-Za-z\-]{4,20})/qr\.(?P<fmt>svg|png)$", views.invite_qr, name="qr"),
]
