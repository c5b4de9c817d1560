"""Roster upload on the members page: parsed at once, imported by a real worker over Redis."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.models import RosterImport, User
from tests.people import id_number
from tests.waiting import wait_for

HEADER = "username,real_name,id_number,member_no,union_unit,phone\n"


def csv_file(body: str, name: str = "roster.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (HEADER + body).encode(), content_type="text/csv")


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_roster_is_imported_by_the_worker(client: Client, celery_worker, ada) -> None:
    client.force_login(ada)
    body = "".join(
        f"w{i},职工{i},{id_number(200 + i)},W{i:04d},东莞市总工会/厚街镇总工会/某鞋厂工会,\n"
        for i in range(5)
    )
    response = client.post("/members/roster/", {"file": csv_file(body)})
    assert response.status_code == 302
    job = RosterImport.objects.get()

    wait_for(
        lambda: RosterImport.objects.filter(pk=job.pk, status="done").exists(),
        what="the roster import to finish",
    )
    status = client.get(f"/members/roster/{job.pk}/", HTTP_ACCEPT="application/json").json()
    assert (status["status"], status["created"]) == ("done", 5)
    assert (
        User.objects.filter(
            username__startswith="w", member_profile__verified_at__isnull=False
        ).count()
        == 5
    )
    job.refresh_from_db()
    assert job.rows == []  # nothing personal left behind in the job


@pytest.mark.django_db
def test_a_roster_with_errors_is_refused_at_once_and_nothing_is_queued(client: Client, ada) -> None:
    client.force_login(ada)
    body = "x1,某人,123,W1,东莞市总工会,\n"
    page = client.post("/members/roster/", {"file": csv_file(body)}).content.decode()
    assert "第2行" in page and "身份证号应为18位" in page
    assert not RosterImport.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_csv_is_refused(client: Client, ada) -> None:
    client.force_login(ada)
    upload = SimpleUploadedFile("roster.xlsx", b"PK\x03\x04", content_type="application/zip")
    page = client.post("/members/roster/", {"file": upload}).content.decode()
    assert ".csv" in page
    assert not RosterImport.objects.exists()


@pytest.mark.django_db
def test_staff_may_not_see_an_import_status(client: Client, ada, sam) -> None:
    job = RosterImport.objects.create(uploaded_by=ada, file_name="r.csv")
    client.force_login(sam)
    assert client.get(f"/members/roster/{job.pk}/").status_code == 403
