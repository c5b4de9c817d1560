"""Background jobs of the portal app: thin, take primary keys, safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import AuditOrigin
from portal.celery import app
from portal.errors import NotPermitted
from portal.models import RosterImport, RosterImportStatus
from portal.services import roster

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def run_roster_import(import_id: int) -> None:
    now = timezone.now()
    # Claim the job; one left "running" past the hard time limit had its worker die under it.
    stale = now - timedelta(seconds=app.conf.task_time_limit or 3600)
    claimed = (
        RosterImport.objects.filter(pk=import_id)
        .filter(
            Q(status=RosterImportStatus.QUEUED)
            | Q(status=RosterImportStatus.RUNNING, started_at__lt=stale)
        )
        .update(status=RosterImportStatus.RUNNING, started_at=now)
    )
    if not claimed:
        return  # finished, running elsewhere, or gone
    job = RosterImport.objects.get(pk=import_id)
    errors: list[str] = []
    result = None
    try:
        rows = [roster.RosterRow.from_json(data) for data in job.rows]
        result = roster.import_roster(
            rows,
            actor=job.uploaded_by,
            source=job.file_name,
            origin=AuditOrigin(address=job.uploaded_from, user_agent=""),
        )
    except roster.RosterInvalid as exc:
        errors = [exc.message, *(str(e) for e in exc.errors)]
    except NotPermitted as exc:  # the uploader is no longer an admin
        errors = [exc.message]
    except Exception:
        log.exception("roster import %s failed", import_id)
        errors = [_("导入时发生内部错误，未导入任何记录。请稍后重试或联系管理员。")]
    job.status = RosterImportStatus.FAILED if errors else RosterImportStatus.DONE
    job.errors = errors
    if result is not None:
        job.created_count = result.created
        job.updated_count = result.updated
        job.unchanged_count = result.unchanged
    job.rows = []  # nothing personal stays behind once the job has run
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "errors",
            "created_count",
            "updated_count",
            "unchanged_count",
            "rows",
            "finished_at",
        ]
    )
