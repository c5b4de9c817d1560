"""A body over DATA_UPLOAD_MAX_MEMORY_SIZE: under /api/ a JSON 413 with its code, not Django's
bare HTML 400."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from knowledge.models import Document
from knowledge.seed import ensure_categories
from portal.auth import issue_token
from portal.models import User

DOCUMENTS = "/api/v1/knowledge/documents/"


@pytest.fixture
def editor_api(eddie: User) -> APIClient:
    ensure_categories()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(eddie).key}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_a_body_over_the_limit_is_a_json_413_in_the_api(
    editor_api: APIClient, settings, fmt: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    data = {"category": "rights", "title": "工资支付", "body": "工资" * 1024}
    response = editor_api.post(DOCUMENTS, data, format=fmt)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "request_too_large"
    assert "超过了允许的大小" in body["detail"]
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_a_form_over_the_limit_outside_the_api_keeps_djangos_400(
    client: Client, eddie: User, settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client.force_login(eddie)
    response = client.post(
        "/knowledge/lexicon/",
        urlencode({"kind": "term", "phrase": "加班" * 1024}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
