"""Celery on Redis when REDIS_URL is set; without it tasks run inline (CELERY_TASK_ALWAYS_EAGER)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jifen.config.settings")

app = Celery("jifen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
