"""Background jobs of the portal app: thin, take primary keys, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from portal.models import RosterImport, RosterImportStatus
from portal.services import roster

_FINISHED = (RosterImportStatus.DONE, RosterImportStatus.FAILED)


@shared_task(acks_late=True)
def run_roster_import(import_id: int) -> None:
    updated = RosterImport.objects.filter(pk=import_id, status=RosterImportStatus.QUEUED).update(
        status=RosterImportStatus.RUNNING
    )
    if (
        not updated
        and not RosterImport.objects.filter(
            pk=import_id, status=RosterImportStatus.RUNNING
        ).exists()
    ):
        return  # finished already, or gone
    with transaction.atomic():
        job = RosterImport.objects.select_for_update().get(pk=import_id)
        if job.status in _FINISHED:
            return
        rows = [roster.RosterRow.from_json(data) for data in job.rows]
        try:
            result = roster.import_roster(rows, actor=job.uploaded_by, source=job.file_name)
        except roster.RosterInvalid as exc:
            job.status = RosterImportStatus.FAILED
            job.errors = [exc.message, *(str(e) for e in exc.errors)]
        else:
            job.status = RosterImportStatus.DONE
            job.created_count = result.created
            job.updated_count = result.updated
            job.unchanged_count = result.unchanged
        job.rows = []
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
