"""Warm start: what a process builds before it answers its first request, and whether it has.

Apps register warmers (`register`) in their `AppConfig.ready()`: the portal's imports the
URLconf and compiles its patterns (`warm_urls`), the knowledge app's builds what retrieval
needs (the segmenter's dictionary, the lexicon, the FAQ index, the posting lists of a small
knowledge base), which used to be built by the first question of each process and kept it
waiting about three seconds. They run:
- in each web process before it takes connections (`portal.asgi`: ASGI lifespan startup);
- in each Celery worker before it takes tasks (`portal.celery`: worker_init);
- otherwise (another server, the test client) in the background, from the first /healthz.
/healthz answers 503 with `"status": "starting"` until they have run (`state()`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.urls import get_resolver

logger = logging.getLogger(__name__)

COLD, WARMING, READY, FAILED = "cold", "warming", "ready", "failed"


@dataclass(frozen=True)
class State:
    status: str  # COLD, WARMING, READY or FAILED
    detail: str = ""  # what failed
    seconds: float = 0.0  # how long the warm-up took


_warmers: dict[str, Callable[[], None]] = {}
_lock = threading.Lock()  # held while the warmers run
_starting = threading.Lock()  # one background warm-up at a time
_state = State(COLD)


def warm_urls() -> None:
    """Import the URLconf (every view module with it) and compile every URL pattern: Django
    does both in the first request that resolves a path, about 0.6 s of CPU here."""
    get_resolver().reverse_dict  # noqa: B018 (reading it populates the resolver)


def register(name: str, warmer: Callable[[], None]) -> None:
    """Run `warmer` when the process warms up (again under the same name replaces it)."""
    _warmers[name] = warmer


def state() -> State:
    return _state


def warm() -> State:
    """Run every warmer, in this thread; the process is ready when all have succeeded. Another
    thread's warm-up in progress is waited for. Closes this thread's database connections
    afterwards (a web process's event loop or a forking Celery worker must not inherit them)."""
    global _state
    with _lock:
        if _state.status == READY:
            return _state
        _state = State(WARMING)
        started = time.perf_counter()
        try:
            for name, warmer in list(_warmers.items()):
                try:
                    warmer()
                except Exception as exc:
                    logger.exception("warm-up of %s failed", name)
                    _state = State(FAILED, f"{name}: {type(exc).__name__}")
                    return _state
            _state = State(READY, seconds=time.perf_counter() - started)
            logger.info("warm-up done in %.2f s", _state.seconds)
            return _state
        finally:
            for conn in connections.all(initialized_only=True):
                if not conn.in_atomic_block:  # a caller's transaction is the caller's
                    conn.close()


def warm_in_background() -> State:
    """Start the warm-up in a thread of its own unless it is running or done; the state now."""
    global _state
    with _starting:
        if _state.status in (COLD, FAILED) and not _lock.locked():
            _state = State(WARMING)  # from now on, not when the thread gets going
            threading.Thread(target=warm, name="warm-up", daemon=True).start()
    return _state


def forget() -> None:
    """Back to cold, as a freshly started process is (tests)."""
    global _state
    with _lock:
        _state = State(COLD)
