"""Our search() beside haystack's InMemoryBM25Retriever on one synthetic corpus, at several sizes.

The corpus is built from the law texts: every synthetic segment joins sentences of two articles
drawn at random (fixed seed), so the vocabulary and its frequencies are those of real laws. Both
systems index the same segments; the queries are the questions of ../shared/eval/dev.jsonl.
Our side runs the whole search() (analysis, lexicon, BM25 in the database, FAQ match, ranking)
against PostgreSQL, one database per size (`<prefix>_<size>`, `union_bench_<size>` by default,
beside DATABASE_URL's, kept between runs so a second run skips the indexing; `--prefix` keeps
two people's runs apart).

    .venv/bin/python bench/retrieval.py --segments 1000,10000,100000 [--prefix union_bench_me]

Last line: RESULT {"segments":…,"ours_p95_ms":…,"haystack_p95_ms":…,"speedup":…}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# As the portal runs: DEBUG would wrap every query in a cursor that records it.
os.environ.setdefault("DJANGO_DEBUG", "false")
SHARED = ROOT.parent / "shared"


def server_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    if not base.startswith("postgres"):
        raise SystemExit("the retrieval benchmark runs on PostgreSQL (set DATABASE_URL)")
    return base.rsplit("/", 1)[0]


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(server_url() + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def law_sentences() -> list[list[str]]:
    from knowledge.ingest import split

    articles = []
    for path in sorted((SHARED / "corpus" / "laws").glob("*.md")):
        for draft in split(path.read_text(encoding="utf-8"), path.stem):
            sentences = [s for s in re.split(r"(?<=[。；])", draft.text) if s.strip()]
            if sentences:
                articles.append(sentences)
    return articles


def synthetic_texts(count: int, start: int, articles: list[list[str]]) -> list[str]:
    rng = random.Random(start * 7919 + count)
    texts = []
    for i in range(start, start + count):
        a, b = rng.sample(articles, 2)
        body = "".join(a[: rng.randint(1, len(a))] + b[: rng.randint(1, min(len(b), 3))])
        texts.append(f"第{i}条 {body}"[:800])
    return texts


def grow_corpus(target: int, articles: list[list[str]]) -> list[str]:
    """Bring the benchmark knowledge base to `target` synthetic segments (kept between runs)."""
    from django.db import transaction

    from knowledge import indexing
    from knowledge.models import Category, Document, DocumentKind, DocumentStatus, Segment

    have = Segment.objects.count()
    if have < target:
        category = Category.objects.get(slug="rights")
        started = time.perf_counter()
        for start in range(have, target, 5000):
            count = min(5000, target - start)
            texts = synthetic_texts(count, start, articles)
            with transaction.atomic():
                document = Document.objects.create(
                    title=f"合成法规 {start}",
                    category=category,
                    kind=DocumentKind.LAW,
                    body="\n".join(texts),
                    content_hash=f"bench-{start}-{count}",
                    status=DocumentStatus.PUBLISHED,
                )
                segments = Segment.objects.bulk_create(
                    Segment(document=document, position=i, heading=f"第{start + i}条", text=t)
                    for i, t in enumerate(texts)
                )
                indexing.reindex(s.pk for s in segments)
            print(f"  indexed {start + count} segments ({time.perf_counter() - started:.0f} s)")
    indexing.vacuum()  # as autovacuum would, before measuring a freshly loaded table
    return list(Segment.objects.order_by("id").values_list("text", flat=True)[:target])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def time_ours(questions: list[str]) -> list[float]:
    from knowledge.retrieval import search

    for question in questions[:5]:
        search(question)  # warm the caches: lexicon, FAQ index, jieba
    times = []
    for question in questions:
        started = time.perf_counter()
        search(question)
        times.append((time.perf_counter() - started) * 1000)
    return times


def time_haystack(questions: list[str], texts: list[str]) -> list[float]:
    from haystack import Document as HaystackDocument
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    store.write_documents([HaystackDocument(content=t) for t in texts])
    retriever = InMemoryBM25Retriever(document_store=store, top_k=3)
    retriever.run(query=questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        retriever.run(query=question)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(size: int, questions_path: Path) -> dict[str, float]:
    """One size, in this process, on the database DATABASE_URL names."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    questions = [
        json.loads(line)["question"]
        for line in questions_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = grow_corpus(size, law_sentences())
    ours = time_ours(questions)
    theirs = time_haystack(questions, texts)
    row = {
        "segments": size,
        "ours_p50_ms": round(statistics.median(ours), 1),
        "ours_p95_ms": round(percentile(ours, 0.95), 1),
        "haystack_p50_ms": round(statistics.median(theirs), 1),
        "haystack_p95_ms": round(percentile(theirs, 0.95), 1),
    }
    row["speedup"] = round(row["haystack_p95_ms"] / row["ours_p95_ms"], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", default="1000,10000,100000")
    parser.add_argument("--questions", type=Path, default=SHARED / "eval" / "dev.jsonl")
    parser.add_argument("--prefix", default="union_bench", help="database name prefix")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a child
    args = parser.parse_args()
    if args.one:
        print("ROW " + json.dumps(measure(args.one, args.questions)), flush=True)
        return

    rows = []
    for size in sorted(int(s) for s in args.segments.split(",")):
        name = f"{args.prefix}_{size}"
        if "bench" not in name:
            raise SystemExit("the benchmark's databases are named *bench*: it writes to no other")
        create_database(name)
        env = {**os.environ, "DATABASE_URL": f"{server_url()}/{name}"}
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--questions", str(args.questions)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = child.stdout.splitlines()
        for line in lines:
            if not line.startswith("ROW "):
                print(line)
        if child.returncode != 0 or not lines or not lines[-1].startswith("ROW "):
            print(child.stderr, file=sys.stderr)
            raise SystemExit(f"the {size}-segment run failed")
        row = json.loads(lines[-1][4:])
        rows.append(row)
        print(
            f"{size:>7} segments: ours p50 {row['ours_p50_ms']} ms p95 {row['ours_p95_ms']} ms"
            f" | haystack p50 {row['haystack_p50_ms']} ms p95 {row['haystack_p95_ms']} ms"
            f" | ratio {row['speedup']}x",
            flush=True,
        )
    last = rows[-1]
    print(
        "RESULT "
        + json.dumps(
            {
                "segments": last["segments"],
                "ours_p95_ms": last["ours_p95_ms"],
                "haystack_p95_ms": last["haystack_p95_ms"],
                "speedup": last["speedup"],
            }
        )
    )


if __name__ == "__main__":
    main()
