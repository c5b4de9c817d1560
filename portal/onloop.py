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

import asyncio
import contextlib
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, reset_queries
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, locale, security
from django.urls import set_script_prefix
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


# Receivers of request_started and request_finished that do no blocking I/O on the event loop:
# they look after the current thread's database connections (the loop's thread has none open:
# Django refuses to connect there), the context's caches (closing Redis's is a no-op) and its
# URLconf.
LOOP_SAFE_RECEIVERS: frozenset[Any] = frozenset(
    {reset_queries, close_old_connections, close_caches, reset_urlconf}
)


def runs_on_loop(signal: Signal, sender: Any) -> bool:
    """Whether all of the signal's receivers for `sender` are LOOP_SAFE_RECEIVERS."""
    sync, asynchronous = signal._live_receivers(sender)
    return not asynchronous and all(receiver in LOOP_SAFE_RECEIVERS for receiver in sync)


def _made_no_thread() -> bool:
    """Whether this request's code has run no thread-sensitive work: asgiref made no thread for
    its ThreadSensitiveContext, and no synchronous caller above (a test client) ran it."""
    if getattr(AsyncToSync.executors, "current", None) is not None:
        return False
    context = SyncToAsync.thread_sensitive_context.get(None)
    return context is not None and context not in SyncToAsync.context_to_thread_executor


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler, with the on-loop equivalents of settings.MIDDLEWARE's Django
    middlewares (the rest as listed, in the same order).

    It also keeps a request that does all its work on the loop (Ask's stream, whose blocking
    work runs on the loop's thread pool) from making a thread of its own. Django sends
    request_started through sync_to_async(thread_sensitive=True) and closes the response (which
    sends request_finished) the same way, so every request made a thread for its
    ThreadSensitiveContext and another to join it: 0.5 ms of CPU per request. When their
    receivers are LOOP_SAFE_RECEIVERS they run here instead: at the start, in the request's fresh
    thread, they had no connection to look after; at the end, when no thread-sensitive work ran
    (none opened a connection in the request's thread), neither. A request that ran any (a
    synchronous view, a session saved) closes its response in its thread, as Django does."""

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's handle(), but for where the signals' receivers and the close run."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(asgi.get_script_prefix(scope))
        if runs_on_loop(signals.request_started, self.__class__):
            signals.request_started.send(sender=self.__class__, scope=scope)
        else:
            await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            refused: Any = error_response  # a bad request's answer
            body_file.close()
            await self.send_response(refused, send)
            await sync_to_async(refused.close)()
            return

        async def process_request(request: HttpRequest, send: Any) -> HttpResponseBase:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away
                await self.send_response(response, send)
            return response

        # Catch a disconnect while getting the response (listen_for_disconnect first: it
        # raises nothing unexpected that would keep process_request from being cancelled).
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()  # views may handle the cancellation
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response: Any = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if (
                _made_no_thread()
                # The request's own close (its body, as Django closes body_file below, here)
                and all(closer == request.close for closer in response._resource_closers)
                and runs_on_loop(signals.request_finished, response._handler_class)
            ):
                response.close()
            else:
                await sync_to_async(response.close)()
        body_file.close()

    def load_middleware(self, is_async: bool = False) -> None:
        # Built once, when the process starts serving: the setting is swapped only meanwhile.
        configured = settings.MIDDLEWARE
        settings.MIDDLEWARE = [ON_LOOP.get(path, path) for path in configured]
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = configured
