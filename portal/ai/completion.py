"""Chat: one answer at once, or streamed as text deltas, sync and async, with fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletion

from portal.ai import clients, metering
from portal.ai.errors import AIError, BadResponse, ProviderUnreachable
from portal.ai.failures import classify
from portal.ai.metering import Reading
from portal.ai.models import Outcome
from portal.ai.reasoning import (
    REASONING_FIELDS,
    Piece,
    ThinkSplitter,
    opens_thinking,
    reasoning_of,
    split_content,
)
from portal.ai.routing import ModelSpec
from portal.ai.serving import aserve, asettle, serve, settle
from portal.ai.sse import AsyncChunkStream, ChunkStream
from portal.models import User

ROLES = frozenset({"system", "user", "assistant"})
_NOTHING = Piece()
_THOUGHT_FIELDS = frozenset(REASONING_FIELDS)


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
    # A reasoning model's thinking: never part of `text`, never shown or stored as the answer.
    reasoning: str = ""


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


def _result(
    spec: ModelSpec, reading: Reading, text: str, finish: str | None, reasoning: str = ""
) -> ChatResult:
    return ChatResult(
        text=text,
        model=spec.name,
        provider=spec.provider_name,
        usage=TokenUsage(reading.tokens_in, reading.tokens_out),
        finish_reason=finish,
        reasoning=reasoning,
    )


def _completion(spec: ModelSpec, reading: Reading, answer: object) -> ChatResult:
    if not isinstance(answer, ChatCompletion) or not answer.choices:
        raise BadResponse(detail=f"not a chat completion: {str(answer)[:200]}")
    choice = answer.choices[0]
    if answer.usage is not None:
        reading.tokens_in = answer.usage.prompt_tokens
        reading.tokens_out = answer.usage.completion_tokens
    # The content is the answer, less a leading <think> block; a reasoning field stays out.
    content = split_content(choice.message.content or "", opened=opens_thinking(spec.options))
    reasoning = reasoning_of(choice.message) + content.reasoning
    return _result(spec, reading, content.text, choice.finish_reason, reasoning)


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
    """Reads a stream's chunks: the answer's and the thinking's deltas, the usage, whether it
    ended properly. The first-token time is the answer's first word, not the first thought."""

    def __init__(self, spec: ModelSpec, reading: Reading) -> None:
        self.spec, self.reading = spec, reading
        self.parts: list[str] = []
        self.thoughts: list[str] = []
        self.deltas = 0
        self.finish: str | None = None
        self.usage_seen = False
        self.splitter = ThinkSplitter(opened=opens_thinking(spec.options))

    def feed(self, chunk: dict[str, Any]) -> Piece:
        if usage := chunk.get("usage"):
            self.usage_seen = True
            self.reading.tokens_in = int(usage.get("prompt_tokens") or 0)
            self.reading.tokens_out = int(usage.get("completion_tokens") or 0)
        piece = _NOTHING
        for choice in (chunk.get("choices") or [])[:1]:
            delta = choice.get("delta") or {}
            content = delta.get("content") or ""
            if not isinstance(content, str):
                raise BadResponse(detail=f"delta content is not text: {str(content)[:100]}")
            piece = self.splitter.feed(content)
            # Most chunks carry no thinking field at all: no second Piece for them.
            if not _THOUGHT_FIELDS.isdisjoint(delta) and (thought := reasoning_of(delta)):
                piece = Piece(piece.text, thought + piece.reasoning)
            if content or piece.reasoning:
                self.deltas += 1
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])
        return self._keep(piece)

    def _keep(self, piece: Piece) -> Piece:
        if piece.text:
            self.reading.mark_first_token()
            self.parts.append(piece.text)
        if piece.reasoning:
            self.thoughts.append(piece.reasoning)
        return piece

    def flush(self) -> Piece:
        """What the thinking splitter still held when the stream ended."""
        return self._keep(self.splitter.end())

    def end(self) -> ChatResult:
        if self.finish is None:
            raise BadResponse(detail="the stream ended without a finish_reason (truncated)")
        if not self.usage_seen:
            # The server sent no usage: count deltas (thinking too), near one token each.
            self.reading.tokens_out = self.deltas
        return _result(
            self.spec, self.reading, "".join(self.parts), self.finish, "".join(self.thoughts)
        )


@dataclass
class _Opened:
    reading: Reading
    chunks: _Chunks
    first: Piece  # the first answer text or thinking
    rest: Any  # the ChunkStream / AsyncChunkStream, positioned after the first piece
    done: bool


def _seen(piece: Piece) -> bool:
    return bool(piece.text or piece.reasoning)


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
    """`for delta in stream_chat(...)`: the answer's text as it comes; `.result` once it has
    ended. `deltas()` gives the thinking too, for a reader that shows the model is thinking.

    Another model takes over only until the first text or thought has arrived; a failure after
    that raises an AIError, because an answer cannot change its author half-way."""

    def _open(self, spec: ModelSpec, reading: Reading) -> _Opened:
        stream = ChunkStream(spec, self._body(spec))
        chunks = _Chunks(spec, reading)
        try:
            for chunk in stream:
                if _seen(piece := chunks.feed(chunk)):
                    return _Opened(reading, chunks, piece, stream, done=False)
            tail = chunks.flush()
            chunks.end()  # an answer cut off before its first word may still go elsewhere
        except BaseException:
            stream.close()
            raise
        return _Opened(reading, chunks, tail, stream, done=True)

    def deltas(self) -> Generator[Piece]:
        """Every piece of answer text and of thinking, as it comes."""
        opened = serve(
            self._feature, self._user_id, self._open, streamed=True, settle_success=False
        )
        error: AIError | None = None
        outcome: str | None = None
        try:
            if _seen(opened.first):
                yield opened.first
            if not opened.done:
                for chunk in opened.rest:
                    if _seen(piece := opened.chunks.feed(chunk)):
                        yield piece
                if _seen(tail := opened.chunks.flush()):
                    yield tail
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

    def __iter__(self) -> Iterator[str]:
        pieces = self.deltas()
        try:
            for piece in pieces:
                if piece.text:
                    yield piece.text
        finally:
            pieces.close()


class AsyncChatStream(_Stream):
    """`async for delta in astream_chat(...)`: ChatStream for the event loop (Ask's SSE)."""

    async def _open(self, spec: ModelSpec, reading: Reading) -> _Opened:
        stream = await AsyncChunkStream.open(spec, self._body(spec))
        chunks = _Chunks(spec, reading)
        try:
            async for chunk in stream:
                if _seen(piece := chunks.feed(chunk)):
                    return _Opened(reading, chunks, piece, stream, done=False)
            tail = chunks.flush()
            chunks.end()
        except BaseException:
            await stream.close()
            raise
        return _Opened(reading, chunks, tail, stream, done=True)

    async def deltas(self) -> AsyncGenerator[Piece]:
        """Every piece of answer text and of thinking, as it comes."""
        opened = await aserve(
            self._feature, self._user_id, self._open, streamed=True, settle_success=False
        )
        error: AIError | None = None
        outcome: str | None = None
        try:
            if _seen(opened.first):
                yield opened.first
            if not opened.done:
                async for chunk in opened.rest:
                    if _seen(piece := opened.chunks.feed(chunk)):
                        yield piece
                if _seen(tail := opened.chunks.flush()):
                    yield tail
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

    async def __aiter__(self) -> AsyncIterator[str]:
        pieces = self.deltas()
        try:
            async for piece in pieces:
                if piece.text:
                    yield piece.text
        finally:
            # Closed here, not left to the garbage collector: the meter must know at once.
            await pieces.aclose()


# The streaming entry points: calling one opens nothing until the first delta is asked for.
stream_chat = ChatStream
astream_chat = AsyncChatStream


__all__ = ["ChatResult", "Piece", "TokenUsage", "achat", "astream_chat", "chat", "stream_chat"]
