"""Running the layer's blocking work (database, cache) from the event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.db import connection

P = ParamSpec("P")
R = TypeVar("R")


def off_loop(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run `function` in a worker thread and hand its database connection back (to the pool,
    under PostgreSQL) at once instead of leaving one open in every thread."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(run, thread_sensitive=False)


def pooled(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """sync_to_async for a request's blocking work that hands its database connections back
    itself (Ask's prepare() and the storing of its answer): under ASGI, on a thread of the
    loop's pool. Thread-sensitive work runs in a thread Django makes for each request, and
    asgiref joins it at the request's end in another thread it makes (two threads per request).
    Below a synchronous caller (Django's test client, WSGI) it runs in that caller's thread, as
    thread-sensitive work does: there the test's transaction holds the data."""
    on_pool = sync_to_async(function, thread_sensitive=False)
    in_caller = sync_to_async(function, thread_sensitive=True)

    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        below_caller = getattr(AsyncToSync.executors, "current", None) is not None
        return await (in_caller if below_caller else on_pool)(*args, **kwargs)

    return call
