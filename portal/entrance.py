"""The ASGI entrance in front of Django (portal.asgi): a bound on the requests in flight in this
process, and the short path of an enrolment with an API token.

- **In flight.** At most WEB_MAX_IN_FLIGHT HTTP requests at work in a web process; the next one
  is answered 503 busy with Retry-After at once (portal.overload), before Django reads it, so a
  crowd far beyond what the process can serve gets its clear answer in milliseconds instead of
  waiting its turn for minutes.
- **Enrolment with a token.** `POST /api/v1/beta/<slug>/enroll/` with an `Authorization` header
  is the one request of the sign-up rush. Django's middleware chain runs each of its synchronous
  middlewares through a thread and back (about 16 hand-offs a request, 40 % of its CPU under
  py-spy), none of which does anything for a token request without a body: no session, no CSRF
  (the view is exempt), no messages. Such a request goes straight to the view's own code
  (portal.api.answer_enrolment: the token, the policy, the one statement), and its answer gets the
  headers the middleware would add (security, framing, language, length), so both paths answer
  byte for byte the same. Anything else — a request with a session cookie, a body carrying NUL,
  another method — goes through Django as before.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from io import BytesIO
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.cookie import parse_cookie
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.locale import LocaleMiddleware
from django.middleware.security import SecurityMiddleware

from portal import overload
from portal.middleware import refusal

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ResponseMiddleware(Protocol):
    # Any: Django's stubs type some with HttpResponse, others with HttpResponseBase.
    def process_response(self, request: HttpRequest, response: Any) -> Any: ...


ENROL_PATH = re.compile(r"^/api/v1/beta/(?P<slug>[-a-zA-Z0-9_]+)/enroll/$")


def _unused(request: HttpRequest) -> HttpResponse:  # pragma: no cover  (never called)
    raise AssertionError("the entrance's middlewares only process responses")


class Entrance:
    """The ASGI application of the web server: Django behind the two checks above."""

    def __init__(self, django: ASGIHandler) -> None:
        self.django = django
        self.in_flight = 0
        # The middlewares of settings.MIDDLEWARE that change a token request's answer, in the
        # order Django applies them (innermost first); the others leave it as it is.
        self._locale = LocaleMiddleware(_unused)
        self._responses: list[ResponseMiddleware] = [
            XFrameOptionsMiddleware(_unused),
            CommonMiddleware(_unused),  # Content-Length
            self._locale,
            SecurityMiddleware(_unused),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.django(scope, receive, send)
            return
        if self.in_flight >= int(settings.WEB_MAX_IN_FLIGHT):
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        try:
            match = ENROL_PATH.match(scope["path"]) if scope["method"] == "POST" else None
            if match is not None and _token_header(scope):
                await self._enrol(scope, receive, send, match["slug"])
            else:
                await self.django(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        request = ASGIRequest(scope, BytesIO())
        overload.warn(request, overload.Overloaded())
        await self._send(request, overload.response_for(request), send)

    async def _enrol(self, scope: Scope, receive: Receive, send: Send, slug: str) -> None:
        from portal import api  # the views import the models: after Django's setup

        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        request = ASGIRequest(scope, BytesIO(body))
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (limit is not None and len(body) > limit) or refusal(request) is not None:
            # A refusal of RefuseNulMiddleware's (or a body too large): Django answers it.
            await self.django(scope, _replay(body, receive), send)
            return
        self._locale.process_request(request)
        try:
            response = await api.answer_enrolment(request, slug)
        except Exception as exc:  # a bug: Django's 500, logged as Django logs it
            response = await sync_to_async(response_for_exception)(request, exc)
        await self._send(request, response, send)

    async def _send(self, request: HttpRequest, response: HttpResponseBase, send: Send) -> None:
        for middleware in self._responses:
            response = middleware.process_response(request, response)
        await self.django.send_response(response, send)
        response.close()


def _token_header(scope: Scope) -> bool:
    """Whether the request names an API token (`Authorization: Token …`, DRF's keyword in any
    case) and carries no session cookie. Token authentication then decides alone: a wrong token
    is 401 on either path, never a fall back to a session. (With a session cookie, Django's
    session middleware may answer with a cookie of its own: such a request goes through it.)"""
    token = False
    for key, value in scope["headers"]:
        name = bytes(key).lower()
        if name == b"authorization":
            token = bytes(value).split(b" ", 1)[0].lower() == b"token"
        elif name == b"cookie":
            cookies = parse_cookie(bytes(value).decode("latin1"))
            if settings.SESSION_COOKIE_NAME in cookies:
                return False
    return token


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body once more, for Django; then whatever the client sends next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
