"""The Celery application: queues, acknowledgement and time limits shared by every task."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_default_queue="default",
    task_queues=(Queue("default"), Queue("llm"), Queue("images")),
    task_routes={
        # Queue `llm` is served by threads (model calls wait on the network); CPU-bound jobs
        # (indexing, analytics) stay on the default queue's processes.
        "knowledge.tasks.embed_segments": {"queue": "llm"},
        "knowledge.tasks.*": {"queue": "default"},
        "writer.tasks.*": {"queue": "llm"},
        "imaging.tasks.*": {"queue": "images"},
    },
    # A task is acknowledged when it has finished, so a worker that dies mid-task hands it back;
    # tasks are therefore written to be safe to run twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=300,
    task_time_limit=360,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="Asia/Shanghai",
    enable_utc=True,
)
if app.conf.broker_url and str(app.conf.broker_url).startswith("filesystem"):
    # The filesystem transport has no fan-out exchange for remote control.
    app.conf.worker_enable_remote_control = False

app.autodiscover_tasks()


@signals.worker_init.connect
def warm_up(**kwargs: Any) -> None:
    """Build what retrieval needs before the worker takes tasks (`portal.readiness`): in the
    main process, so that a prefork pool's processes inherit it and a thread pool shares it."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from portal import readiness

    readiness.warm()
