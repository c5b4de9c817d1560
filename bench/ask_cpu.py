"""Where Ask's server CPU per question goes, phase by phase, in one process.

    .venv/bin/python bench/ask_cpu.py [--questions 96] [--at-once 24]

bench/ask_load.py measures the whole server's CPU per request under load; this one takes the
same question through the same code one phase at a time, with nothing else running, so that
each phase's CPU can be read apart (PostgreSQL union_bench_ask, Redis db 14 and the fake model,
set up as ask_load sets them up):

- prepare: what the Ask API does before the answer (`knowledge.api.ask.prepare`: the member's
  token, the question's checks, the rate, the turn stored), with search() apart;
- answer: the streamed answer (`asking.answer`): the model's stream read and relayed as events,
  the safety check of each delta, the answer stored; `--at-once` answers run together on one
  event loop (uvloop, as uvicorn runs them), the CPU of the whole process divided among them;
- read floor: the same fake stream read by a bare aiohttp client and thrown away, the least
  any Python reader of it spends.

What ask_load's figure holds beyond their sum is the web server's own work (the HTTP request,
Django's handler and middlewares, the events written to the socket) and contention.

Last line: RESULT {"questions":…,"search_ms":…,"prepare_other_ms":…,"answer_ms":…,
"answer_read_floor_ms":…,"total_ms":…}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import ask_load  # noqa: E402
from bench.members import create_members, remove_members  # noqa: E402


def measure_prepare(token: str, questions: list[str]) -> tuple[list[Any], float, float]:
    """The turns, and CPU ms per question: search() and the rest of prepare()."""
    from django.test import RequestFactory

    from knowledge.api import ask as ask_api
    from knowledge.retrieval import search
    from knowledge.services import asking

    factory = RequestFactory()
    searched = 0.0

    def timed_search(*args: Any, **kwargs: Any) -> Any:
        nonlocal searched
        started = time.thread_time()
        try:
            return search(*args, **kwargs)
        finally:
            searched += time.thread_time() - started

    turns = []
    with mock.patch.object(asking, "search", timed_search):  # the real search(), timed
        started = time.thread_time()
        for question in questions:
            request = factory.post(
                "/api/v1/ask/",
                data=json.dumps({"question": question, "stream": True}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {token}",
            )
            turn, _ = ask_api.prepare(request)
            turns.append(turn)
        total = time.thread_time() - started
    n = len(questions)
    return turns, searched * 1000 / n, (total - searched) * 1000 / n


async def _answers(turns: list[Any], at_once: int) -> float:
    from knowledge.services import asking
    from portal.ai import sse

    async def one(turn: Any) -> None:
        async for event in asking.answer(turn):
            if event.name == "done" and event.data["mode"] != "llm":
                raise SystemExit(f"not the model's answer: {event.data['answer'][:80]!r}")

    started = time.process_time()
    for first in range(0, len(turns), at_once):
        await asyncio.gather(*(one(turn) for turn in turns[first : first + at_once]))
    used = time.process_time() - started
    await sse.aclose()
    return used * 1000 / len(turns)


async def _read_floor(url: str, count: int, at_once: int) -> float:
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": "?"}], "stream": True}
    headers = {"Authorization": f"Bearer {ask_load.FAKE_KEY}"}
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as r:
                async for _ in r.content.iter_any():
                    pass

        started = time.process_time()
        for first in range(0, count, at_once):
            await asyncio.gather(*(one() for _ in range(min(at_once, count - first))))
        return (time.process_time() - started) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--at-once", type=int, default=24, help="answers streamed together")
    args = parser.parse_args()
    os.environ["ASK_RATE"] = "100000/min"
    os.environ.setdefault("KNOWLEDGE_QUERY_REWRITE", "false")  # as ask_load's server
    ask_load.setup_bench_django()
    from knowledge import warmup

    prefix = f"cpu-{int(time.time())}"
    try:
        fake_url, _ = ask_load.start_fake()
        ask_load.prepare_database(fake_url)
        questions, _ = ask_load.load_questions(check_retrieval=True)
        questions = (questions * (args.questions // len(questions) + 1))[: args.questions]
        [token] = create_members(prefix, 1)
        warmup.warm()
        measure_prepare(token, questions[:10])  # the connection, the caches: as a warm server
        turns, search_ms, other_ms = measure_prepare(token, questions)
        answer_ms = uvloop.run(_answers(turns, args.at_once))
        floor_ms = uvloop.run(_read_floor(fake_url, len(turns), args.at_once))
    finally:
        from portal.ai import metering

        metering.flush()  # the answers' meter rows name the member
        ask_load.stop_children()
        remove_members(prefix)
    result = {
        "questions": len(turns),
        "search_ms": round(search_ms, 2),
        "prepare_other_ms": round(other_ms, 2),
        "answer_ms": round(answer_ms, 2),
        "answer_read_floor_ms": round(floor_ms, 2),
        "total_ms": round(search_ms + other_ms + answer_ms, 2),
    }
    print(
        f"CPU per question: search {search_ms:.2f} ms, the rest of prepare {other_ms:.2f} ms,"
        f" the streamed answer {answer_ms:.2f} ms (a bare reader of the same stream:"
        f" {floor_ms:.2f} ms); together {result['total_ms']} ms"
    )
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
