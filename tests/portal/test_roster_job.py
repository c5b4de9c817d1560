"""The roster import job: claimed once, finished or failed, never left running or holding data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import RosterImport, User
from portal.services import roster
from portal.tasks import run_roster_import
from tests.people import id_number

HEADER = "username,real_name,id_number,member_no,union_unit,phone\n"


def queued_job(ada: User, *, serial: int = 300, **fields) -> RosterImport:
    rows = roster.parse_roster(
        HEADER + f"j{serial},职工,{id_number(serial)},J{serial},东莞市总工会,\n"
    )
    return RosterImport.objects.create(
        uploaded_by=ada, file_name="r.csv", rows=[r.to_json() for r in rows], **fields
    )


@pytest.mark.django_db
def test_running_the_job_twice_imports_once(ada: User) -> None:
    job = queued_job(ada)
    run_roster_import(job.pk)
    run_roster_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.created_count, job.rows) == ("done", 1, [])
    assert User.objects.filter(username="j300").count() == 1


@pytest.mark.django_db
def test_a_job_that_breaks_is_marked_failed_and_keeps_no_personal_data(ada: User) -> None:
    job = RosterImport.objects.create(
        uploaded_by=ada, file_name="r.csv", rows=[{"line": 2, "username": "broken"}]
    )
    run_roster_import(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "内部错误" in job.errors[0]
    assert job.rows == [] and job.finished_at is not None
    assert not User.objects.filter(username="broken").exists()


@pytest.mark.django_db
def test_a_job_whose_worker_died_is_taken_up_again(ada: User) -> None:
    job = queued_job(ada, status="running", started_at=timezone.now() - timedelta(hours=2))
    run_roster_import(job.pk)
    job.refresh_from_db()
    assert job.status == "done"


@pytest.mark.django_db
def test_a_job_running_now_is_not_run_a_second_time(ada: User) -> None:
    job = queued_job(ada, status="running", started_at=timezone.now())
    run_roster_import(job.pk)
    job.refresh_from_db()
    assert job.status == "running"
    assert not User.objects.filter(username="j300").exists()
