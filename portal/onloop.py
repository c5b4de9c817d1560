"""Django's own middlewares, run on the event loop under ASGI.

Django's MiddlewareMixin runs every process_request() and process_response() of an async
request through sync_to_async(thread_sensitive=True): onto the ONE thread that all of a process's
thread-sensitive work shares (the Ask view's prepare() and finish_turn() included). Seven
middlewares made about a dozen hops per streamed answer, each waiting in that thread's queue
behind other members' database work (bench/ask_load.py: the overhead's p95).

These subclasses behave exactly like Django's (the same methods run, in the same order), but call
a method directly on the event loop when it does no blocking I/O for this request, and keep the
hop only when it does: saving a session, storing messages, a CSRF secret kept in the session.
Sessions and the user stay lazy (nothing here reads them). Under WSGI nothing changes.

settings.MIDDLEWARE keeps naming Django's classes (the deployment checks look for those names);
`ASGIHandler`, the handler of portal.asgi, builds its chain with these equivalents instead."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.core.handlers import asgi
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, locale, security
from django.utils.deprecation import MiddlewareMixin


class OnLoopMixin(MiddlewareMixin):
    """MiddlewareMixin whose async call runs the hooks on the event loop unless
    `request_blocks()` / `response_blocks()` say this request's would do I/O."""

    def request_blocks(self, request: HttpRequest) -> bool:
        return False

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if self.request_blocks(request):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        response = response or await self.get_response(request)  # type: ignore[misc]
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self.response_blocks(request, response):
                response = await sync_to_async(process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = process_response(request, response)
        return response  # type: ignore[no-any-return]


class SecurityMiddleware(OnLoopMixin, security.SecurityMiddleware):
    pass


class SessionMiddleware(OnLoopMixin, sessions_middleware.SessionMiddleware):
    """process_request() only makes the lazy session object; process_response() saves it
    (in a thread) when Django would: modified or SESSION_SAVE_EVERY_REQUEST, not empty, and
    not a 5xx. A request without a session (an API token's) never leaves the loop."""

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        try:
            session = request.session
            saves = session.modified or settings.SESSION_SAVE_EVERY_REQUEST
            return bool(saves and not session.is_empty() and response.status_code < 500)
        except AttributeError:
            return False


class LocaleMiddleware(OnLoopMixin, locale.LocaleMiddleware):
    pass


class CommonMiddleware(OnLoopMixin, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(OnLoopMixin, csrf.CsrfViewMiddleware):
    """The secret is a cookie (CSRF_USE_SESSIONS is off): reading and setting it is no I/O.
    process_view() runs on the loop for an exempt view or a safe method; a check that reads
    the posted form keeps its thread (a large body may be spooled to disk)."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self.async_mode:  # type: ignore[attr-defined]
            # Django's handler adapts the bound method it finds on the instance.
            self.process_view = self._process_view_async  # type: ignore[method-assign,assignment]

    def request_blocks(self, request: HttpRequest) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)

    async def _process_view_async(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        process_view = super().process_view
        quick = (
            getattr(request, "csrf_processing_done", False)
            or getattr(callback, "csrf_exempt", False)
            or (
                request.method in ("GET", "HEAD", "OPTIONS", "TRACE")
                and not settings.CSRF_USE_SESSIONS
            )
        )
        if quick:
            return process_view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


class AuthenticationMiddleware(OnLoopMixin, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(OnLoopMixin, messages_middleware.MessageMiddleware):
    """The storage is made lazily; storing messages (session or cookie) keeps its thread, and
    happens only when the request read or added any."""

    def response_blocks(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and bool(storage.used or storage.added_new)


class XFrameOptionsMiddleware(OnLoopMixin, clickjacking.XFrameOptionsMiddleware):
    pass


# Django's middlewares of settings.MIDDLEWARE, and what the ASGI handler runs in their place.
ON_LOOP = {
    "django.middleware.security.SecurityMiddleware": "portal.onloop.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware": "portal.onloop.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware": "portal.onloop.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware": "portal.onloop.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware": "portal.onloop.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware": (
        "portal.onloop.AuthenticationMiddleware"
    ),
    "django.contrib.messages.middleware.MessageMiddleware": "portal.onloop.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": (
        "portal.onloop.XFrameOptionsMiddleware"
    ),
}


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler, with the on-loop equivalents of settings.MIDDLEWARE's Django
    middlewares (the rest as listed, in the same order)."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Built once, when the process starts serving: the setting is swapped only meanwhile.
        configured = settings.MIDDLEWARE
        settings.MIDDLEWARE = [ON_LOOP.get(path, path) for path in configured]
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = configured
