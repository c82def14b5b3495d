from django.urls import path
from django.views.generic import RedirectView

from jifen.engagement import views

app_name = "engagement"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="engagement:checkin"), name="index"),
    path("checkin/", views.checkin_page, name="checkin"),
    path("checkin/submit/", views.checkin_submit, name="checkin_submit"),
    path("checkin/makeup/", views.checkin_makeup, name="checkin_makeup"),
    path("tasks/", views.task_page, name="tasks"),
    path("tasks/<slug:code>/claim/", views.task_claim, name="task_claim"),
    path("share/", views.share_submit, name="share"),
]
