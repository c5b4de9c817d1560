"""Load on Ask: many members asking streamed questions at once, through the web server's API.

    .venv/bin/python bench/ask_load.py [--concurrency 50] [--seconds 60] [--workers 4]
    .venv/bin/python bench/ask_load.py --url http://127.0.0.1:8000 --model-ms 2575

Without --url it starts everything itself on PostgreSQL: the benchmark database
(DATABASE_URL, by default postgres://postgres@127.0.0.1:5432/union_bench_ask; its name must
contain 'bench'; created, migrated and seeded with the demo knowledge the first time), Redis
database 14, the fake chat model in a process of its own (first token after 600 ms, then one
every 25 ms, 80 tokens: 2,575 ms of model time) routed for `ask`, and uvicorn with --workers
processes. With --url it uses a running server and its database (the same DATABASE_URL).

Each of --concurrency verified members (created with API tokens in the database, removed
afterwards) asks the answerable questions of bench/questions/heldout-a.jsonl one after another
for --seconds, streaming; the members start one after another over --ramp-ms (by default one
answer's time; 0 starts them all at once). Per request: ttfb = time to the first `delta`
event, total = time to `done`, overhead = total - model time, and overhead net of the fake's
own time for that very answer (its sleeps overshoot). An error is a status other than 200, an
`error` event, a stream without `done`, or an answer whose mode is not "llm" (the model is up).
Also shown: the server's own timings (`done`, and a Server-Timing header if it sends one), CPU
per process group, the server's database sessions; --dump writes every request.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.members import create_members, remove_members  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/union_bench_ask"
# BENCH_REDIS_URL: another Redis database (two benchmarks at once on one machine).
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/14"
QUESTIONS = ROOT / "bench" / "questions" / "heldout-a.jsonl"
# The fake model: first token after delay + token delay, then one per token delay.
FAKE_DELAY_S, FAKE_TOKEN_S, FAKE_TOKENS = 0.575, 0.025, 80
MODEL_MS = (FAKE_DELAY_S + FAKE_TOKENS * FAKE_TOKEN_S) * 1000  # 2,575 ms
FAKE_KEY = "sk-bench-ask-fake"
# Issue [speed]: first text mean under 800 ms, overhead p95 under 60 ms (150 ms when every
# member starts in the same instant, --ramp-ms 0), server CPU under 15 ms per request.
TARGETS = {"ttfb_mean_ms": 800, "overhead_p95_ms": 60, "server_cpu_ms_per_request": 15}
BURST_OVERHEAD_P95_MS = 150


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


def start_fake() -> tuple[str, int]:
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
    return line.rsplit(" ", 1)[1].strip(), fake.pid


def match_fake(url: str, readings: list[Reading]) -> None:
    """Each answer's time at the fake itself, from the request to its last byte (asyncio's sleeps
    overshoot a little per token, more under load): the fake's request that carries the same
    question and arrived first after the reading started."""
    if not readings:
        return
    with urllib.request.urlopen(f"{url}/_fake/requests", timeout=30) as response:  # noqa: S310
        served = json.load(response)
    questions = {r.question for r in readings}
    since = min(r.started for r in readings)
    by_question: dict[str, list[tuple[float, float]]] = {}
    for item in served:
        if item["done_at"] is None or item["at"] < since:
            continue
        content = json.loads(item["body"])["messages"][-1]["content"]
        for question in questions:
            if question in content:
                by_question.setdefault(question, []).append((item["at"], item["done_at"]))
                break
    for reading in sorted(readings, key=lambda r: r.started):
        arrivals = by_question.get(reading.question, [])
        later = [a for a in arrivals if a[0] >= reading.started]
        if reading.total_ms is not None and later:
            first = min(later)
            arrivals.remove(first)
            reading.fake_ms = (first[1] - first[0]) * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(workers: int, database_url: str) -> tuple[str, int]:
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
                    return url, server.pid
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the web server did not answer /healthz within 90 s")
        time.sleep(0.3)


Counters = dict[tuple[str, int], float]  # (what, pid): CPU seconds


def cpu_counters(pids: dict[str, int], database: str) -> Counters:
    """CPU seconds so far per (what, pid): each named process with its descendants, the
    PostgreSQL backends of `database`, Redis; ("machine", 0) is all CPUs together. Linux /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent, cpu seconds)
    counters: Counters = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
            command = head.split("(", 1)[1]
            line = (entry / "cmdline").read_bytes() if command == "postgres" else b""
        except OSError:
            continue
        fields = tail.split()
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        stats[int(entry.name)] = (int(fields[1]), seconds)
        if command == "postgres" and f" {database} ".encode() in line:
            counters["postgres", int(entry.name)] = seconds
        elif command == "redis-server":
            counters["redis", int(entry.name)] = seconds
    for name, pid in pids.items():
        family, grown = {pid}, True
        while grown:
            more = {p for p, (parent, _cpu) in stats.items() if parent in family} - family
            family |= more
            grown = bool(more)
        counters.update({(name, p): stats[p][1] for p in family if p in stats})
    times = os.times()
    counters["client", os.getpid()] = times.user + times.system
    jiffies = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    counters["machine", 0] = (sum(jiffies) - jiffies[3] - jiffies[4]) / ticks  # less idle, iowait
    return counters


def cpu_used(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
) -> dict[str, float]:
    """CPU seconds between two readings, per what (processes that ended meanwhile are lost)."""
    used: dict[str, float] = {}
    for key, seconds in after.items():
        used[key[0]] = used.get(key[0], 0.0) + seconds - before.get(key, 0.0)
    return used


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


def setup_bench_django() -> None:
    """For a benchmark that works in the bench database itself (cold_start, ask_cpu): stopped
    cleanly by SIGTERM, on the bench database and Redis database, Django set up."""
    signal.signal(signal.SIGTERM, _terminate)
    os.environ["DATABASE_URL"] = bench_database()
    os.environ["REDIS_URL"] = REDIS_URL
    import django

    django.setup()


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
    # Redis db 14 (or BENCH_REDIS_URL): no breaker, throttle or route state from an earlier run
    cache.clear()


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
    started: float  # time.monotonic()
    question: str
    ttfb_ms: float | None = None
    total_ms: float | None = None
    error: str = ""
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    fake_ms: float | None = None  # the fake's own time for this very answer


@dataclass
class Outcome:
    readings: list[Reading]  # the measured requests
    warmup: list[Reading]
    lags: list[float]  # this client's event loop lateness, ms
    sessions: list[tuple[int, int]]  # the server's database sessions: open, busy
    wall: float  # seconds
    cpu: dict[str, float]  # CPU seconds used meanwhile: server, fake, client, machine
    since: float  # when the measured requests began


async def ask(session: aiohttp.ClientSession, token: str, question: str) -> Reading:
    # time.monotonic(): one clock for every process of the machine, the fake's too.
    started = time.monotonic()
    reading = Reading(ok=False, started=started, question=question)
    try:
        async with session.post(
            "/api/v1/ask/",
            json={"question": question, "stream": True},
            headers={"Authorization": f"Token {token}", "Accept": "text/event-stream"},
        ) as response:
            if response.status != 200:
                reading.error = f"HTTP {response.status}"
                return reading
            # A server may say where its time went before the answer: Server-Timing: name;dur=ms
            for entry in response.headers.get("Server-Timing", "").split(","):
                name, _, dur = entry.strip().partition(";dur=")
                with contextlib.suppress(ValueError):
                    reading.timings[f"header_{name}"] = float(dur)
            event, data = "message", []
            async for raw in response.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "" and data:
                    now = time.monotonic()
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
                        reading.timings.update(
                            (k, v)
                            for k, v in (done.get("timings") or {}).items()
                            if isinstance(v, (int, float))
                        )
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


async def db_sessions(stop: asyncio.Event, samples: list[tuple[int, int]]) -> None:
    """Every 0.25 s: the server's sessions on its database, and how many of them are busy."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as conn:
        while not stop.is_set():
            cursor = await conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = await cursor.fetchone()
            if row is not None:
                samples.append((int(row[0]), int(row[1])))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)


async def load(
    url: str,
    tokens: list[str],
    questions: list[str],
    seconds: float,
    timeout: float,
    pids: dict[str, int],
    workers: int,
    ramp: float,
) -> Outcome:
    from django.conf import settings

    client_timeout = aiohttp.ClientTimeout(total=timeout)
    # Warm-up, not counted: every worker process loads jieba, the FAQ index and its routes, and
    # its pool opens connections. New connections each time, so that each worker gets some.
    warmup: list[Reading] = []
    many = max(len(tokens), 8 * workers)
    async with aiohttp.ClientSession(
        url,
        connector=aiohttp.TCPConnector(limit=0, force_close=True),
        timeout=client_timeout,
        read_bufsize=1 << 20,
    ) as session:
        for round_ in range(2):
            warmup += await asyncio.gather(
                *(
                    ask(session, tokens[i % len(tokens)], questions[(i + round_) % len(questions)])
                    for i in range(many)
                )
            )
    if not any(r.ok for r in warmup):
        reasons = Counter(r.error for r in warmup).most_common(3)
        raise SystemExit(f"every warm-up request failed: {reasons}")
    async with aiohttp.ClientSession(
        url,
        connector=aiohttp.TCPConnector(limit=0),
        timeout=client_timeout,
        read_bufsize=1 << 20,
    ) as session:
        stop = asyncio.Event()
        lags: list[float] = []
        sessions: list[tuple[int, int]] = []
        watchers = [
            asyncio.create_task(loop_lag(stop, lags)),
            asyncio.create_task(db_sessions(stop, sessions)),
        ]
        deadline = time.monotonic() + seconds

        async def member(index: int, token: str) -> list[Reading]:
            await asyncio.sleep(ramp * index / len(tokens))
            readings, n = [], index * 7  # members start at different questions
            while time.monotonic() < deadline:
                readings.append(await ask(session, token, questions[n % len(questions)]))
                n += 1
            return readings

        database = str(settings.DATABASES["default"]["NAME"])
        cpu_before = cpu_counters(pids, database)
        since = time.monotonic()
        per_member = await asyncio.gather(*(member(i, t) for i, t in enumerate(tokens)))
        wall = time.monotonic() - since
        cpu = cpu_used(cpu_before, cpu_counters(pids, database))
        stop.set()
        await asyncio.gather(*watchers)
    readings = [r for rs in per_member for r in rs]
    return Outcome(readings, warmup, lags, sessions, wall, cpu, since)


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


def report(args: argparse.Namespace, outcome: Outcome) -> dict[str, Any]:
    readings, warmup, lags = outcome.readings, outcome.warmup, outcome.lags
    sessions, wall, cpu = outcome.sessions, outcome.wall, outcome.cpu
    fine = [r for r in readings if r.ok]
    errors = [r for r in readings if not r.ok]
    rows: dict[str, dict[str, float]] = {
        "ttfb (first delta)": summary([r.ttfb_ms for r in fine if r.ttfb_ms is not None]),
        "total (done)": summary([r.total_ms for r in fine if r.total_ms is not None]),
        f"overhead (total - {args.model_ms:g})": summary(
            [r.total_ms - args.model_ms for r in fine if r.total_ms is not None]
        ),
    }
    fake = [r for r in fine if r.fake_ms is not None and r.total_ms is not None]
    if fake:
        rows["the fake's own time"] = summary([r.fake_ms for r in fake if r.fake_ms])
        rows["overhead net of the fake's"] = summary(
            [r.total_ms - r.fake_ms for r in fake if r.total_ms and r.fake_ms]
        )
    headers = sorted({k for r in fine for k in r.timings if k.startswith("header_")})
    for key in ("retrieval_ms", "first_token_ms", "total_ms", *headers):
        values = [r.timings[key] for r in fine if key in r.timings]
        if values:
            rows[f"server {key}"] = summary(values)
    print(
        f"\n{len(readings)} requests by {args.concurrency} members (started over "
        f"{args.ramp_ms:g} ms) in {wall:.1f} s "
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
    if sessions:
        print(
            f"database sessions of the server: up to {max(s[0] for s in sessions)} open, "
            f"busy mean {statistics.fmean(s[1] for s in sessions):.1f}, "
            f"max {max(s[1] for s in sessions)}"
        )
    ours = {k: v for k, v in cpu.items() if k != "machine"}
    others = cpu["machine"] - sum(ours.values())
    print(
        "CPU cores busy: "
        + ", ".join(f"{name} {seconds / wall:.2f}" for name, seconds in ours.items())
        + f", other processes {max(others, 0) / wall:.2f} (of {os.cpu_count()})"
        + (
            f"; server {cpu['server'] * 1000 / max(len(readings), 1):.1f} ms per request"
            if "server" in cpu
            else ""
        )
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
    if fake:
        result["fake_mean_ms"] = figure("the fake's own time", "mean")
        result["overhead_net_p95_ms"] = figure("overhead net of the fake's", "p95")
    if rows.get("server retrieval_ms"):
        result["retrieval_p95_ms"] = round(rows["server retrieval_ms"]["p95"], 1)
    if "server" in cpu:
        result["server_cpu_ms_per_request"] = round(cpu["server"] * 1000 / max(len(readings), 1), 1)
    # Share of the machine's CPUs busy with anything; near 1, every figure above includes waits.
    result["machine_cpu_busy"] = round(cpu["machine"] / wall / (os.cpu_count() or 1), 2)
    targets = dict(TARGETS)
    if args.ramp_ms == 0:
        targets["overhead_p95_ms"] = BURST_OVERHEAD_P95_MS
    missed = [
        f"{k} {result.get(k)} (target < {v})"
        for k, v in targets.items()
        if result.get(k) is None or result[k] >= v
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
    parser.add_argument(
        "--workers", type=int, default=4, help="uvicorn workers, two per core (without --url)"
    )
    parser.add_argument(
        "--model-ms",
        type=float,
        default=MODEL_MS,
        help="the model's own time per answer, subtracted for the overhead",
    )
    parser.add_argument(
        "--ramp-ms",
        type=float,
        default=MODEL_MS,
        help="members start one after another over this long (by default one answer's time, "
        "the steady state of members asking in a loop); 0: all at the same instant",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--dump", type=Path, help="write each measured request here (JSON lines)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)

    prefix = f"ask-{int(time.time())}"
    members = False
    try:
        pids: dict[str, int] = {}
        if args.url:
            url = args.url.rstrip("/")
        else:
            os.environ["DATABASE_URL"] = bench_database()
            os.environ["REDIS_URL"] = REDIS_URL
        import django

        django.setup()
        if not args.url:
            fake_url, pids["fake"] = start_fake()
            prepare_database(fake_url)
            url, pids["server"] = start_server(args.workers, os.environ["DATABASE_URL"])
            print(f"fake model {fake_url}; server {url} ({args.workers} workers)")
        questions, dropped = load_questions(check_retrieval=not args.url)
        if not questions:
            raise SystemExit("no question to ask (does the knowledge base hold the corpus?)")
        print(
            f"{len(questions)} questions from {QUESTIONS.name}"
            + (f" ({dropped} answerable ones left out: retrieval abstains)" if dropped else "")
        )
        tokens = create_members(prefix, args.concurrency)
        members = True
        outcome = asyncio.run(
            load(
                url,
                tokens,
                questions,
                args.seconds,
                args.timeout,
                pids,
                args.workers,
                args.ramp_ms / 1000,
            )
        )
        if "fake" in pids:
            match_fake(fake_url, [r for r in outcome.readings if r.ok])
    finally:
        stop_children()
        if members:
            # Only once the server has written its meter rows, which name the members.
            if args.url:
                time.sleep(2)
            remove_members(prefix)
    if args.dump:
        with args.dump.open("w", encoding="utf-8") as out:
            for r in sorted(outcome.readings, key=lambda r: r.started):
                row = {**asdict(r), "started": round(r.started - outcome.since, 3)}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    result = report(args, outcome)
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
