"""Jifen (积分): a loyalty points mall."""

from jifen.config.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
