"""portal.asgi's handler runs Django's middlewares on the event loop: what a visitor notices of
them (security headers, CSRF refusal, the session cookie, the language) is unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator as _Communicator
from django.conf import settings

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
