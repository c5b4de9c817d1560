"""portal.asgi's handler runs Django's middlewares on the event loop: what a visitor notices of
them (security headers, CSRF refusal, the session cookie, the language) is unchanged."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from asgiref.testing import ApplicationCommunicator as _Communicator
from django.conf import settings
from django.core import signals

from portal import onloop
from tests.asgi import http_scope

pytestmark = pytest.mark.django_db(transaction=True)

ApplicationCommunicator: Any = _Communicator  # asgiref's testing module is untyped


async def _call(
    method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    scope = http_scope(method, path, headers or [])
    app = ApplicationCommunicator(onloop.ASGIHandler(), scope)
    await app.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await app.receive_output(timeout=20)
    received: dict[bytes, list[bytes]] = {}
    for name, value in start["headers"]:
        received.setdefault(name.lower(), []).append(value)
    content = b""
    while True:
        message = await app.receive_output(timeout=20)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await app.wait(timeout=5)
    return start["status"], received, content


def test_the_chain_is_django_s_own_middlewares_on_the_loop() -> None:
    handler = onloop.ASGIHandler()
    chain, names = getattr(handler, "_middleware_chain"), []  # noqa: B009  (private)
    while chain is not None:
        chain = getattr(chain, "__wrapped__", chain)  # convert_exception_to_response's
        names.append(type(chain).__module__ + "." + type(chain).__qualname__)
        chain = getattr(chain, "get_response", None)
    assert "portal.onloop.CsrfViewMiddleware" in names
    assert not any(name.startswith("django.middleware.") for name in names)
    # The setting keeps Django's names (the deployment checks read them).
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_a_page_keeps_its_headers_and_a_form_post_without_csrf_is_refused() -> None:
    status, headers, _body = async_to_sync(_call)("GET", "/accounts/login/")
    assert status == 200
    assert headers[b"x-frame-options"] == [b"DENY"]
    assert headers[b"x-content-type-options"] == [b"nosniff"]
    assert b"content-language" in headers
    assert any(c.startswith(settings.CSRF_COOKIE_NAME.encode()) for c in headers[b"set-cookie"])

    status, _headers, _body = async_to_sync(_call)(
        "POST",
        "/accounts/login/",
        b"username=a&password=b",
        [(b"content-type", b"application/x-www-form-urlencoded")],
    )
    assert status == 403


class _Recording(weakref.WeakKeyDictionary[Any, Any]):
    """asgiref's map of each ThreadSensitiveContext to the thread it made, counting them."""

    made = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        type(self).made += 1
        super().__setitem__(key, value)


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """What a receiver of request_started and request_finished heard, in which thread; and
    asgiref's threads for requests counted (_Recording.made)."""
    heard: list[tuple[str, int]] = []

    def receiver(signal: Any, **kwargs: Any) -> None:
        name = "started" if signal is signals.request_started else "finished"
        heard.append((name, threading.get_ident()))

    monkeypatch.setattr(SyncToAsync, "context_to_thread_executor", _Recording())
    _Recording.made = 0
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(receiver, dispatch_uid="test_onloop")
    monkeypatch.setattr(onloop, "LOOP_SAFE_RECEIVERS", onloop.LOOP_SAFE_RECEIVERS | {receiver})
    yield heard
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(dispatch_uid="test_onloop")


def _unauthenticated_ask() -> tuple[int, int]:
    """POST /api/v1/ask/ without credentials on an event loop of its own (no synchronous caller
    above it, as under uvicorn): an async view whose work runs on the loop's thread pool. The
    status, and the loop's thread."""

    async def ask() -> tuple[int, int]:
        status, _headers, _body = await _call("POST", "/api/v1/ask/", b'{"question": "a"}')
        return status, threading.get_ident()

    return asyncio.run(ask())


def test_an_async_request_sends_its_signals_on_the_loop_without_a_thread_of_its_own(
    heard: list[tuple[str, int]],
) -> None:
    status, loop_thread = _unauthenticated_ask()
    assert status == 401
    assert heard == [("started", loop_thread), ("finished", loop_thread)]
    assert _Recording.made == 0


def test_a_receiver_that_may_block_hears_the_signals_in_the_request_s_thread(
    heard: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onloop, "LOOP_SAFE_RECEIVERS", frozenset())
    status, loop_thread = _unauthenticated_ask()
    assert status == 401
    assert [name for name, _thread in heard] == ["started", "finished"]
    assert all(thread != loop_thread for _name, thread in heard)
    assert _Recording.made == 1  # as Django does it: a thread for the request
