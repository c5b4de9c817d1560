"""Playwright driving Debian's chromium (no browser download) against the live test server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.people import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


# How long a page's actions and its assertions wait for what they wait for (an answer that
# streams in, a job's progress). Playwright's assertions wait 5 s by default, not the page's
# own timeout: on a busy shared machine the first question after seeding waits longer than
# that for the FAQ's models to be learned, and a test failed that waited for the right thing.
DEADLINE_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEADLINE_MS)

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"chromium not found at {CHROMIUM}: run `make setup` (installs Debian's chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls of a browser test
    # are still plain synchronous calls, made between browser steps. Browser tests run last
    # (tests/conftest.py), so every other test still has Django's check for ORM calls made
    # on an event loop.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


def sign_in(page: Any, server: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{server}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A page the size of a phone screen (390 px wide)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(DEADLINE_MS)
    yield page
    context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """The portal under uvicorn (ASGI, as in production), so answers really stream; the test's
    data is committed (transactional_db) for the server's own connections to see."""
    import threading

    import uvicorn

    from portal.onloop import ASGIHandler  # portal.asgi's handler
    from tests.waiting import wait_for

    config = uvicorn.Config(
        ASGIHandler(), host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=15, what="uvicorn to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
    from portal.ai import metering

    metering.flush()  # the meter's own thread, before the database is flushed
