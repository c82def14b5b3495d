from django.urls import path

from jifen.tiers import views

app_name = "tiers"
urlpatterns = [
    path("", views.tier_page, name="home"),
]
