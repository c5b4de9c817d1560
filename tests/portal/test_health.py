"""GET /healthz: the database, the broker and this process's warm start, and which one is not
ready; a web process under uvicorn takes connections only once warm."""

from __future__ import annotations

import gc
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import clear_url_caches, get_resolver

from knowledge import faqmatch, lexicon, retrieval, versions
from knowledge.text import segmenter
from portal import readiness
from portal.celery import app
from tests.waiting import wait_for


@pytest.fixture(autouse=True)
def warm_up_ended() -> Iterator[None]:
    """A warm-up a test started in the background ends with the test (it holds a connection)."""
    yield
    wait_for(lambda: readiness.state().status != readiness.WARMING, what="the warm-up to end")


@pytest.fixture
def cold_process() -> None:
    """This process as if it had just started: nothing warmed up."""
    readiness.forget()


def _ready(client: Client) -> bool:
    return client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_healthz_reports_ok_when_database_broker_and_retrieval_are_ready(client: Client) -> None:
    wait_for(lambda: _ready(client), what="/healthz to say ready")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "retrieval": "ok"}


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


@pytest.mark.django_db(transaction=True)
def test_a_process_that_is_not_warm_yet_answers_503_starting_then_ready(
    client: Client, cold_process: None
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "status": "starting",
        "database": "ok",
        "broker": "ok",
        "retrieval": "warming",
    }
    wait_for(lambda: _ready(client), what="/healthz to say ready after the warm-up")
    assert readiness.state().status == readiness.READY


@pytest.mark.django_db
def test_the_warm_up_builds_what_the_first_question_needs(cold_process: None) -> None:
    clear_url_caches()
    setattr(retrieval, "_kept", None)  # noqa: B010  (mypy would take it for None below)
    assert readiness.warm().status == readiness.READY
    # jieba's dictionary, the lexicon and the FAQ index as the database holds them are there
    # before any question: the first one finds nothing to build.
    assert segmenter._tokenizer.initialized
    assert lexicon._current.version == versions.read().lexicon
    assert faqmatch._index.version == faqmatch.version()
    # A small base's passages as the ranker reads them, for the index as it stands.
    assert retrieval._kept is not None and retrieval._kept[0][2] == versions.read().index
    # The URLconf is imported and its patterns compiled (Django's first resolve did it).
    assert get_resolver()._populated  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_uvicorn_takes_connections_only_once_the_process_is_warm(cold_process: None) -> None:
    import uvicorn

    from portal.asgi import application

    config = uvicorn.Config(
        application, host="127.0.0.1", port=0, lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    collector = gc.get_threshold()  # the startup settles the collector (portal.asgi)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=60, what="uvicorn to start")
        # Started means the lifespan startup (the warm-up) has run: the first request finds
        # the process ready.
        assert readiness.state().status == readiness.READY
        port = server.servers[0].sockets[0].getsockname()[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as page:
            assert page.status == 200
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        gc.unfreeze()  # this test process goes on with other tests
        gc.set_threshold(*collector)
