from django.urls import path

from jifen.shipping import views

app_name = "shipping"
urlpatterns = [
    path("callback/<slug:carrier_code>/", views.carrier_callback, name="callback"),
]
