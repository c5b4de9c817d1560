"""Benchmark: one 6-section draft (活动方案·职工春秋游) written by the model worker exactly as
`manage.py serve` starts it (queues llm,images, thread pool, 8 slots) on Redis and PostgreSQL,
with the fake chat model taking 3 s per section.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/union_bench_writer \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/writer.py

Prints per section its start and end relative to the submission, then
`RESULT {"sections":6,"wall_s":…,"sum_section_s":…,"parallel_ratio":…}`: wall is from the
submission to the last section's end, parallel_ratio is wall ÷ the slowest section (1.0 would
be every section at once, with no queueing or overhead at all)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.providers import start_fake  # noqa: E402


def setup() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if "bench" not in url.rsplit("/", 1)[-1] or not os.environ.get("REDIS_URL"):
        raise SystemExit(
            "set DATABASE_URL to a PostgreSQL benchmark database (its name containing 'bench') "
            "and REDIS_URL: the figures that count are on what production runs"
        )
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def world(fake_url: str) -> object:
    from knowledge.seed import ensure_categories
    from portal.ai import services
    from portal.models import Role, UnionUnit, User
    from writer.seed import seed_templates

    ensure_categories()
    seed_templates()
    services.configure_provider(
        name="bench-fake",
        kind="openai-compatible",
        base_url=f"{fake_url}/v1",
        api_key="sk-bench-0000000000000000",
        chat_model="fake-chat",
        use_for=["writer"],
        timeout=30.0,
    )
    unit, _ = UnionUnit.objects.get_or_create(name="基准测试工会", parent=None)
    user, _ = User.objects.get_or_create(
        username="bench-writer", defaults={"role": Role.STAFF, "union_unit": unit}
    )
    return user


FORM = {
    "year": 2026,
    "season": "春游",
    "destination": "松山湖",
    "start_date": "2026-04-18",
    "days": 1,
    "participants": 120,
    "budget": 200,
    "contact": "王建国",
    "highlights": "参观科技馆，集体徒步。",
    "doc_date": "2026-03-20",
}


def draft_once(user: object, timeout: float) -> tuple[float, list[tuple[int, float, float]]]:
    from writer.models import Draft
    from writer.services import drafting

    submitted = time.time()
    draft = drafting.create_draft(user, "spring-autumn-outing", FORM)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while True:
        draft = Draft.objects.get(pk=draft.pk)
        if draft.sections_done + draft.sections_failed >= draft.sections_total:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the draft did not finish in {timeout:.0f} s: is the worker up?")
        time.sleep(0.05)
    if draft.sections_failed:
        errors = list(draft.sections.exclude(error="").values_list("error", flat=True))
        raise SystemExit(f"{draft.sections_failed} sections failed: {errors}")
    spans = []
    for s in draft.sections.order_by("position"):
        assert s.started_at and s.finished_at
        spans.append(
            (
                s.position,
                s.started_at.timestamp() - submitted,
                s.finished_at.timestamp() - submitted,
            )
        )
    return submitted, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section-s", type=float, default=3.0, help="the fake's time per section")
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--slots", type=int, default=8, help="MODEL_WORKER_SLOTS, as serve")
    args = parser.parse_args()
    setup()
    fake, url = start_fake(args.tokens, 1000 * args.section_s / args.tokens)
    from portal.management.commands.serve import model_worker_argv

    argv = model_worker_argv(args.slots)
    argv[argv.index("--loglevel") + 1] = "WARNING"
    argv[-1] = "models-bench@%h"
    worker = subprocess.Popen(argv, cwd=ROOT)
    try:
        user = world(url)
        draft_once(user, timeout=120)  # warm-up: the worker's imports, jieba, connections
        _submitted, spans = draft_once(user, timeout=120)
    finally:
        worker.terminate()
        fake.terminate()
        worker.wait(timeout=20)
    for position, start, end in spans:
        print(f"section {position}: {start:6.2f} s → {end:6.2f} s ({end - start:.2f} s)")
    wall = max(end for _p, _s, end in spans)
    durations = [end - start for _p, start, end in spans]
    result = {
        "sections": len(spans),
        "wall_s": round(wall, 2),
        "sum_section_s": round(sum(durations), 2),
        "parallel_ratio": round(wall / max(durations), 2),
    }
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
