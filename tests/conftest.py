"""Shared fixtures: the named people of tests/people.py, API clients, a real Celery worker; and
the clock.

The clock: a test whose outcome depends on the date, the weekday or the hour pins it with
`@pytest.mark.time_machine(INSTANT)` (time-machine's marker; the clock keeps ticking from that
instant, so workers, server threads and deadlines behave as they do at any other time). To show
that nothing else depends on when the suite runs, `TEST_CLOCK` moves the whole session:

    TEST_CLOCK=2026-12-04T16:30:00Z make pytest   # a Saturday, 00:30 in Shanghai

A test's own pin still wins inside that test. time-machine moves time.time() and datetime's
now()/today(); time.monotonic() and time.perf_counter() keep the real clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import BetaProgramme, Role, UnionUnit, User
from tests import people
from tests.fakes.fixtures import (  # noqa: F401  (fixtures, registered by being imported here)
    _ai_settings,
    configure,
    fake_comfyui,
    fake_hunyuan,
    fake_openai,
    fake_openai_b,
    fake_sdwebui,
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: Playwright's event loop then runs in the main thread until the end,
    # and no later test could call an async view through Django's test client.
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


_SESSION_CLOCK = pytest.StashKey[time_machine.travel]()


def session_clock() -> datetime | None:
    """The instant TEST_CLOCK moves the session to, if it is set."""
    raw = os.environ.get("TEST_CLOCK", "").strip()
    if not raw:
        return None
    try:
        moved = datetime.fromisoformat(raw)
    except ValueError:
        raise pytest.UsageError(
            f"TEST_CLOCK={raw!r} is not an ISO 8601 instant, e.g. 2026-12-04T16:30:00Z"
        ) from None
    if moved.utcoffset() is None:
        raise pytest.UsageError(
            f"TEST_CLOCK={raw!r} has no UTC offset: add Z or +08:00 to make it one instant"
        )
    return moved


def pytest_configure(config: pytest.Config) -> None:
    # Password hashing is deliberately slow; the suite creates many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A test's FAQ live in its transaction, which a thread of its own would not see: each
    # search learns from them itself (tests/knowledge/test_unseen_documents.py tests the thread).
    settings.KNOWLEDGE_RELEARN_IN_BACKGROUND = False
    moved = session_clock()
    if moved is not None:
        travel = time_machine.travel(moved, tick=True)
        travel.start()
        config.stash[_SESSION_CLOCK] = travel


def pytest_unconfigure(config: pytest.Config) -> None:
    travel = config.stash.get(_SESSION_CLOCK, None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    moved = session_clock()
    if moved is None:
        return None
    local = moved.astimezone(ZoneInfo(settings.TIME_ZONE))
    return (
        f"clock: TEST_CLOCK started the session at {moved.isoformat()}"
        f" ({local:%A %Y-%m-%d %H:%M} in {settings.TIME_ZONE}), ticking"
    )


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def _real_services() -> None:
    """The suite runs on what production runs; refuse to run on the embedded defaults."""
    if os.environ.get("ALLOW_EMBEDDED_TESTS") != "1":
        assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), (
            "run the tests through `make test` (PostgreSQL and Redis)"
        )
        assert settings.REDIS_URL, "run the tests through `make test` (PostgreSQL and Redis)"


@pytest.fixture(scope="session", autouse=True)
def _kept_segmentations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' warm-ups keep their segmentations in the run's own directory, not in the
    checkout's var/ (`knowledge.warmup.SEGMENTATIONS`)."""
    from knowledge import warmup

    kept = tmp_path_factory.mktemp("cache") / "segmentations.json"
    with mock.patch.object(warmup, "SEGMENTATIONS", kept):
        yield


@pytest.fixture
def units(db: None) -> dict[str, UnionUnit]:
    return people.make_units()


@pytest.fixture
def alice(units: dict[str, UnionUnit]) -> User:
    return people.make_user("alice", unit=units["factory"], serial=1)


@pytest.fixture
def bob(units: dict[str, UnionUnit]) -> User:
    return people.make_user("bob", unit=units["factory"], serial=2)


@pytest.fixture
def charlie(units: dict[str, UnionUnit]) -> User:
    return people.make_user("charlie", unit=units["factory"], serial=3, verified=False)


@pytest.fixture
def olivia(units: dict[str, UnionUnit]) -> User:
    return people.make_user("olivia", unit=units["other"], serial=4, verified=False)


@pytest.fixture
def sam(units: dict[str, UnionUnit]) -> User:
    return people.make_user("sam", role=Role.STAFF, unit=units["town"])


@pytest.fixture
def otto(units: dict[str, UnionUnit]) -> User:
    return people.make_user("otto", role=Role.STAFF, unit=units["other"])


@pytest.fixture
def eddie(units: dict[str, UnionUnit]) -> User:
    return people.make_user("eddie", role=Role.EDITOR, unit=units["city"])


@pytest.fixture
def ada(units: dict[str, UnionUnit]) -> User:
    return people.make_user("ada", role=Role.ADMIN, unit=units["city"])


@pytest.fixture
def open_programme(db: None) -> BetaProgramme:
    now = timezone.now()
    return BetaProgramme.objects.create(
        name="AI内测",
        slug="ai-beta",
        capacity=2,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3),
    )


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    def client_for(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker consuming from the real Redis broker, in a thread of this process."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    app.control.purge()
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10
    ) as worker:
        yield worker


@pytest.fixture
def celery_threads_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker with the thread pool `serve` gives queues llm and images (4 slots):
    jobs that wait on a model run side by side."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    app.control.purge()
    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=10
    ) as worker:
        yield worker
