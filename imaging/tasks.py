"""Background jobs of Draw (queue `images`, served by threads: see portal/celery.py). Thin:
they take a primary key and call the service, which is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="imaging.tasks.run_image_request",
    soft_time_limit=settings.IMAGING_SOFT_TIME_LIMIT,
    time_limit=settings.IMAGING_SOFT_TIME_LIMIT + 30,
)
def run_image_request(request_id: int) -> str:
    from imaging.services import generation

    return generation.run(request_id)


@shared_task(name="imaging.tasks.sweep_image_requests")
def sweep_image_requests() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): requests a dead worker left behind."""
    from imaging.services import generation

    swept = generation.sweep()
    return swept.requeued + swept.resent + swept.failed
