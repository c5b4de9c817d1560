"""Many verified members enrol at once for the beta's places, through the API of a running server.

Creates a fresh programme and N verified members with API tokens in the server's own database
(the same DATABASE_URL), fires every enrolment at the same moment, then counts the outcome.

    .venv/bin/python bench/beta_race.py --url http://127.0.0.1:8000 --members 500 --capacity 100

Last line: RESULT {"members":…,"capacity":…,"accepted":…,"waitlisted":…,"duplicates":…,
"errors":…,"p95_ms":…}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.members import create_members, remove_members

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def setup_members(count: int, capacity: int, run: str) -> tuple[str, list[str]]:
    from django.utils import timezone

    from portal.models import BetaProgramme

    now = timezone.now()
    slug = f"race-{run}"
    BetaProgramme.objects.create(
        name=f"压测 {run}",
        slug=slug,
        capacity=capacity,
        opens_at=now - timedelta(minutes=5),
        closes_at=now + timedelta(hours=1),
        gates_ai=False,
    )
    return slug, create_members(f"race-{run}", count)


def outcome(slug: str) -> dict[str, int]:
    from django.db.models import Count

    from portal.models import BetaEnrolment

    rows = BetaEnrolment.objects.filter(programme__slug=slug)
    per_user = rows.values("user").annotate(n=Count("id"))
    return {
        "accepted": rows.filter(status="accepted").count(),
        "waitlisted": rows.filter(status="waitlisted").count(),
        "duplicates": sum(r["n"] - 1 for r in per_user),
    }


def cleanup(run: str) -> None:
    from portal.models import BetaProgramme

    remove_members(f"race-{run}")
    BetaProgramme.objects.filter(slug=f"race-{run}").delete()


async def fire(url: str, slug: str, tokens: list[str], timeout: float) -> tuple[list[float], int]:
    # aiohttp rather than httpx: httpx's pool itself takes seconds over 500 parallel requests.
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(url, connector=connector, timeout=client_timeout) as session:
        go = asyncio.Event()

        async def one(token: str) -> float | None:
            await go.wait()
            started = time.perf_counter()
            try:
                async with session.post(
                    f"/api/v1/beta/{slug}/enroll/", headers={"Authorization": f"Token {token}"}
                ) as response:
                    body = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return None
            elapsed = (time.perf_counter() - started) * 1000
            ok = response.status == 201 and body.get("status") in ("accepted", "waitlisted")
            return elapsed if ok else None

        tasks = [asyncio.create_task(one(t)) for t in tokens]
        await asyncio.sleep(0)
        go.set()
        results = await asyncio.gather(*tasks)
    latencies = [r for r in results if r is not None]
    return latencies, len(results) - len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("PORTAL_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--keep", action="store_true", help="keep the members afterwards")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    with urllib.request.urlopen(f"{args.url}/healthz", timeout=10) as response:  # noqa: S310
        health = json.load(response)
    print(f"server {args.url}: {health}; database {settings.DATABASES['default']['ENGINE']}")
    run = str(int(time.time()))
    slug, tokens = setup_members(args.members, args.capacity, run)
    try:
        started = time.perf_counter()
        latencies, errors = asyncio.run(fire(args.url, slug, tokens, args.timeout))
        wall = time.perf_counter() - started
        counts = outcome(slug)
    finally:
        if not args.keep:
            cleanup(run)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else None
    print(
        f"{args.members} enrolments in {wall:.2f} s; median {statistics.median(latencies):.0f} ms"
        if latencies
        else "no successful request"
    )
    result = {
        "members": args.members,
        "capacity": args.capacity,
        **counts,
        "errors": errors,
        "p95_ms": round(p95, 1) if p95 is not None else None,
    }
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
