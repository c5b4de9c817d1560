"""A scriptable loopback HTTP server on its own thread and event loop, the base of every fake.

A test queues behaviours with `then(...)`; each request takes the next one, and once the queue is
empty every request gets `default`. Requests are recorded in `requests`."""

from __future__ import annotations

import argparse
import asyncio
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0  # before the answer starts
    hang: bool = False  # never answer (until the server stops)
    retry_after: str | None = None
    malformed: bool = False  # a 200 whose body is not JSON
    body: bytes | None = None  # answer exactly this
    content_type: str = "application/json"
    # Streams: seconds between tokens, and how many chunks before the connection is cut.
    token_delay: float | None = None
    truncate_after: int | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    # time.monotonic() is one clock for every process of the machine: a benchmark compares
    # these with its own readings to tell the fake's latency from its client's.
    at: float = field(default_factory=time.monotonic)
    done_at: float | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.body or b"null")


def tiny_png(seed: int = 0, width: int = 1, height: int = 1) -> bytes:
    """A valid PNG of one colour (varying with `seed`), 1×1 unless a size is given, made
    without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes([seed % 256, 128, 64]) * width
    pixels = zlib.compress(row * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class FakeServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.default = Behaviour()
        self.requests: list[Recorded] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # -- scripting --------------------------------------------------------------------------

    def then(self, *behaviours: Behaviour, times: int = 1) -> FakeServer:
        with self._lock:
            for _ in range(times):
                self._script.extend(behaviours)
        return self

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def hits(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # -- subclasses add routes --------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # -- running ----------------------------------------------------------------------------

    async def record(self, request: web.Request) -> tuple[Recorded, Behaviour]:
        body = await request.read()
        recorded = Recorded(request.method, request.path, dict(request.headers), body)
        self.requests.append(recorded)
        behaviour = self.next_behaviour()
        if behaviour.hang:
            assert self._stopping is not None
            await self._stopping.wait()
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        return recorded, behaviour

    def canned(self, behaviour: Behaviour) -> web.Response | None:
        """The answer a behaviour imposes, or None to let the route answer normally."""
        headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
        if behaviour.body is not None:
            return web.Response(
                status=behaviour.status,
                body=behaviour.body,
                content_type=behaviour.content_type,
                headers=headers,
            )
        if behaviour.malformed:
            return web.Response(
                status=200, body=b'{"choices": [ oops', content_type="application/json"
            )
        if behaviour.status != 200:
            return web.json_response(
                {"error": {"message": f"fake failure {behaviour.status}", "type": "fake"}},
                status=behaviour.status,
                headers=headers,
            )
        return None

    async def serve_file(self, request: web.Request) -> web.StreamResponse:
        _recorded, behaviour = await self.record(request)
        if (canned := self.canned(behaviour)) is not None:
            return canned
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=found[0], content_type=found[1])

    async def report(self, request: web.Request) -> web.Response:
        """What the fake received and when it finished answering (for benchmarks)."""
        return web.json_response(
            [
                {"path": r.path, "at": r.at, "done_at": r.done_at, "body": r.body.decode()}
                for r in self.requests
                if not r.path.startswith("/_fake/")
            ]
        )

    def add_file(self, name: str, data: bytes, mime: str = "image/png") -> str:
        self.files[name] = (data, mime)
        return f"{self.url}/files/{name}"

    def start(self) -> FakeServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stopping = asyncio.Event()
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_get("/files/{name}", self.serve_file)
            app.router.add_get("/_fake/requests", self.report)
            self.routes(app)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        def halt() -> None:
            assert self._stopping is not None
            self._stopping.set()
            loop.stop()

        loop.call_soon_threadsafe(halt)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    server: FakeServer,
    description: str,
    extra: Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], None]] | None = None,
) -> None:
    """`python -m tests.fakes.X --port P`: run a fake until interrupted. `extra` adds a fake's
    own options and returns what applies them."""
    parser = argparse.ArgumentParser(description=description)
    apply = extra(parser) if extra is not None else None
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--token-delay", type=float, default=None, help="seconds per token")
    args = parser.parse_args()
    if apply is not None:
        apply(args)
    server.host, server.port = args.host, args.port
    server.default = Behaviour(delay=args.delay, token_delay=args.token_delay)
    server.start()
    print(f"{type(server).__name__} listening on {server.url}", flush=True)  # noqa: T201
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
