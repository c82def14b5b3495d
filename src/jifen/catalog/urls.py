from django.urls import path

from jifen.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.mall_home, name="home"),
    path("search", views.mall_search, name="search"),
    path("items/<int:item_id>/", views.item_page, name="item"),
]
