"""GET /healthz: the database and the broker, and which one is down."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.celery import app


@pytest.mark.django_db
def test_healthz_reports_ok_when_database_and_broker_answer(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down(client: Client) -> None:
    original = app.conf.broker_url
    app.conf.update(broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.update(broker_url=original)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["database"] == "ok"
    assert body["broker"].startswith("error")
