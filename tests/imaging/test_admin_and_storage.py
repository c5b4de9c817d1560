"""Admins see a failed request's provider detail; S3-compatible storage is one setting away."""

from __future__ import annotations

import pytest

from imaging.models import ImageRequest
from portal.jobs import JobStatus
from tests.portal.test_settings import manage


@pytest.mark.django_db
def test_admins_read_the_providers_words_on_a_failed_request(
    client, ada, alice, submit, draw_model
):
    made = submit(alice)
    ImageRequest.objects.filter(pk=made.pk).update(
        status=JobStatus.FAILED, error="图片生成失败，请稍后再试。",
        error_detail="ai_image_failed: result URL answered HTTP 404",
    )  # fmt: skip
    client.force_login(ada)

    page = client.get(f"/admin/imaging/imagerequest/{made.pk}/change/").content.decode()

    assert "result URL answered HTTP 404" in page
    assert client.get("/admin/imaging/imagerequest/").status_code == 200


def test_a_bucket_setting_switches_files_to_s3_compatible_storage() -> None:
    shown = "from django.conf import settings as s; print(s.STORAGES['default'])"
    result = manage(
        "shell", "-c", shown,
        PORTAL_S3_BUCKET="union-portal", PORTAL_S3_ENDPOINT_URL="http://minio.local:9000",
        PORTAL_S3_ADDRESSING="path",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "storages.backends.s3.S3Storage" in result.stdout
    assert "'bucket_name': 'union-portal'" in result.stdout
    assert "'endpoint_url': 'http://minio.local:9000'" in result.stdout
    assert "'default_acl': 'private'" in result.stdout
    assert "storages.backends" not in manage("shell", "-c", shown).stdout
