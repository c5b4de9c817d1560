"""Streamed chat completions read straight off the wire (Server-Sent Events).

The openai client turns every chunk into pydantic models, about 0.2 ms of CPU per chunk; at
hundreds of concurrent answers that alone delayed the tokens by hundreds of milliseconds
(bench/providers.py). The stream protocol is small and stable, so we read it ourselves:
`data: {json}` events, an `[DONE]` sentinel, and an `error` object on failure."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import Any

import aiohttp
import httpx2
from django.conf import settings

from portal.ai import clients
from portal.ai.errors import BadResponse, ProviderBusy, ProviderTimeout
from portal.ai.failures import from_status
from portal.ai.routing import ModelSpec

_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=200)
_ERROR_BODY_LIMIT = 4096

_sync: dict[tuple[int, str], httpx2.Client] = {}
_async: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, str], aiohttp.ClientSession]
] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _headers(spec: ModelSpec) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
    if key := clients.api_key(spec):
        headers["Authorization"] = f"Bearer {key}"
    return headers


def sync_client(spec: ModelSpec) -> httpx2.Client:
    key = (spec.provider_id, spec.revision)
    with _lock:
        client = _sync.get(key)
        if client is None:
            client = _sync[key] = httpx2.Client(limits=_LIMITS, headers=_headers(spec))
    return client


def async_session(spec: ModelSpec) -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    key = (spec.provider_id, spec.revision)
    with _lock:
        per_loop = _async.setdefault(loop, {})
        session = per_loop.get(key)
        if session is None or session.closed:
            session = per_loop[key] = aiohttp.ClientSession(
                headers=_headers(spec),
                connector=aiohttp.TCPConnector(limit=_LIMITS.max_connections or 1000),
            )
    return session


async def aclose() -> None:
    """Close this event loop's sessions (an event loop that is about to end calls it)."""
    with _lock:
        sessions = list(_async.pop(asyncio.get_running_loop(), {}).values())
    for session in sessions:
        await session.close()


def forget() -> None:
    with _lock:
        _sync.clear()
        _async.clear()


def _deadline() -> float:
    return time.monotonic() + settings.AI_MAX_ANSWER_SECONDS


def _check_deadline(deadline: float) -> None:
    # The read timeout catches a stream that stalls; this one catches one that trickles on.
    if time.monotonic() > deadline:
        raise ProviderTimeout(
            detail=f"the answer went on past AI_MAX_ANSWER_SECONDS={settings.AI_MAX_ANSWER_SECONDS}"
        )


MAX_EVENT_BYTES = 1024 * 1024


_DECODER = json.JSONDecoder()  # what json.loads() uses


def _loads(payload: bytes) -> Any:
    """json.loads(payload), without its encoding detection for the usual payload: an object
    (`{` first, then no NUL byte) is UTF-8 to json.loads too."""
    if payload[:1] == b"{" and payload[1:2] != b"\x00":
        return _DECODER.decode(payload.decode("utf-8", "surrogatepass"))
    return json.loads(payload)


class EventParser:
    """Splits a byte stream into the JSON objects of its `data:` events. Runs for every chunk
    of every streamed answer: the usual event (one `data:` line) takes a short path."""

    def __init__(self) -> None:
        self._buffer = b""
        self.done = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        buffer = self._buffer + data if self._buffer else data
        if b"\n\n" not in buffer:
            if len(buffer) > MAX_EVENT_BYTES:  # a server that never ends its event
                raise BadResponse(detail=f"an SSE event longer than {MAX_EVENT_BYTES} bytes")
            self._buffer = buffer
            return []
        *events, self._buffer = buffer.split(b"\n\n")
        if len(self._buffer) > MAX_EVENT_BYTES:
            raise BadResponse(detail=f"an SSE event longer than {MAX_EVENT_BYTES} bytes")
        out = []
        for event in events:
            if event[:5] == b"data:" and b"\n" not in event:
                payload = event[5:].lstrip(b" ")
            else:
                payload = b"\n".join(
                    line[5:].lstrip(b" ")
                    for line in event.split(b"\n")
                    if line.startswith(b"data:")
                )
            if not payload:
                continue  # a comment or keep-alive
            if payload == b"[DONE]":
                self.done = True
                break
            chunk = _loads(payload)
            if not isinstance(chunk, dict):
                raise BadResponse(detail=f"stream event is not an object: {payload[:200]!r}")
            if error := chunk.get("error"):
                raise ProviderBusy(detail=f"error event in the stream: {str(error)[:300]}")
            out.append(chunk)
        return out


def _refusal(status: int, body: bytes, headers: dict[str, str]) -> Exception:
    text = body[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
        inner = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
        message = inner.get("message", text) if isinstance(inner, dict) else text
    except ValueError:
        message = text
    return from_status(status, str(message)[:300], headers)


def _check_type(kind: str) -> None:
    if "text/event-stream" not in kind:
        raise BadResponse(detail=f"expected an event stream, got {kind or 'no content type'}")


class ChunkStream:
    """The chunks of one streamed completion (blocking)."""

    def __init__(self, spec: ModelSpec, body: dict[str, Any]) -> None:
        self._context: AbstractContextManager[httpx2.Response] = sync_client(spec).stream(
            "POST", f"{spec.base_url}/chat/completions", json=body, timeout=clients.timeout(spec)
        )
        response = self._context.__enter__()
        try:
            if response.status_code >= 400:
                body_bytes = b""
                for part in response.iter_bytes():  # the error text only, never a whole body
                    body_bytes += part
                    if len(body_bytes) >= _ERROR_BODY_LIMIT:
                        break
                raise _refusal(
                    response.status_code, body_bytes[:_ERROR_BODY_LIMIT], dict(response.headers)
                )
            _check_type(response.headers.get("content-type", ""))
        except BaseException:
            self.close()
            raise
        self._chunks = self._read(response)

    def _read(self, response: httpx2.Response) -> Iterator[dict[str, Any]]:
        parser = EventParser()
        deadline = _deadline()
        for data in response.iter_bytes():
            yield from parser.feed(data)
            if parser.done:
                return
            _check_deadline(deadline)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._chunks

    def close(self) -> None:
        self._context.__exit__(None, None, None)


class AsyncChunkStream:
    """The chunks of one streamed completion, for the event loop. aiohttp here: its C parser
    keeps the client's CPU per chunk low enough for hundreds of concurrent answers."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._chunks = self._read()

    @classmethod
    async def open(cls, spec: ModelSpec, body: dict[str, Any]) -> AsyncChunkStream:
        timeout = aiohttp.ClientTimeout(
            connect=spec.connect_timeout * 2,
            sock_connect=spec.connect_timeout,
            sock_read=spec.timeout,
        )
        # No redirects: a 307 would re-post the conversation to wherever it points.
        response = await async_session(spec).post(
            f"{spec.base_url}/chat/completions", json=body, timeout=timeout, allow_redirects=False
        )
        try:
            if response.status >= 400:
                body_bytes = await response.content.read(_ERROR_BODY_LIMIT)
                raise _refusal(response.status, body_bytes, dict(response.headers))
            _check_type(response.headers.get("content-type", ""))
        except BaseException:
            response.close()
            raise
        return cls(response)

    async def _read(self) -> AsyncIterator[dict[str, Any]]:
        parser = EventParser()
        deadline = _deadline()
        async for data in self._response.content.iter_any():
            for chunk in parser.feed(data):
                yield chunk
            if parser.done:
                return
            _check_deadline(deadline)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def close(self) -> None:
        # Closing (not releasing) drops a connection whose answer was not read to the end.
        self._response.close()
