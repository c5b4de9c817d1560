"""The refresh job: reads the window of questions, rebuilds topics and weekly figures."""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from knowledge.models import (
    AskedQuestion,
    QuestionTopic,
    QuestionWeek,
    Rating,
)
from knowledge.services.analytics.topics import (
    BATCH,
    WINDOW_DAYS,
    Concepts,
    QuestionText,
    cluster,
    describe,
    idf_weights,
    question_key,
)

log = logging.getLogger("knowledge.analytics")

REFRESH_QUEUED_KEY = "knowledge:analytics:refresh-queued"
REFRESH_DEBOUNCE_SECONDS = 60
KEYWORDS = 6
_ADVISORY_LOCK = 0x51A7  # one refresh at a time (PostgreSQL)


@dataclass(frozen=True)
class RefreshSummary:
    questions: int
    topics: int
    weeks: int
    seconds: float


@dataclass
class _Row:
    id: int
    category_id: int | None
    abstained: bool
    down: bool
    asked_at: datetime
    topic_id: int | None


def _read(window: QuerySet[AskedQuestion]) -> tuple[dict[int, _Row], list[QuestionText]]:
    """The questions of the window, and their distinct texts, most asked first."""
    rows: dict[int, _Row] = {}
    texts: dict[str, QuestionText] = {}
    fields = ["id", "text", "resolved", "keywords", "category_id", "segment_id", "abstained"]
    fields += ["rating", "asked_at", "topic_id"]
    for q in window.order_by("asked_at", "id").values_list(*fields, named=True).iterator(BATCH):
        meant = q.resolved or q.text
        rows[q.id] = _Row(
            q.id, q.category_id, q.abstained, q.rating == Rating.DOWN, q.asked_at, q.topic_id
        )
        key = question_key(meant)
        entry = texts.get(key)
        if entry is None:
            words = [str(w) for w in q.keywords] if isinstance(q.keywords, list) else []
            entry = texts[key] = QuestionText(key, meant[:500], first_asked=q.asked_at, words=words)
        entry.ids.append(q.id)
        if q.segment_id is not None and not q.abstained:
            entry.segments[q.segment_id] += 1
    ordered = sorted(texts.values(), key=lambda t: (-len(t.ids), t.first_asked, t.key))
    return rows, ordered


@contextmanager
def _one_refresh() -> Iterator[bool]:
    """Whether this refresh may run: on PostgreSQL one at a time (another running will have the
    same result, so this one need not wait for it)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_ADVISORY_LOCK])
        mine = bool(cursor.fetchone()[0])
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_LOCK])


def refresh_question_analytics(now: datetime | None = None) -> RefreshSummary:
    """Rebuild the topics of the last WINDOW_DAYS and the weekly figures. The same questions
    give the same topics (the same rows, kept by their ids), so running it twice changes
    nothing the second time."""
    started = time.perf_counter()
    now = now or timezone.now()
    since = now - timedelta(days=WINDOW_DAYS)
    with _one_refresh() as mine:
        if not mine:
            log.info("question analytics: a refresh is already running")
            return RefreshSummary(0, 0, 0, time.perf_counter() - started)
        # Read and group outside the transaction: feedback on the newest questions and the
        # editors' marks must not wait for the clustering (nor, on SQLite, every write).
        window = AskedQuestion.objects.filter(asked_at__gte=since, asked_at__lte=now)
        rows, texts = _read(window)
        describe(texts, Concepts.current())
        groups = cluster(texts, idf_weights(texts))
        with transaction.atomic():
            topics = _save_topics(groups, rows)
            AskedQuestion.objects.filter(
                Q(asked_at__lt=since) | Q(asked_at__gt=now), topic__isnull=False
            ).update(topic=None)
            weeks = _rebuild_weeks()
    return RefreshSummary(
        questions=len(rows),
        topics=topics,
        weeks=weeks,
        seconds=time.perf_counter() - started,
    )


def _save_topics(groups: list[list[QuestionText]], rows: dict[int, _Row]) -> int:
    """Write the topics, keeping each old topic row for the new topic that holds most of its
    questions; set every question's topic."""
    existing = {t.pk: t for t in QuestionTopic.objects.all()}
    before = {pk: _state(t) for pk, t in existing.items()}
    claimed: set[int] = set()
    plans: list[tuple[QuestionTopic, list[int]]] = []
    for texts in sorted(groups, key=lambda g: (-sum(len(t.ids) for t in g), g[0].key)):
        ids = [pk for t in texts for pk in t.ids]
        previous = Counter(rows[pk].topic_id for pk in ids if rows[pk].topic_id in existing)
        reuse = next(
            (
                pk
                for pk, _n in sorted(previous.items(), key=lambda kv: (-kv[1], kv[0]))
                if pk not in claimed
            ),
            None,
        )
        topic = existing[reuse] if reuse is not None else QuestionTopic()
        if reuse is not None:
            claimed.add(reuse)
        _describe(topic, texts, [rows[pk] for pk in ids])
        plans.append((topic, ids))
    QuestionTopic.objects.filter(pk__in=set(existing) - claimed).delete()
    fields = ["label", "keywords", "category", "questions", "abstained", "down"]
    fields += ["first_asked", "last_asked"]
    changed = [t for t, _ in plans if t.pk is not None and _state(t) != before[t.pk]]
    QuestionTopic.objects.bulk_update(changed, fields, batch_size=500)
    QuestionTopic.objects.bulk_create([t for t, _ in plans if t.pk is None], batch_size=BATCH)
    moves = [(pk, t.pk) for t, ids in plans for pk in ids if rows[pk].topic_id != t.pk]
    _set_topics(moves)
    return len(plans)


def _state(topic: QuestionTopic) -> tuple[object, ...]:
    return (
        topic.label,
        topic.keywords,
        topic.category_id,
        topic.questions,
        topic.abstained,
        topic.down,
        topic.first_asked,
        topic.last_asked,
    )


def _describe(topic: QuestionTopic, texts: list[QuestionText], rows: list[_Row]) -> None:
    """A topic's label is its most asked text (the earliest-processed on a tie), its keywords
    its most frequent concepts, its category the one most of its questions were filed under."""
    leading = max(texts, key=lambda t: len(t.ids))  # max keeps the first of equals
    topic.label = leading.shown
    weights: Counter[str] = Counter()
    for text in texts:
        for concept in text.concepts:
            weights[concept] += len(text.ids)
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])  # sorted keeps the first of equals
    topic.keywords = [w for w, _ in ranked if len(w) > 1][:KEYWORDS]
    categories = Counter(r.category_id for r in rows if r.category_id is not None)
    topic.category_id = min(categories, key=lambda c: (-categories[c], c)) if categories else None
    topic.questions = len(rows)
    topic.abstained = sum(r.abstained for r in rows)
    topic.down = sum(r.down for r in rows)
    topic.first_asked = min(r.asked_at for r in rows)
    topic.last_asked = max(r.asked_at for r in rows)


def _set_topics(moves: list[tuple[int, int]]) -> None:
    """Move questions to their topics: one statement per topic and batch of questions."""
    by_topic: dict[int, list[int]] = defaultdict(list)
    for pk, topic_id in moves:
        by_topic[topic_id].append(pk)
    for topic_id, ids in by_topic.items():
        for start in range(0, len(ids), BATCH):
            AskedQuestion.objects.filter(pk__in=ids[start : start + BATCH]).update(
                topic_id=topic_id
            )


def _rebuild_weeks() -> int:
    """Questions per Monday-week (local time) and category, from the whole history; abstained
    questions that no category was found for count under no category."""
    zone = ZoneInfo(settings.TIME_ZONE)
    figures = (
        AskedQuestion.objects.annotate(week=TruncWeek("asked_at", tzinfo=zone))
        .values("week", "category_id")
        .annotate(
            n=Count("id"),
            n_abstained=Count("id", filter=Q(abstained=True)),
            n_up=Count("id", filter=Q(rating=Rating.UP)),
            n_down=Count("id", filter=Q(rating=Rating.DOWN)),
        )
        .order_by("week", "category_id")
    )
    QuestionWeek.objects.all().delete()
    created = QuestionWeek.objects.bulk_create(
        [
            QuestionWeek(
                week=timezone.localtime(f["week"], zone).date(),
                category_id=f["category_id"],
                questions=f["n"],
                abstained=f["n_abstained"],
                up=f["n_up"],
                down=f["n_down"],
            )
            for f in figures
        ],
        batch_size=BATCH,
    )
    return len(created)


def schedule_refresh() -> None:
    """Refresh in the background once the current transaction commits."""
    from knowledge import tasks

    # Many clicks within a minute queue one refresh (a worker slot each, otherwise).
    if cache.add(REFRESH_QUEUED_KEY, True, timeout=REFRESH_DEBOUNCE_SECONDS):
        transaction.on_commit(tasks.refresh_question_analytics.delay)
