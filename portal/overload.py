"""Overload is not an error: when the database pool or an admission gate is full, a request waits
a bounded time, then gets 503 with `Retry-After` and "人多，请稍后再试" — never a 500, and one
WARNING line in the log instead of a traceback.

- `Gate`: at most N requests of one kind at work in this process; the others wait on the event
  loop (no thread, no connection) up to a deadline, then `Overloaded`.
- `is_overload(exc)`: psycopg_pool's PoolTimeout (Django wraps it in OperationalError),
  PostgreSQL's "too many clients", our `Overloaded`.
- `OverloadMiddleware` (outermost) and `QuietOverloadFilter` (on the `django.request` logger):
  an overload raised anywhere else — a view, a middleware saving the session — that Django turned
  into a 500 becomes the 503, logged once as a WARNING. DRF views answer it in their exception
  handler (portal.api), the plain async views (Ask, enrolment) themselves.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from portal.errors import PortalError, PortalErrorCode
from portal.hybrid import HybridMiddleware

log = logging.getLogger("portal.overload")
R = TypeVar("R", bound=HttpResponseBase)


def busy_message() -> str:
    return _("人多，请稍后再试")


def retry_after() -> int:
    """Seconds to wait: spread over [n, 2n] so the refused do not all come back at once."""
    base = int(settings.OVERLOAD_RETRY_AFTER_SECONDS)
    return random.randint(base, 2 * base)  # noqa: S311  (spreading load, not a secret)


class Overloaded(PortalError):
    code = PortalErrorCode.BUSY
    status = 503

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or busy_message())
        self.retry_after = retry_after()


def is_overload(exc: BaseException | None) -> bool:
    """Whether this failure (or what caused it) is the service being full, not a bug."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(
            exc, Overloaded | psycopg_pool.PoolTimeout | psycopg.errors.TooManyConnections
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def warn(request: HttpRequest | None, exc: BaseException | None) -> None:
    """The one log line of a refused request."""
    where = f"{request.method} {request.path}" if request is not None else "-"
    log.warning("overloaded, answered 503: %s (%s)", where, type(exc).__name__ if exc else "-")


def json_response(exc: Overloaded | None = None) -> JsonResponse:
    """The API's error body for an overload."""
    exc = exc or Overloaded()
    response = JsonResponse(
        {"detail": exc.message, "code": exc.code},
        status=503,
        json_dumps_params={"ensure_ascii": False},
    )
    response["Retry-After"] = str(exc.retry_after)
    return logged(response)


def logged(response: R) -> R:
    """Mark a 503 whose WARNING is written, so Django does not log it again as an ERROR."""
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log reads it
    return response


def response_for(request: HttpRequest) -> HttpResponse:
    """JSON under /api/ (or for a client that asks for JSON), else a small page that tries again
    by itself (no template: rendering the site's layout would need the database)."""
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        return json_response()
    wait = retry_after()
    again = request.method in ("GET", "HEAD")
    page = format_html(
        '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">{}'
        "<title>{}</title></head><body><main><h1>{}</h1><p>{}</p></main></body></html>",
        format_html('<meta http-equiv="refresh" content="{}">', wait) if again else "",
        busy_message(),
        busy_message(),
        _("页面会在 %(n)d 秒后自动重试。") % {"n": wait} if again else _("请稍候再提交一次。"),
    )
    response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(wait)
    return logged(response)


class Gate:
    """At most `size` holders at once per event loop; a newcomer waits up to `wait` seconds on
    the loop, then gets Overloaded. Sized below the database pool, so the work behind it never
    waits for a connection."""

    def __init__(self, size: Callable[[], int], wait: Callable[[], float]) -> None:
        self._size, self._wait = size, wait
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self._size())
        return self._semaphores[loop]

    @asynccontextmanager
    async def enter(self) -> AsyncIterator[None]:
        semaphore = self._semaphore()
        try:
            async with asyncio.timeout(self._wait()):
                await semaphore.acquire()
        except TimeoutError:
            raise Overloaded() from None
        try:
            yield
        finally:
            semaphore.release()


def release_connections() -> None:
    """Hand this thread's database connections back to the pool (not inside a transaction)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


class QuietOverloadFilter(logging.Filter):
    """On `django.request`: the ERROR with a traceback Django logs for an uncaught exception
    becomes one WARNING line when the exception is an overload, and marks the request, so that
    OverloadMiddleware answers 503 instead of the 500."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not is_overload(exc):
            return True
        request = getattr(record, "request", None)
        if request is not None:
            request.overloaded = True
        warn(request, exc)
        return False


class OverloadMiddleware(HybridMiddleware):
    """Outermost: a view's overload becomes the 503 at once (process_exception), and a 500 that
    Django made of an overload further in (QuietOverloadFilter marked it) is replaced by it."""

    def _call(self, request: HttpRequest) -> Any:
        return self._replace(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return self._replace(request, await get_response(request))

    def _replace(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code == 500 and getattr(request, "overloaded", False):
            return response_for(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_overload(exception):
            return None
        warn(request, exception)
        return response_for(request)
