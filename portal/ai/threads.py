"""Running the layer's blocking work (database, cache) from the event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
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
