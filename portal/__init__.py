"""The Django project and everything the three services share."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
