"""A fake OpenAI-compatible server: chat completions (whole and SSE-streamed, with usage and
a reasoning model's thinking in each of its forms), embeddings and image generations.

    python -m tests.fakes.openai --port 9100 --token-delay 0.02
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.server import Behaviour, FakeServer, Recorded, serve_forever, tiny_png


class FakeOpenAI(FakeServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api_key: str | None = None  # when set, other keys get 401
        self.models: set[str] | None = None  # when set, other model names get 404
        self.reply = "工会会依法维护职工的合法权益。"
        self.tokens: list[str] | None = None  # the reply's tokens; by default its characters
        self.reasoning = ""  # the thinking, sent before the answer in the form below
        # "reasoning_content" (DeepSeek), "reasoning" (vLLM's and OpenRouter's parsers), or
        # "think": `<think>…</think>` at the start of the content (R1 distills, Qwen3 on Ollama).
        self.reasoning_as = "reasoning_content"
        self.think_closed = True  # False: the <think> block never ends (a think-only model)
        self.think_piece = 3  # characters per streamed chunk of a <think> block: tags split
        self.think_opened = False  # True: the prompt opened the block; only </think> is sent
        self.image_as = "b64_json"  # or "url"
        self.image_bytes: bytes | None = None
        self.revised_prompt: str | None = None
        # Scripted embeddings: a text containing a key gets that vector (else vector_for).
        self.vectors: dict[str, list[float]] = {}
        # When set, image result URLs name this host instead of the fake's own.
        self.result_host: str | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_post("/v1/images/generations", self.images)

    def reply_tokens(self) -> list[str]:
        return list(self.tokens) if self.tokens is not None else list(self.reply)

    def _refuse(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if self.api_key is not None and (
            request.headers.get("Authorization") != f"Bearer {self.api_key}"
        ):
            return web.json_response(
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                status=401,
            )
        if self.models is not None and body.get("model") not in self.models:
            return web.json_response(
                {
                    "error": {
                        "message": f"The model `{body.get('model')}` does not exist",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
                status=404,
            )
        return None

    async def _start(self, request: web.Request) -> tuple[dict[str, Any], Behaviour, Any, Recorded]:
        recorded, behaviour = await self.record(request)
        try:
            body = recorded.json() or {}
        except ValueError:
            bad = web.json_response({"error": {"message": "bad json"}}, status=400)
            return {}, behaviour, bad, recorded
        answer = self.canned(behaviour) or self._refuse(request, body)
        return body, behaviour, answer, recorded

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body, behaviour, answer, recorded = await self._start(request)
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        tokens = self.reply_tokens()
        usage = {
            "prompt_tokens": sum(len(m.get("content", "")) for m in body.get("messages", [])),
            "completion_tokens": len(tokens),
            "total_tokens": 0,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        ident, created, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time()), body["model"]
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(tokens)}
            if self.reasoning and self.reasoning_as == "think":
                message["content"] = self.think_block() + message["content"]
            elif self.reasoning:
                message[self.reasoning_as] = self.reasoning
            return web.json_response(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

        pause = behaviour.token_delay or 0.0
        parts = self.thinking_deltas() + [{"content": t} for t in tokens]
        await send({"role": "assistant", "content": ""})
        # Token i goes out at start + (i + 1) x pause: sleeping a pause after each send would
        # add every sleep's overshoot to the answer (a benchmark would count it as ours).
        loop = asyncio.get_running_loop()
        start = loop.time()
        for sent, delta in enumerate(parts):
            if behaviour.truncate_after is not None and sent >= behaviour.truncate_after:
                # Cut the connection mid-answer, without the end of the chunked body.
                assert request.transport is not None
                request.transport.close()
                return response
            if pause:
                await asyncio.sleep(max(0.0, start + (sent + 1) * pause - loop.time()))
            await send(delta)
        await send({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        recorded.done_at = time.monotonic()
        return response

    def think_block(self) -> str:
        opening = "" if self.think_opened else "<think>"
        return f"{opening}{self.reasoning}" + ("</think>\n\n" if self.think_closed else "")

    def thinking_deltas(self) -> list[dict[str, Any]]:
        if not self.reasoning:
            return []
        if self.reasoning_as != "think":
            return [{self.reasoning_as: c, "content": None} for c in self.reasoning]
        block, size = self.think_block(), self.think_piece
        return [{"content": block[i : i + size]} for i in range(0, len(block), size)]

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        body, _behaviour, answer, _recorded = await self._start(request)
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": self.vector(text)}
            for i, text in enumerate(texts)
        ]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": sum(map(len, texts)), "total_tokens": 0},
            }
        )

    def vector(self, text: str) -> list[float]:
        for key, vector in self.vectors.items():
            if key in text:
                return vector
        return vector_for(text)

    async def images(self, request: web.Request) -> web.StreamResponse:
        body, _behaviour, answer, _recorded = await self._start(request)
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        seed = body.get("seed", 42)
        data = self.image_bytes if self.image_bytes is not None else tiny_png(seed)
        item: dict[str, Any] = {"revised_prompt": self.revised_prompt}
        if self.image_as == "url":
            item["url"] = self.add_file(f"{uuid.uuid4().hex}.png", data)
            if self.result_host:
                item["url"] = item["url"].replace("127.0.0.1", self.result_host, 1)
        else:
            item["b64_json"] = base64.b64encode(data).decode()
        return web.json_response({"created": int(time.time()), "data": [item], "seed": seed})


def vector_for(text: str, dimensions: int = 8) -> list[float]:
    """A deterministic vector: equal texts, equal vectors."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255, 4) for b in digest[:dimensions]]


def _options(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    parser.add_argument("--reply", help="the answer (streamed one character per token)")
    parser.add_argument("--tokens", type=int, help="answer with this many tokens instead")
    parser.add_argument("--api-key", help="refuse other keys with 401")
    parser.add_argument("--image-size", help="draw images of this size (e.g. 256x256), not 1×1")

    def apply(args: argparse.Namespace) -> None:
        if args.reply:
            fake.reply = args.reply
        if args.tokens:
            fake.tokens = [f"字{i % 10}" for i in range(args.tokens)]
        fake.api_key = args.api_key
        if args.image_size:
            width, height = (int(n) for n in args.image_size.lower().split("x"))
            fake.image_bytes = tiny_png(7, width, height)

    return apply


if __name__ == "__main__":
    fake = FakeOpenAI()
    serve_forever(fake, "A fake OpenAI-compatible server", _options)
