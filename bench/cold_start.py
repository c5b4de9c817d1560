"""The first question after a cold start: how long past the model's own first token it waits.

    .venv/bin/python bench/cold_start.py [--runs 3] [--workers 1]

Sets up what bench/ask_load.py sets up (PostgreSQL union_bench_ask, Redis db 14, the fake
model: first token after 600 ms), then per run: starts uvicorn afresh, waits for /healthz to
say ready (as a load balancer would), asks one streamed question and stops the server. The
first text's delay beyond the fake's first token is our own cold-start cost (before the warm
start it was the segmenter, the lexicon and the FAQ index built by that first question).

Then an editor changes an FAQ entry (a variant added, taken out again at the end) and the
same member asks again: the delay of that first text beyond the model's is what an FAQ edit
costs the next question (each process learns the FAQ's word associations and translation model
again: in a thread of its own by default, in the question's own time with
KNOWLEDGE_RELEARN_IN_BACKGROUND=false, measured on a server of its own in the same run).

Last line: RESULT {"runs":…,"first_text_ms":[…],"over_model_ms":[…],"max_over_model_ms":…,
"ready_after_s":[…],"after_faq_edit_over_model_ms":[…],
"after_faq_edit_synchronous_over_model_ms":[…]}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import ask_load  # noqa: E402
from bench.members import create_members, remove_members  # noqa: E402

# The fake's first token: its delay, then one token's delay.
MODEL_FIRST_TOKEN_MS = (ask_load.FAKE_DELAY_S + ask_load.FAKE_TOKEN_S) * 1000
# The variant an FAQ edit adds (taken out again at the end, and by a later run).
EDIT_MARK = "基准测试改动"


async def first_question(url: str, token: str, question: str) -> ask_load.Reading:
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=60)) as session:
        return await ask_load.ask(session, token, question)


def first_text_ms(url: str, token: str, question: str) -> float:
    reading = asyncio.run(first_question(url, token, question))
    if not reading.ok or reading.ttfb_ms is None:
        raise SystemExit(f"the question failed: {reading.error}")
    return round(reading.ttfb_ms, 1)


def edit_faq(mark: str) -> None:
    """What an editor's save does to the FAQ's version: one entry gets one more variant."""
    from knowledge.models import FaqEntry, FaqStatus

    entry = FaqEntry.objects.filter(status=FaqStatus.PUBLISHED).order_by("id").first()
    if entry is None:
        raise SystemExit("the benchmark database has no published FAQ entry")
    entry.variants = [v for v in entry.variants if not str(v).startswith(EDIT_MARK)] + [mark]
    entry.save()


def undo_faq_edits() -> None:
    from knowledge.models import FaqEntry

    for entry in FaqEntry.objects.filter(variants__icontains=EDIT_MARK):
        entry.variants = [v for v in entry.variants if not str(v).startswith(EDIT_MARK)]
        entry.save()


def stop_server(pid: int) -> None:
    os.killpg(pid, signal.SIGTERM)
    child = ask_load.CHILDREN.pop()
    child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    args = parser.parse_args()
    ask_load.setup_bench_django()
    prefix = f"cold-{int(time.time())}"
    firsts, ready = [], []
    edited: dict[str, list[float]] = {"true": [], "false": []}  # KNOWLEDGE_RELEARN_IN_BACKGROUND
    try:
        fake_url, _ = ask_load.start_fake()
        ask_load.prepare_database(fake_url)
        questions, _ = ask_load.load_questions(check_retrieval=True)
        [token] = create_members(prefix, 1)
        for run in range(args.runs):
            for background in ("true", "false"):
                os.environ["KNOWLEDGE_RELEARN_IN_BACKGROUND"] = background
                started = time.monotonic()
                url, pid = ask_load.start_server(args.workers, os.environ["DATABASE_URL"])
                cold = first_text_ms(url, token, questions[run % len(questions)])
                if background == "true":  # the default: the cold start as deployed
                    ready.append(round(time.monotonic() - started, 2))
                    firsts.append(cold)
                edit_faq(f"{EDIT_MARK}{run}{background}")
                edited[background].append(first_text_ms(url, token, questions[-1 - run]))
                stop_server(pid)
            print(
                f"run {run + 1}: ready after {ready[-1]} s, first text {firsts[-1]} ms; after an"
                f" FAQ edit {edited['true'][-1]} ms ({edited['false'][-1]} ms learning in the"
                " question's time)"
            )
    finally:
        ask_load.stop_children()
        undo_faq_edits()
        remove_members(prefix)
    over = [round(ms - MODEL_FIRST_TOKEN_MS, 1) for ms in firsts]
    result = {
        "runs": args.runs,
        "first_text_ms": firsts,
        "over_model_ms": over,
        "max_over_model_ms": max(over),
        "ready_after_s": ready,
        "after_faq_edit_over_model_ms": [
            round(ms - MODEL_FIRST_TOKEN_MS, 1) for ms in edited["true"]
        ],
        "after_faq_edit_synchronous_over_model_ms": [
            round(ms - MODEL_FIRST_TOKEN_MS, 1) for ms in edited["false"]
        ],
    }
    print("RESULT " + json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
