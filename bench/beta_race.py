"""Many verified members enrol at once for the beta's places, through the API of a running server.

Creates a fresh programme and N verified members with API tokens in the server's own database
(the same DATABASE_URL), plus a few unverified ones, fires every enrolment at the same moment —
some members press twice (repeats) — then counts the outcome. Each answer must be the right one:
201/200 with a status for a member, 403 not_verified for an unverified one, or 503 busy with
Retry-After (overload: counted apart, not an error). Anything else (a 500, a timeout, a wrong
answer) is an error.

    .venv/bin/python bench/beta_race.py --url http://127.0.0.1:8000 --members 500 --capacity 100

Last line: RESULT {"members":…,"capacity":…,"accepted":…,"waitlisted":…,"duplicates":…,
"errors":…,"p95_ms":…,"repeats":…,"unverified":…,"refused":…,"busy_503":…,"http_500":…,…}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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


def setup_members(
    count: int, capacity: int, run: str, unverified: int
) -> tuple[str, list[str], list[str]]:
    from django.utils import timezone

    from portal.models import BetaProgramme, MemberProfile

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
    tokens = create_members(f"race-{run}", count)
    strangers = create_members(f"race-{run}-u", unverified) if unverified else []
    MemberProfile.objects.filter(user__username__startswith=f"race-{run}-u-").update(
        verified_at=None
    )
    return slug, tokens, strangers


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


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []  # answered enrolments (201/200 with a status)
        self.all_latencies: list[float] = []  # every answer, 503s included
        self.busy_latencies: list[float] = []  # the 503s: they must come quickly
        self.counts: dict[str, int] = {
            "refused": 0,  # 403 not_verified for the unverified, as it must be
            "busy_503": 0,
            "http_500": 0,
            "timeouts": 0,
            "wrong": 0,  # any other answer
        }

    @property
    def errors(self) -> int:
        return self.counts["http_500"] + self.counts["timeouts"] + self.counts["wrong"]


async def fire(
    url: str, slug: str, requests: list[tuple[str, bool]], timeout: float
) -> tuple[Tally, dict[str, str]]:
    """`requests`: (token, verified) pairs, repeats included. The statuses each token saw."""
    # aiohttp rather than httpx: httpx's pool itself takes seconds over 500 parallel requests.
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    tally = Tally()
    seen: dict[str, str] = {}
    async with aiohttp.ClientSession(url, connector=connector, timeout=client_timeout) as session:
        go = asyncio.Event()

        async def one(token: str, verified: bool) -> None:
            await go.wait()
            started = time.perf_counter()
            try:
                async with session.post(
                    f"/api/v1/beta/{slug}/enroll/", headers={"Authorization": f"Token {token}"}
                ) as response:
                    code = response.status
                    try:
                        body = await response.json(content_type=None)
                    except ValueError:
                        body = {}
                    retry_after = response.headers.get("Retry-After", "")
            except (aiohttp.ClientError, TimeoutError):
                tally.counts["timeouts"] += 1
                return
            elapsed = (time.perf_counter() - started) * 1000
            tally.all_latencies.append(elapsed)
            if code == 503 and body.get("code") == "busy" and retry_after.isdigit():
                tally.counts["busy_503"] += 1
                tally.busy_latencies.append(elapsed)
            elif code >= 500:
                tally.counts["http_500" if code == 500 else "wrong"] += 1
            elif not verified:
                ok = code == 403 and body.get("code") == "not_verified"
                tally.counts["refused" if ok else "wrong"] += 1
            elif code in (200, 201) and body.get("status") in ("accepted", "waitlisted"):
                if seen.setdefault(token, body["status"]) != body["status"]:
                    tally.counts["wrong"] += 1  # a repeat told something else
                else:
                    tally.latencies.append(elapsed)
            else:
                tally.counts["wrong"] += 1

        tasks = [asyncio.create_task(one(t, v)) for t, v in requests]
        await asyncio.sleep(0)
        go.set()
        await asyncio.gather(*tasks)
    return tally, seen


def p95(values: list[float]) -> float | None:
    values = sorted(values)
    return round(values[int(0.95 * (len(values) - 1))], 1) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("PORTAL_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument(
        "--repeat-share", type=float, default=0.1, help="share of members who press twice"
    )
    parser.add_argument(
        "--unverified-share", type=float, default=0.05, help="unverified members, as a share"
    )
    parser.add_argument("--keep", action="store_true", help="keep the members afterwards")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    with urllib.request.urlopen(f"{args.url}/healthz", timeout=10) as response:  # noqa: S310
        health = json.load(response)
    print(f"server {args.url}: {health}; database {settings.DATABASES['default']['ENGINE']}")
    run = str(int(time.time()))
    unverified = round(args.members * args.unverified_share)
    slug, tokens, strangers = setup_members(args.members, args.capacity, run, unverified)
    repeats = tokens[:: max(1, round(1 / args.repeat_share))] if args.repeat_share > 0 else []
    requests = [(t, True) for t in tokens + repeats] + [(t, False) for t in strangers]
    random.Random(run).shuffle(requests)
    try:
        started = time.perf_counter()
        tally, seen = asyncio.run(fire(args.url, slug, requests, args.timeout))
        wall = time.perf_counter() - started
        counts = outcome(slug)
    finally:
        if not args.keep:
            cleanup(run)
    latencies = sorted(tally.latencies)
    print(
        f"{len(requests)} requests in {wall:.2f} s; median {statistics.median(latencies):.0f} ms"
        if latencies
        else "no successful request"
    )
    # Every answer a member got agrees with the database (a lost or doubled place would not).
    answered = {status: list(seen.values()).count(status) for status in ("accepted", "waitlisted")}
    result = {
        "members": args.members,
        "capacity": args.capacity,
        **counts,
        "errors": tally.errors,
        "p95_ms": p95(latencies),
        "repeats": len(repeats),
        "unverified": unverified,
        "answered_accepted": answered["accepted"],
        **tally.counts,
        "p95_all_ms": p95(tally.all_latencies),
        "p95_busy_ms": p95(tally.busy_latencies),
        "wall_s": round(wall, 2),
    }
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
