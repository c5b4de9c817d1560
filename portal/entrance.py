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
  byte for byte the same. Anything else — a request with a session cookie or a body, a host
  not allowed, an SSL redirect, a NUL, another method — goes through Django as before.
- **Bodies in time.** A request's body must arrive within BODY_SECONDS of its headers, or it
  ends as a client gone: connections that announce a body and send nothing do not keep their
  places among the requests in flight. (A buffering proxy in front is still advisable.)
"""

from __future__ import annotations

import asyncio
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


ENROL_PATH = re.compile(r"/api/v1/beta/(?P<slug>[-a-zA-Z0-9_]+)/enroll/")  # fullmatch
# A request's body must arrive within this many seconds of its headers, or the request ends as
# a client gone: a connection that announces a body and sends nothing must not hold a place
# among the requests in flight (an API client's body arrives in milliseconds).
BODY_SECONDS = 10.0


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
        self._security = SecurityMiddleware(_unused)
        self._responses: list[ResponseMiddleware] = [
            XFrameOptionsMiddleware(_unused),
            CommonMiddleware(_unused),  # Content-Length
            self._locale,
            self._security,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.django(scope, receive, send)
            return
        if self.in_flight >= int(settings.WEB_MAX_IN_FLIGHT):
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        receive = _body_in_time(receive)
        try:
            match = ENROL_PATH.fullmatch(scope["path"]) if scope["method"] == "POST" else None
            if match is not None and _token_header(scope):
                await self._enrol(scope, receive, send, match["slug"])
            else:
                await self.django(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, scope: Scope, send: Send) -> None:
        try:
            request = ASGIRequest(scope, BytesIO())
        except (UnicodeDecodeError, ValueError):  # a malformed request: no page for it
            overload.warn(None, overload.Overloaded())
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"retry-after", str(overload.retry_after()).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        overload.warn(request, overload.Overloaded())
        await self._send(request, overload.response_for(request), send)

    async def _enrol(self, scope: Scope, receive: Receive, send: Send, slug: str) -> None:
        from portal import api  # the views import the models: after Django's setup

        first = await receive()
        if first["type"] == "http.disconnect":
            return  # the client went away
        if first.get("body") or first.get("more_body"):
            # Enrolment takes no body: a request with one (a form, a file, a large upload) is
            # Django's, which reads it as it always does.
            await self.django(scope, _replay(first, receive), send)
            return
        try:
            request = ASGIRequest(scope, BytesIO())
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
            # An SSL redirect (SecurityMiddleware's answer before the view's) or a refusal of
            # RefuseNulMiddleware's: Django answers it.
            to_django = (
                self._security.process_request(request) is not None or refusal(request) is not None
            )
        except Exception:  # a malformed request or a host not allowed: Django answers it
            to_django = True
        if to_django:
            await self.django(scope, _replay(first, receive), send)
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


def _body_in_time(receive: Receive) -> Receive:
    """`receive`, with each part of the request's body due within BODY_SECONDS: past that the
    request reads as a client gone. Once the body is complete, messages come as they come (a
    streamed answer waits for the client's disconnect)."""
    complete = False

    async def in_time() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout(BODY_SECONDS):
                message = await receive()
        except TimeoutError:
            complete = True
            return {"type": "http.disconnect"}
        if message["type"] != "http.request" or not message.get("more_body", False):
            complete = True
        return message

    return in_time


def _replay(first: Message, receive: Receive) -> Receive:
    """The request's first message once more, for Django; then whatever the client sends."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return again
