from django.urls import path

from jifen.payments import views

app_name = "payments"
urlpatterns = [
    path("sandbox/<str:token>/", views.sandbox_gateway, name="sandbox_gateway"),
    path("callback/<slug:provider>/", views.provider_callback, name="callback"),
]
