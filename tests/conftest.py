"""Shared fixtures: the named people of tests/people.py, API clients, a real Celery worker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
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


def pytest_configure(config: pytest.Config) -> None:
    # Password hashing is deliberately slow; the suite creates many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
