"""Benchmark: many concurrent streamed chats through portal.ai against the fake provider.

    .venv/bin/python bench/providers.py [--streams 200] [--tokens 40] [--token-ms 20]

The fake (tests/fakes/openai.py) runs in a process of its own and sends one token every
--token-ms. Per stream, overhead = (time to the last token) - tokens x token-ms: what routing,
the openai client, our stream handling, the breaker and the meter add over the fake's own
latency. The database is a SQLite file under var/bench-providers/ unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def start_fake(tokens: int, token_ms: float) -> tuple[subprocess.Popen[str], str]:
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai",
            "--port",
            "0",
            "--token-delay",
            str(token_ms / 1000),
            "--tokens",
            str(tokens),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    line = fake.stdout.readline()
    if "listening on" not in line:
        fake.kill()
        raise SystemExit(f"the fake did not start: {line!r}")
    return fake, line.rsplit(" ", 1)[1].strip()


def setup_django() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if url and "bench" not in url.rsplit("/", 1)[-1]:
        # The bench routes `ask` to its fake and lifts the local-only pin: never on a real
        # deployment's database.
        raise SystemExit(
            "DATABASE_URL must name a benchmark database (its name containing 'bench')"
        )
    if not url:
        os.environ.setdefault("PORTAL_VAR_DIR", str(ROOT / "var" / "bench-providers"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


Reading = tuple[str, float, float, float, int]  # question, started, first token, ended, tokens


async def one_stream(question: str, delay: float = 0.0) -> Reading:
    from portal import ai

    if delay:
        await asyncio.sleep(delay)
    started = time.monotonic()
    first = None
    count = 0
    async for _piece in ai.astream_chat([{"role": "user", "content": question}], feature="ask"):
        if first is None:
            first = time.monotonic()
        count += 1
    ended = time.monotonic()
    return question, started, first or ended, ended, count


async def run(streams: int, ramp: float) -> list[Reading | BaseException]:
    # Warm up as a server under steady load is: routes cached, the pool's connections open.
    from portal.ai import metering, sse

    await asyncio.gather(*(one_stream(f"预热{i}") for i in range(streams)))
    await asyncio.to_thread(metering.flush)  # the warm-up's meter rows are written
    try:
        return await asyncio.gather(
            *(
                one_stream(f"第{i}位职工问：加班费怎么计算？", ramp * i / streams)
                for i in range(streams)
            ),
            return_exceptions=True,
        )
    finally:
        await sse.aclose()


def fake_timings(url: str) -> dict[str, float]:
    """Per question, how long the fake itself took from receiving it to its last byte."""
    import httpx2

    served = {}
    for item in httpx2.get(f"{url}/_fake/requests", timeout=10).json():
        if item["done_at"] is not None:
            question = json.loads(item["body"])["messages"][-1]["content"]
            served[question] = item["done_at"] - item["at"]
    return served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--token-ms", type=float, default=20.0)
    parser.add_argument(
        "--ramp-ms",
        type=float,
        default=200.0,
        help="spread the starts over this long (every stream is still open at once); "
        "0 starts all in the same instant",
    )
    args = parser.parse_args()

    fake, url = start_fake(args.tokens, args.token_ms)
    try:
        setup_django()
        from portal.ai import services

        services.configure_provider(
            name="bench-fake",
            kind="openai-compatible",
            base_url=f"{url}/v1",
            chat_model="bench-model",
            use_for=["ask"],
            is_local=True,
            timeout=60,
        )
        services.set_local_only("ask", False)
        from portal.ai import routing

        routing.forget()
        started = time.perf_counter()
        results = asyncio.run(run(args.streams, args.ramp_ms / 1000))
        wall = time.perf_counter() - started
        served = fake_timings(url)
    finally:
        fake.terminate()
        fake.wait(10)

    fine = [r for r in results if not isinstance(r, BaseException) and r[4] == args.tokens]
    errors = len(results) - len(fine)
    for failure in [r for r in results if isinstance(r, BaseException)][:3]:
        print(f"error: {type(failure).__name__}: {failure}")
    # Overhead: our whole stream, less the time the fake spent answering that very question.
    overhead_ms = [(ended - began - served[q]) * 1000 for q, began, _f, ended, _n in fine]
    ttft_ms = [(first - began) * 1000 for _q, began, first, _e, _n in fine]
    fake_ms = [served[q] * 1000 for q, *_rest in fine]
    print(
        f"{len(fine)} streams of {args.tokens} tokens at {args.token_ms:g} ms/token, started "
        f"over {args.ramp_ms:g} ms, in "
        f"{wall:.2f} s; the fake's own time per stream: median {statistics.median(fake_ms):.0f}"
        f" ms, p95 {p95(fake_ms):.0f} ms (nominal {args.tokens * args.token_ms:.0f} ms)"
    )
    if fine:
        print(
            f"overhead ms: median {statistics.median(overhead_ms):.1f}, "
            f"p95 {p95(overhead_ms):.1f}, max {max(overhead_ms):.1f}; "
            f"ttft ms: median {statistics.median(ttft_ms):.1f}, p95 {p95(ttft_ms):.1f} "
            f"(the fake sends its first token after {args.token_ms:g} ms)"
        )
    result = {
        "streams": len(results),
        "errors": errors,
        "overhead_p95_ms": round(p95(overhead_ms), 1) if fine else None,
        "ttft_p95_ms": round(p95(ttft_ms), 1) if fine else None,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
