"""ASGI entry point: the web server of `make run` and of production.

The application answers ASGI lifespan: at startup each web process warms up
(`portal.readiness`) before it takes a connection, so that its first question is as fast as
the hundredth."""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does, before its handler

from portal.onloop import ASGIHandler  # noqa: E402  (needs the apps loaded)

# Django's handler, running Django's middlewares on the event loop (portal.onloop).
django_application = ASGIHandler()

# Django behind the entrance: the bound on requests in flight, the short path of enrolment.
from portal.entrance import Entrance  # noqa: E402  (after Django's setup)

entrance = Entrance(django_application)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    else:
        await entrance(scope, receive, send)


# The young generation is collected after this many new objects (Python's 700: several times
# per streamed answer).
YOUNG_OBJECTS = 10_000


def settle_collector() -> None:
    """After the warm-up: what the process built to start (Django, the segmenter's dictionary,
    the lexicon, the FAQ and posting-list indexes: some 280,000 objects) lives as long as it
    does. Frozen, the collector never scans it again: under bench/ask_load.py a web process made
    one or two full collections a minute, each about 180 ms of CPU with the GIL held (every
    answer of the process stalled meanwhile). With the young generation collected after
    YOUNG_OBJECTS new objects too, a web process spent 90-120 ms collecting over the run's
    minute instead of 310-550 ms (gc callbacks, four processes, after their warm-up)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)


async def lifespan(receive: Any, send: Any) -> None:
    from portal import readiness

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # A failed warm-up is logged and shown by /healthz; the process serves anyway (each
            # part is then built by the first request that needs it, and /healthz retries).
            await asyncio.to_thread(readiness.warm)
            settle_collector()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
