from django.urls import path

from jifen.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("signup/code/", views.signup_code, name="signup_code"),
    path("points/", views.history, name="history"),
    path("transfer/", views.transfer, name="transfer"),
    path("transfer/confirm/", views.transfer_confirm, name="transfer_confirm"),
    path("transfer/done/", views.transfer_done, name="transfer_done"),
    path("me/", views.profile, name="profile"),
    path("me/addresses/", views.addresses, name="addresses"),
    path("me/addresses/new/", views.address_form, name="address_add"),
    path("me/addresses/<int:address_id>/", views.address_form, name="address_edit"),
    path("me/addresses/<int:address_id>/delete/", views.address_delete, name="address_delete"),
    path(
        "me/addresses/<int:address_id>/default/",
        views.address_make_default,
        name="address_default",
    ),
]
