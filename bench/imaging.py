"""Benchmark: Draw's queue under load, and after a worker is killed.

    .venv/bin/python bench/imaging.py [--requests 500] [--delay 1.0] [--kill-after 15]

Runs on PostgreSQL (database union_bench_imaging, created when missing) and Redis
(REDIS_URL, default db 6). The fake image model (tests/fakes/openai.py) runs in its own
process and answers each image after --delay seconds (256×256 PNG: the figure is the queue's,
not Pillow's). Two Celery worker processes serve queue `images` with 4 threads each (as
`manage.py serve` does), and `celery beat` runs the sweep every 2 s; the heartbeat is 2 s and a
job silent for 6 s is taken back.

Run 1: N requests submitted at once; throughput = N / (last finish − first submit); the limit is
slots / delay (8/s), efficiency = throughput / limit. Run 2: N more requests; a few seconds in,
worker 1 is killed with SIGKILL (its running jobs and unacknowledged messages are left behind)
and started again 2 s later; the sweep must bring every request to an end. lost = requests not
succeeded by the deadline; duplicates = requests with more than one set of results.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLOTS_PER_WORKER = 4
WORKERS = 2
BENCH_ENV = {
    "IMAGING_HEARTBEAT_SECONDS": "2",
    "IMAGING_STALE_SECONDS": "6",
    "IMAGING_UNCLAIMED_SECONDS": "60",
    "IMAGING_SWEEP_SECONDS": "2",
    "IMAGING_MAX_ATTEMPTS": "5",
    "IMAGING_DAILY_QUOTA": "100000",
    "LOG_LEVEL": "WARNING",
}


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    url = os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/union_bench_imaging"
    )
    if "bench" not in url.rsplit("/", 1)[-1]:
        raise SystemExit("DATABASE_URL must name a benchmark database (containing 'bench')")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    os.environ.update(BENCH_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_fake(delay: float) -> tuple[subprocess.Popen[str], str]:
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai",
            "--port",
            "0",
            "--delay",
            str(delay),
            "--image-size",
            "256x256",
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


def celery(*args: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def worker(n: int, log_dir: Path) -> subprocess.Popen[bytes]:
    return celery(
        "worker", "--queues", "images", "--pool", "threads",
        "--concurrency", str(SLOTS_PER_WORKER), "--hostname", f"bench{n}@%h",
        "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        log=log_dir / f"worker{n}.log",
    )  # fmt: skip


def prepare(fake_url: str) -> list[Any]:
    from imaging.models import DailyQuota, ImageRequest
    from portal.ai import services
    from portal.ai.models import AIModel
    from portal.celery import app
    from portal.models import Role, User

    app.control.purge()
    ImageRequest.objects.all().delete()
    DailyQuota.objects.all().delete()
    result = services.configure_provider(
        name="bench-image-fake",
        kind="openai-compatible",
        base_url=f"{fake_url}/v1",
        api_key="sk-bench-0000",
        chat_model=None,
        embedding_model=None,
        image_model="bench-image",
        use_for=["imaging"],
        is_local=True,
        timeout=30,
    )
    AIModel.objects.filter(provider=result.provider).update(max_retries=0)
    users = []
    for i in range(10):
        user, _ = User.objects.get_or_create(
            username=f"bench-draw-{i}", defaults={"role": Role.STAFF}
        )
        users.append(user)
    return users


def submit_all(users: list[Any], count: int, tag: str) -> tuple[list[int], float]:
    from imaging.services import requests

    started = time.time()
    ids = [
        requests.submit(
            users[i % len(users)],
            prompt=f"{tag} 第{i}张：劳动节的工厂清晨",
            purpose="avatar",
            size="768x768",
        ).pk
        for i in range(count)
    ]
    return ids, started


def warm_up(users: list[Any], count: int) -> None:
    """Wait for both workers to answer, then run a few requests (not counted): imports, fonts
    and connections are ready in every thread before the clock starts."""
    from portal.celery import app

    deadline = time.monotonic() + 120
    while len(app.control.ping(timeout=1.0) or []) < WORKERS:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start within 120 s")
    ids, _started = submit_all(users, count, "warm-up")
    wait_done(ids, time.monotonic() + 120)


def wait_done(ids: list[int], deadline: float) -> None:
    from imaging.models import ImageRequest
    from portal.jobs import FINISHED

    while time.monotonic() < deadline:
        left = ImageRequest.objects.filter(pk__in=ids).exclude(status__in=FINISHED).count()
        if not left:
            return
        time.sleep(0.5)


def outcome(ids: list[int], started: float) -> dict[str, Any]:
    from django.db.models import Count, Max

    from imaging.models import ImageRequest, ImageResult
    from portal.jobs import JobStatus

    done = ImageRequest.objects.filter(pk__in=ids)
    succeeded = done.filter(status=JobStatus.SUCCEEDED).count()
    doubled = (
        ImageResult.objects.filter(request_id__in=ids)
        .values("request_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    last = done.aggregate(last=Max("finished_at"))["last"]
    elapsed = (last.timestamp() - started) if last else float("nan")
    attempts = sum(done.values_list("attempts", flat=True))
    return {
        "requests": len(ids),
        "succeeded": succeeded,
        "lost": len(ids) - succeeded,
        "duplicates": doubled,
        "elapsed_s": round(elapsed, 2),
        "attempts": attempts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--delay", type=float, default=1.0, help="the fake's seconds per image")
    parser.add_argument("--kill-after", type=float, default=15.0, help="seconds into run 2")
    args = parser.parse_args()
    setup_django()
    fake, fake_url = start_fake(args.delay)
    logs = Path(tempfile.mkdtemp(prefix="bench-imaging-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        users = prepare(fake_url)
        workers = [worker(n, logs) for n in (1, 2)]
        beat = celery(
            "beat", "--schedule", str(logs / "beat-schedule"), "--loglevel", "WARNING",
            log=logs / "beat.log",
        )  # fmt: skip
        procs = [*workers, beat]
        warm_up(users, WORKERS * SLOTS_PER_WORKER * 2)

        limit = WORKERS * SLOTS_PER_WORKER / args.delay
        ideal = args.requests / limit
        ids, started = submit_all(users, args.requests, "run1")
        wait_done(ids, time.monotonic() + ideal * 3 + 60)
        first = outcome(ids, started)
        throughput = first["requests"] / first["elapsed_s"] if first["elapsed_s"] else 0.0
        first.update(
            throughput_per_s=round(throughput, 2),
            limit_per_s=limit,
            efficiency=round(throughput / limit, 3),
        )
        print("run 1:", json.dumps(first), flush=True)

        ids2, started2 = submit_all(users, args.requests, "run2")
        time.sleep(max(0.0, started2 + args.kill_after - time.time()))
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        killed_at = time.time() - started2
        time.sleep(2)
        workers[0] = worker(1, logs)
        procs[0] = workers[0]
        wait_done(ids2, time.monotonic() + ideal * 3 + 120)
        second = outcome(ids2, started2)
        second["killed_at_s"] = round(killed_at, 1)
        print("run 2 (worker 1 killed):", json.dumps(second), flush=True)

        result = {
            "requests": first["requests"],
            "succeeded": first["succeeded"],
            "lost": first["lost"],
            "duplicates": first["duplicates"],
            "throughput_per_s": first["throughput_per_s"],
            "limit_per_s": limit,
            "efficiency": first["efficiency"],
            "kill_run": {
                "requests": second["requests"],
                "lost": second["lost"],
                "duplicates": second["duplicates"],
                "elapsed_s": second["elapsed_s"],
            },
        }
        print("RESULT " + json.dumps(result, separators=(",", ":")), flush=True)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    main()
