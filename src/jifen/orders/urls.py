from django.urls import path

from jifen.orders import views

app_name = "orders"
urlpatterns = [
    path("cart/", views.cart_page, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/buy/", views.buy_now, name="buy_now"),
    path("cart/<int:line_id>/update/", views.cart_line_update, name="cart_update"),
    path("cart/<int:line_id>/remove/", views.cart_line_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="list"),
    path("orders/<str:number>/", views.order_detail, name="detail"),
    path("orders/<str:number>/pay/", views.order_pay, name="pay"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="cancel"),
    path("orders/<str:number>/address/", views.order_change_address, name="change_address"),
    path("orders/<str:number>/confirm/", views.order_confirm, name="confirm"),
]
