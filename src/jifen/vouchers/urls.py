from django.urls import path

from jifen.vouchers import views

app_name = "vouchers"
urlpatterns = [
    path("cards/", views.card_list, name="cards"),
    path("cards/<int:voucher_id>/", views.card_detail, name="card"),
]
