"""Load on Ask: many members asking streamed questions at once, through the web server's API.

    .venv/bin/python bench/ask_load.py [--concurrency 50] [--seconds 60] [--workers 2]
    .venv/bin/python bench/ask_load.py --url http://127.0.0.1:8000 --model-ms 2575

Without --url it starts everything itself on PostgreSQL: the benchmark database
(DATABASE_URL, by default postgres://postgres@127.0.0.1:5432/union_bench_ask; its name must
contain 'bench'; created, migrated and seeded with the demo knowledge the first time), Redis
database 14, the fake chat model in a process of its own (first token after 600 ms, then one
every 25 ms, 80 tokens: 2,575 ms of model time) routed for `ask`, and uvicorn with --workers
processes. With --url it uses a running server and its database (the same DATABASE_URL).

Each of --concurrency verified members (created with API tokens in the database, removed
afterwards) asks the answerable questions of bench/questions/heldout-a.jsonl one after another
for --seconds, streaming. Per request: ttfb = time to the first `delta` event, total = time to
`done`, overhead = total - model time. An error is a status other than 200, an `error` event,
a stream without `done`, or an answer whose mode is not "llm" (the model is up).

Last line: RESULT {"concurrency":…,"requests":…,"errors":…,"ttfb_mean_ms":…,"ttfb_p95_ms":…,
"total_mean_ms":…,"overhead_p95_ms":…, …}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.members import create_members, remove_members  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/union_bench_ask"
REDIS_URL = "redis://127.0.0.1:6379/14"
QUESTIONS = ROOT / "bench" / "questions" / "heldout-a.jsonl"
# The fake model: first token after delay + token delay, then one per token delay.
FAKE_DELAY_S, FAKE_TOKEN_S, FAKE_TOKENS = 0.575, 0.025, 80
MODEL_MS = (FAKE_DELAY_S + FAKE_TOKENS * FAKE_TOKEN_S) * 1000  # 2,575 ms
FAKE_KEY = "sk-bench-ask-fake"
TARGETS = {"ttfb_mean_ms": 1000, "total_mean_ms": 3000, "overhead_p95_ms": 150}


# -- child processes --------------------------------------------------------------------------

CHILDREN: list[subprocess.Popen[str]] = []


def spawn(argv: list[str], env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    # A session of its own: Ctrl-C reaches only us, and we stop the child's whole group (uvicorn's
    # worker processes with it) in stop_children().
    child = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, start_new_session=True, **kw)
    CHILDREN.append(child)
    return child


def stop_children() -> None:
    for child in reversed(CHILDREN):
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in reversed(CHILDREN):
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(5)
    CHILDREN.clear()


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def start_fake() -> str:
    fake = spawn(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai",
            "--port",
            "0",
            "--delay",
            str(FAKE_DELAY_S),
            "--token-delay",
            str(FAKE_TOKEN_S),
            "--tokens",
            str(FAKE_TOKENS),
            "--api-key",
            FAKE_KEY,
        ],
        stdout=subprocess.PIPE,
    )
    assert fake.stdout is not None
    line = fake.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"the fake model did not start: {line!r}")
    return line.rsplit(" ", 1)[1].strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(workers: int, database_url: str) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "ASK_RATE": "100000/min",
        "DJANGO_DEBUG": "false",  # DEBUG would keep every SQL query of every request
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    env.setdefault("KNOWLEDGE_QUERY_REWRITE", "false")  # one model call per question
    server = spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the web server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return url, server
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the web server did not answer /healthz within 90 s")
        time.sleep(0.3)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its descendants still alive (Linux /proc)."""
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent, cpu seconds)
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family = {pid}
    grown = True
    while grown:
        more = {p for p, (parent, _cpu) in stats.items() if parent in family} - family
        family |= more
        grown = bool(more)
    return sum(stats[p][1] for p in family if p in stats)


# -- the database -----------------------------------------------------------------------------


def bench_database() -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not url.startswith("postgres"):
        raise SystemExit("the Ask benchmark runs on PostgreSQL (DATABASE_URL postgres://…)")
    name = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if "bench" not in name:
        # The bench routes `ask` to its fake, lifts the beta gate and flushes its Redis
        # database: never on a real deployment's database.
        raise SystemExit(f"DATABASE_URL must name a benchmark database (got {name!r})")
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    return url


def prepare_database(fake_url: str) -> None:
    """Migrated, seeded once, Ask routed to the fake, no beta gating, a clean Redis database."""
    from django.core.cache import cache
    from django.core.management import call_command

    from knowledge.models import Segment
    from portal.ai import services
    from portal.models import BetaProgramme

    call_command("migrate", verbosity=0)
    if not Segment.objects.exists():
        print("seeding the demo knowledge base (once)…", flush=True)
        call_command("seed_demo", verbosity=0)
        from knowledge import indexing

        indexing.vacuum()
    # Members may use Ask without a beta place (the seed's programme gates AI by default).
    BetaProgramme.objects.filter(gates_ai=True).update(gates_ai=False)
    services.configure_provider(
        name="bench-ask-fake",
        kind="openai-compatible",
        base_url=f"{fake_url}/v1",
        api_key=FAKE_KEY,
        chat_model="fake-chat",
        embedding_model=None,
        image_model=None,
        use_for=("ask",),
        is_local=True,
        timeout=30,
    )
    services.set_local_only("ask", False)
    cache.clear()  # Redis db 14: no breaker, throttle or route state from an earlier run


def load_questions(check_retrieval: bool) -> tuple[list[str], int]:
    """The answerable held-out questions; on our own database, only those retrieval answers
    (an abstention would be answered without the model and is not what this measures)."""
    questions = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item.get("answerable", True):
                questions.append(item["question"])
    if not check_retrieval:
        return questions, 0
    from knowledge.retrieval import search

    kept = [q for q in questions if not search(q).abstained]
    return kept, len(questions) - len(kept)


# -- the load ---------------------------------------------------------------------------------


@dataclass
class Reading:
    ok: bool
    started: float
    ttfb_ms: float | None = None
    total_ms: float | None = None
    error: str = ""
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)


async def ask(session: aiohttp.ClientSession, token: str, question: str) -> Reading:
    started = time.perf_counter()
    reading = Reading(ok=False, started=started)
    try:
        async with session.post(
            "/api/v1/ask/",
            json={"question": question, "stream": True},
            headers={"Authorization": f"Token {token}", "Accept": "text/event-stream"},
        ) as response:
            if response.status != 200:
                reading.error = f"HTTP {response.status}"
                return reading
            event, data = "message", []
            async for raw in response.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "" and data:
                    now = time.perf_counter()
                    if event == "delta" and reading.ttfb_ms is None:
                        reading.ttfb_ms = (now - started) * 1000
                    elif event == "error":
                        reading.error = "error event: " + json.loads("\n".join(data)).get(
                            "message", ""
                        )
                        return reading
                    elif event == "done":
                        reading.total_ms = (now - started) * 1000
                        done = json.loads("\n".join(data))
                        reading.abstained = bool(done.get("abstained"))
                        reading.timings = {
                            k: v
                            for k, v in (done.get("timings") or {}).items()
                            if isinstance(v, (int, float))
                        }
                        if done.get("mode") != "llm":
                            reading.error = f"mode {done.get('mode')!r}"
                            return reading
                        reading.ok = reading.ttfb_ms is not None
                        if not reading.ok:
                            reading.error = "done without delta"
                        return reading
                    event, data = "message", []
            reading.error = "stream ended without done"
    except (aiohttp.ClientError, TimeoutError, ValueError, UnicodeDecodeError) as exc:
        reading.error = f"{type(exc).__name__}: {exc}"[:120]
    return reading


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late this client's own event loop wakes up (its lateness inflates every figure)."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append((time.perf_counter() - before - 0.05) * 1000)


async def load(
    url: str,
    tokens: list[str],
    questions: list[str],
    seconds: float,
    timeout: float,
    cpu: Callable[[], float] | None,
) -> tuple[list[Reading], list[Reading], list[float], float, float | None]:
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        url, connector=connector, timeout=client_timeout, read_bufsize=1 << 20
    ) as session:
        # Warm-up, not counted: one question per member, all at once (every worker process
        # loads jieba, the FAQ index and its routes; the pools open their connections).
        warmup = await asyncio.gather(
            *(ask(session, t, questions[i % len(questions)]) for i, t in enumerate(tokens))
        )
        if not any(r.ok for r in warmup):
            reasons = Counter(r.error for r in warmup).most_common(3)
            raise SystemExit(f"every warm-up request failed: {reasons}")
        stop = asyncio.Event()
        lags: list[float] = []
        lagger = asyncio.create_task(loop_lag(stop, lags))
        deadline = time.perf_counter() + seconds

        async def member(index: int, token: str) -> list[Reading]:
            readings, n = [], index * 7  # members start at different questions
            while time.perf_counter() < deadline:
                readings.append(await ask(session, token, questions[n % len(questions)]))
                n += 1
            return readings

        cpu_before = cpu() if cpu else 0.0
        started = time.perf_counter()
        per_member = await asyncio.gather(*(member(i, t) for i, t in enumerate(tokens)))
        wall = time.perf_counter() - started
        server_cpu = cpu() - cpu_before if cpu else None
        stop.set()
        await lagger
    return [r for rs in per_member for r in rs], warmup, lags, wall, server_cpu


# -- figures ----------------------------------------------------------------------------------


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "mean": statistics.fmean(values),
        "p50": pct(values, 0.5),
        "p95": pct(values, 0.95),
        "max": max(values),
    }


def report(
    args: argparse.Namespace,
    readings: list[Reading],
    warmup: list[Reading],
    lags: list[float],
    wall: float,
    server_cpu: float | None,
) -> dict[str, Any]:
    fine = [r for r in readings if r.ok]
    errors = [r for r in readings if not r.ok]
    rows: dict[str, dict[str, float]] = {
        "ttfb (first delta)": summary([r.ttfb_ms for r in fine if r.ttfb_ms is not None]),
        "total (done)": summary([r.total_ms for r in fine if r.total_ms is not None]),
        f"overhead (total - {args.model_ms:g})": summary(
            [r.total_ms - args.model_ms for r in fine if r.total_ms is not None]
        ),
    }
    for key in ("retrieval_ms", "first_token_ms", "total_ms"):
        values = [r.timings[key] for r in fine if key in r.timings]
        if values:
            rows[f"server {key}"] = summary(values)
    print(
        f"\n{len(readings)} requests by {args.concurrency} members in {wall:.1f} s "
        f"({len(readings) / wall:.1f}/s), {len(errors)} errors; warm-up: {len(warmup)} requests, "
        f"{sum(not r.ok for r in warmup)} errors"
    )
    print(f"{'ms':<28}{'mean':>9}{'p50':>9}{'p95':>9}{'max':>9}")
    for name, row in rows.items():
        if row:
            print(f"{name:<28}" + "".join(f"{row[k]:>9.0f}" for k in ("mean", "p50", "p95", "max")))
    if lags:
        print(
            f"{'client loop lag':<28}{statistics.fmean(lags):>9.1f}{pct(lags, 0.5):>9.1f}"
            f"{pct(lags, 0.95):>9.1f}{max(lags):>9.1f}"
        )
    if server_cpu is not None:
        print(
            f"server CPU: {server_cpu:.1f} s in {wall:.1f} s ({server_cpu / wall:.2f} cores, "
            f"{args.workers} workers, {os.cpu_count()} CPUs), "
            f"{server_cpu * 1000 / max(len(readings), 1):.1f} ms per request"
        )
    for reason, count in Counter(r.error for r in errors + warmup if not r.ok).most_common(5):
        print(f"error x{count}: {reason}")
    abstained = sum(r.abstained for r in readings)
    if abstained:
        print(f"{abstained} answers abstained (counted as answers when their mode was llm)")

    def figure(name: str, key: str) -> float | None:
        row = rows[name]
        return round(row[key], 1) if row else None

    overhead = f"overhead (total - {args.model_ms:g})"
    result: dict[str, Any] = {
        "concurrency": args.concurrency,
        "requests": len(readings),
        "errors": len(errors),
        "ttfb_mean_ms": figure("ttfb (first delta)", "mean"),
        "ttfb_p95_ms": figure("ttfb (first delta)", "p95"),
        "total_mean_ms": figure("total (done)", "mean"),
        "overhead_p95_ms": figure(overhead, "p95"),
        "overhead_mean_ms": figure(overhead, "mean"),
        "total_p95_ms": figure("total (done)", "p95"),
    }
    if rows.get("server retrieval_ms"):
        result["retrieval_p95_ms"] = round(rows["server retrieval_ms"]["p95"], 1)
    if server_cpu is not None:
        result["server_cpu_ms_per_request"] = round(server_cpu * 1000 / max(len(readings), 1), 1)
    missed = [
        f"{k} {result[k]} (target {'≤' if k == 'ttfb_mean_ms' else '<'} {v})"
        for k, v in TARGETS.items()
        if result[k] is None or (result[k] > v if k == "ttfb_mean_ms" else result[k] >= v)
    ]
    if result["errors"]:
        missed.append(f"errors {result['errors']} (target 0)")
    print("targets: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server (its DATABASE_URL in the environment)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (without --url)")
    parser.add_argument(
        "--model-ms",
        type=float,
        default=MODEL_MS,
        help="the model's own time per answer, subtracted for the overhead",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)

    run = str(int(time.time()))
    try:
        if args.url:
            url, server = args.url.rstrip("/"), None
        else:
            os.environ["DATABASE_URL"] = bench_database()
            os.environ["REDIS_URL"] = REDIS_URL
        import django

        django.setup()
        if not args.url:
            fake_url = start_fake()
            prepare_database(fake_url)
            url, server = start_server(args.workers, os.environ["DATABASE_URL"])
            print(f"fake model {fake_url}; server {url} ({args.workers} workers)")
        questions, dropped = load_questions(check_retrieval=not args.url)
        if not questions:
            raise SystemExit("no question to ask (does the knowledge base hold the corpus?)")
        print(
            f"{len(questions)} questions from {QUESTIONS.name}"
            + (f" ({dropped} answerable ones left out: retrieval abstains)" if dropped else "")
        )
        tokens = create_members(f"ask-{run}", args.concurrency)
        try:
            cpu = (lambda: cpu_seconds(server.pid)) if server else None
            readings, warmup, lags, wall, server_cpu = asyncio.run(
                load(url, tokens, questions, args.seconds, args.timeout, cpu)
            )
        finally:
            remove_members(f"ask-{run}")
    finally:
        stop_children()
    result = report(args, readings, warmup, lags, wall, server_cpu)
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
