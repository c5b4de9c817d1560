"""Chat: one answer at once, or streamed as text deltas, sync and async, with fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletion

from portal.ai import clients, metering
from portal.ai.errors import AIError, BadResponse, ProviderUnreachable
from portal.ai.failures import classify
from portal.ai.metering import Reading
from portal.ai.models import Outcome
from portal.ai.routing import ModelSpec
from portal.ai.serving import aserve, asettle, serve, settle
from portal.ai.sse import AsyncChunkStream, ChunkStream
from portal.models import User

ROLES = frozenset({"system", "user", "assistant"})


@dataclass(frozen=True)
class TokenUsage:
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    provider: str
    usage: TokenUsage
    finish_reason: str | None = None


def clean_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Only role and content go out: DeepSeek refuses a reasoning_content sent back to it, and
    no other field of an earlier turn is ours to forward."""
    out = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ValueError(f"a chat message needs a role of {sorted(ROLES)} and text content")
        out.append({"role": role, "content": content})
    if not out:
        raise ValueError("a chat needs at least one message")
    return out


def _params(spec: ModelSpec, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"model": spec.name, "timeout": clients.timeout(spec)}
    if temperature is not None:
        params["temperature"] = temperature
    limit = min(filter(None, (max_tokens, spec.max_output_tokens)), default=None)
    if limit:
        params["max_tokens"] = limit
    return params


def _completions(client: Any) -> Any:
    # Our calls pass their options as one dict, which the client's overloads cannot follow;
    # every answer is checked with isinstance instead.
    return client.chat.completions


def _result(spec: ModelSpec, reading: Reading, text: str, finish: str | None) -> ChatResult:
    return ChatResult(
        text=text,
        model=spec.name,
        provider=spec.provider_name,
        usage=TokenUsage(reading.tokens_in, reading.tokens_out),
        finish_reason=finish,
    )


def _completion(spec: ModelSpec, reading: Reading, answer: object) -> ChatResult:
    if not isinstance(answer, ChatCompletion) or not answer.choices:
        raise BadResponse(detail=f"not a chat completion: {str(answer)[:200]}")
    choice = answer.choices[0]
    if answer.usage is not None:
        reading.tokens_in = answer.usage.prompt_tokens
        reading.tokens_out = answer.usage.completion_tokens
    # message.content is the answer; DeepSeek's reasoning_content stays out of it.
    return _result(spec, reading, choice.message.content or "", choice.finish_reason)


def chat(
    messages: list[dict[str, str]],
    *,
    feature: str,
    user: User | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ChatResult:
    """One complete answer from the first healthy model routed for the feature."""
    outgoing = clean_messages(messages)

    def call(spec: ModelSpec, reading: Reading) -> ChatResult:
        client = clients.openai_client(spec)
        answer = _completions(client).create(
            messages=outgoing,
            stream=False,
            **_params(spec, temperature, max_tokens),
        )
        return _completion(spec, reading, answer)

    return serve(feature, metering.user_id(user), call)


async def achat(
    messages: list[dict[str, str]],
    *,
    feature: str,
    user: User | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ChatResult:
    outgoing = clean_messages(messages)

    async def call(spec: ModelSpec, reading: Reading) -> ChatResult:
        client = clients.async_openai_client(spec)
        answer = await _completions(client).create(
            messages=outgoing,
            stream=False,
            **_params(spec, temperature, max_tokens),
        )
        return _completion(spec, reading, answer)

    return await aserve(feature, metering.user_id(user), call)


def _broken_off(exc: Exception) -> AIError:
    """A failure after the answer had begun: a lost connection means a truncated answer."""
    error = classify(exc)
    if isinstance(error, ProviderUnreachable):
        return BadResponse(detail=f"answer cut off: {error.detail}")
    return error


class _Chunks:
    """Reads a stream's chunks: the text deltas, the usage, whether it ended properly."""

    def __init__(self, spec: ModelSpec, reading: Reading) -> None:
        self.spec, self.reading = spec, reading
        self.parts: list[str] = []
        self.finish: str | None = None
        self.usage_seen = False

    def feed(self, chunk: dict[str, Any]) -> str:
        if usage := chunk.get("usage"):
            self.usage_seen = True
            self.reading.tokens_in = int(usage.get("prompt_tokens") or 0)
            self.reading.tokens_out = int(usage.get("completion_tokens") or 0)
        text = ""
        for choice in (chunk.get("choices") or [])[:1]:
            # A reasoning model's delta.reasoning_content is its thinking, not the answer.
            text = (choice.get("delta") or {}).get("content") or ""
            if not isinstance(text, str):
                raise BadResponse(detail=f"delta content is not text: {str(text)[:100]}")
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])
        if text:
            self.reading.mark_first_token()
            self.parts.append(text)
        return text

    def end(self) -> ChatResult:
        if self.finish is None:
            raise BadResponse(detail="the stream ended without a finish_reason (truncated)")
        if not self.usage_seen:
            # The server sent no usage: count deltas, which is near one token each.
            self.reading.tokens_out = len(self.parts)
        return _result(self.spec, self.reading, "".join(self.parts), self.finish)


@dataclass
class _Opened:
    reading: Reading
    chunks: _Chunks
    first: str
    rest: Any  # the ChunkStream / AsyncChunkStream, positioned after the first text
    done: bool


class _Stream:
    """What the blocking and the event-loop streams share: the request and the result."""

    def __init__(
        self,
        messages: list[dict[str, str]],
        *,
        feature: str,
        user: User | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self._messages = clean_messages(messages)
        self._feature, self._user_id = feature, metering.user_id(user)
        self._temperature, self._max_tokens = temperature, max_tokens
        self.result: ChatResult | None = None

    def _body(self, spec: ModelSpec) -> dict[str, Any]:
        body = _params(spec, self._temperature, self._max_tokens)
        del body["timeout"]
        return {
            **body,
            "messages": self._messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }


class ChatStream(_Stream):
    """`for delta in stream_chat(...)`: text as it comes; `.result` once it has ended.

    Another model takes over only until the first text has arrived; a failure after that
    raises an AIError, because an answer cannot change its author half-way."""

    def _open(self, spec: ModelSpec, reading: Reading) -> _Opened:
        stream = ChunkStream(spec, self._body(spec))
        chunks = _Chunks(spec, reading)
        try:
            for chunk in stream:
                if text := chunks.feed(chunk):
                    return _Opened(reading, chunks, text, stream, done=False)
            chunks.end()  # an answer cut off before its first word may still go elsewhere
        except BaseException:
            stream.close()
            raise
        return _Opened(reading, chunks, "", stream, done=True)

    def __iter__(self) -> Iterator[str]:
        opened = serve(
            self._feature, self._user_id, self._open, streamed=True, settle_success=False
        )
        error: AIError | None = None
        outcome: str | None = None
        try:
            if opened.first:
                yield opened.first
            if not opened.done:
                for chunk in opened.rest:
                    if text := opened.chunks.feed(chunk):
                        yield text
            self.result = opened.chunks.end()
        except GeneratorExit:
            outcome = Outcome.CANCELLED
            raise
        except Exception as exc:
            error = _broken_off(exc)
            raise error from exc
        finally:
            opened.rest.close()
            settle(opened.reading, error, outcome=outcome)


class AsyncChatStream(_Stream):
    """`async for delta in astream_chat(...)`: ChatStream for the event loop (Ask's SSE)."""

    async def _open(self, spec: ModelSpec, reading: Reading) -> _Opened:
        stream = await AsyncChunkStream.open(spec, self._body(spec))
        chunks = _Chunks(spec, reading)
        try:
            async for chunk in stream:
                if text := chunks.feed(chunk):
                    return _Opened(reading, chunks, text, stream, done=False)
            chunks.end()
        except BaseException:
            await stream.close()
            raise
        return _Opened(reading, chunks, "", stream, done=True)

    async def __aiter__(self) -> AsyncIterator[str]:
        opened = await aserve(
            self._feature, self._user_id, self._open, streamed=True, settle_success=False
        )
        error: AIError | None = None
        outcome: str | None = None
        try:
            if opened.first:
                yield opened.first
            if not opened.done:
                async for chunk in opened.rest:
                    if text := opened.chunks.feed(chunk):
                        yield text
            self.result = opened.chunks.end()
        except (GeneratorExit, asyncio.CancelledError):
            # The reader went away (aclose) or its task was cancelled (a closed SSE response).
            outcome = Outcome.CANCELLED
            raise
        except Exception as exc:
            error = _broken_off(exc)
            raise error from exc
        finally:
            await opened.rest.close()
            await asettle(opened.reading, error, outcome=outcome)


# The streaming entry points: calling one opens nothing until the first delta is asked for.
stream_chat = ChatStream
astream_chat = AsyncChatStream


__all__ = ["ChatResult", "TokenUsage", "achat", "astream_chat", "chat", "stream_chat"]
