"""refresh_question_analytics() on a generated half-year of questions, on PostgreSQL.

The questions are the seed FAQ's questions and variants (knowledge/seed/faq: each entry's
wordings mean the same), asked with Zipf popularity, with greetings and tails members add
(请问…, …谢谢), over the last 180 days. As the Ask service records them, each carries its
words (segmented with the seed lexicon); 85 % were answered, citing the entry's first article
three times in four and another article otherwise. The figures: the time of a first refresh
(every topic new), of a second one (nothing changes), and how well the topics match the
entries (B-cubed precision and recall, by entry and by the article that answers it).

    .venv/bin/python bench/question_analytics.py --questions 50000

Runs in the database `union_bench_analytics` beside DATABASE_URL's; its questions are replaced
on every run. Last line: RESULT {"questions":…,"first_refresh_s":…,"second_refresh_s":…,…}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
DATABASE = "union_bench_analytics"
GREETINGS = ["", "", "", "请问", "你好，", "我想问一下，", "咨询一下：", "急！"]
TAILS = ["", "", "", "？", "怎么办", "谢谢", "啊", "呢"]


def use_bench_database() -> None:
    import psycopg

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    if not base.startswith("postgres"):
        raise SystemExit("the analytics benchmark runs on PostgreSQL (set DATABASE_URL)")
    server = base.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ["DATABASE_URL"] = f"{server}/{DATABASE}"


def seed_entries() -> list[dict[str, Any]]:
    entries = []
    for path in sorted((ROOT / "knowledge" / "seed" / "faq").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                item["article"] = (item.get("cites") or [item["question"]])[0]
                entries.append(item)
    return entries


def prepare(count: int, seed: int) -> dict[int, tuple[int, str]]:
    """Fresh questions; returns each question's entry and article."""
    from django.db import transaction

    from knowledge import lexicon
    from knowledge.models import (
        AskedQuestion,
        Document,
        LexiconEntry,
        QuestionTopic,
        QuestionWeek,
        Rating,
        Segment,
    )
    from knowledge.seed import SEED_DIR, ensure_categories
    from knowledge.text import segmenter

    categories = ensure_categories()
    if not LexiconEntry.objects.exists():
        LexiconEntry.objects.bulk_create(
            LexiconEntry(kind=k, phrase=p, targets=t)
            for k, p, t in lexicon.parse_file(SEED_DIR / "lexicon.txt")
        )
    lexicon.current()
    entries = seed_entries()
    articles = sorted({str(e["article"]) for e in entries})
    document, _ = Document.objects.get_or_create(
        content_hash="bench-analytics",
        defaults={"title": "基准测试条款", "category": categories["rights"], "body": "-"},
    )
    if document.segments.count() != len(articles):
        document.segments.all().delete()
        Segment.objects.bulk_create(
            Segment(document=document, position=i, heading=a[:100], text=a)
            for i, a in enumerate(articles)
        )
    segment_of = dict(document.segments.values_list("heading", "id"))

    rng = random.Random(seed)
    order = list(range(len(entries)))
    rng.shuffle(order)
    popularity = [0.0] * len(entries)
    for rank, i in enumerate(order):
        popularity[i] = 1 / (rank + 1) ** 0.9
    words_of: dict[str, list[str]] = {}
    now = time.time()
    rows, truth = [], []
    for i in rng.choices(range(len(entries)), popularity, k=count):
        entry = entries[i]
        wordings = [str(entry["question"]), *(str(v) for v in entry["variants"])]
        text = rng.choice(GREETINGS) + rng.choice(wordings) + rng.choice(TAILS)
        if text not in words_of:
            words_of[text] = segmenter.words(text)
        abstained = rng.random() < 0.15
        cited = None
        if not abstained:
            article = entry["article"] if rng.random() < 0.75 else rng.choice(articles)
            cited = segment_of[str(article)[:100]]
        roll = rng.random()
        rows.append(
            AskedQuestion(
                text=text,
                keywords=words_of[text],
                category=None if abstained else categories.get(str(entry.get("category"))),
                segment_id=cited,
                abstained=abstained,
                rating=Rating.DOWN if roll < 0.1 else Rating.UP if roll < 0.3 else "",
                asked_at=datetime.fromtimestamp(now - rng.uniform(0, 179 * 86400), UTC),
            )
        )
        truth.append((i, str(entry["article"])))
    with transaction.atomic():
        AskedQuestion.objects.all().delete()
        QuestionTopic.objects.all().delete()
        QuestionWeek.objects.all().delete()
        created = AskedQuestion.objects.bulk_create(rows, batch_size=5000)
    return {q.pk: t for q, t in zip(created, truth, strict=True)}


def bcubed(assigned: dict[int, int], label: dict[int, object]) -> tuple[float, float]:
    clusters: dict[int, list[int]] = defaultdict(list)
    classes: dict[object, list[int]] = defaultdict(list)
    for pk, topic in assigned.items():
        clusters[topic].append(pk)
        classes[label[pk]].append(pk)
    in_cluster = {c: Counter(label[pk] for pk in pks) for c, pks in clusters.items()}
    in_class = {c: Counter(assigned[pk] for pk in pks) for c, pks in classes.items()}
    precision = recall = 0.0
    for pk, topic in assigned.items():
        precision += in_cluster[topic][label[pk]] / len(clusters[topic])
        recall += in_class[label[pk]][topic] / len(classes[label[pk]])
    return precision / len(assigned), recall / len(assigned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    use_bench_database()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from knowledge.models import AskedQuestion, QuestionTopic
    from knowledge.services.analytics import refresh_question_analytics

    truth = prepare(args.questions, args.seed)
    first = refresh_question_analytics()
    snapshot = list(QuestionTopic.objects.order_by("id").values_list())
    second = refresh_question_analytics()
    unchanged = list(QuestionTopic.objects.order_by("id").values_list()) == snapshot
    assigned = dict(AskedQuestion.objects.values_list("id", "topic_id"))
    by_entry = bcubed(assigned, {pk: t[0] for pk, t in truth.items()})
    by_article = bcubed(assigned, {pk: t[1] for pk, t in truth.items()})
    result = {
        "questions": first.questions,
        "distinct_texts": len(set(AskedQuestion.objects.values_list("text", flat=True))),
        "topics": first.topics,
        "first_refresh_s": round(first.seconds, 2),
        "second_refresh_s": round(second.seconds, 2),
        "second_unchanged": unchanged,
        "entry_precision": round(by_entry[0], 3),
        "entry_recall": round(by_entry[1], 3),
        "article_precision": round(by_article[0], 3),
        "article_recall": round(by_article[1], 3),
    }
    print(
        f"{result['questions']} questions ({result['distinct_texts']} texts) → "
        f"{result['topics']} topics; first refresh {result['first_refresh_s']} s, "
        f"second {result['second_refresh_s']} s (unchanged: {unchanged})"
    )
    print(
        f"B-cubed by FAQ entry: precision {result['entry_precision']}, recall "
        f"{result['entry_recall']}; by article: precision {result['article_precision']}, "
        f"recall {result['article_recall']}"
    )
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
