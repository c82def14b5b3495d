"""The project's URLs plus the rules app's member page, as the lead engineer will mount it."""

from django.urls import include, path

from jifen.config.urls import urlpatterns as project

urlpatterns = [path("earn/", include("jifen.rules.urls")), *project]
