from django.urls import path

from jifen.rules import views

app_name = "rules"
urlpatterns = [
    path("", views.earn_page, name="earn"),
]
