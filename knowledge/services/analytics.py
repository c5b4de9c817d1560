"""Question analytics: topics of what members ask, weekly figures, and the editor's path from an
unanswered or disliked question to a published FAQ entry that answers it.

Topics are rebuilt from the questions of the last WINDOW_DAYS by a daily job. Two questions are
about the same thing when their words mean the same (the lexicon maps colloquial words and
synonyms to one formal concept) and when their answers cite the same segment; DEVELOPERS.md
describes the clustering.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import ahocorasick
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.expressions import Window
from django.db.models.functions import Coalesce, RowNumber, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge import indexing
from knowledge import lexicon as lexicon_module
from knowledge.models import (
    AskedQuestion,
    Category,
    DocumentStatus,
    FaqEntry,
    FaqStatus,
    LexiconEntry,
    LexiconKind,
    QuestionTopic,
    QuestionWeek,
    Rating,
    Segment,
)
from knowledge.services import KnowledgeError, save_faq
from knowledge.text import normalise, segmenter
from portal import permissions
from portal.errors import NotPermitted
from portal.models import User
from portal.permissions import Perm

log = logging.getLogger("knowledge.analytics")

# Longer than the dashboard's longest period (26 weeks) with its partial first week.
WINDOW_DAYS = 190
REFRESH_QUEUED_KEY = "knowledge:analytics:refresh-queued"
REFRESH_DEBOUNCE_SECONDS = 60
# A question joins the topic whose centre is at least this close (idf-weighted cosine).
SIMILARITY = 0.3
# Character pairs only back up the words (they match where segmentation differs).
BIGRAM_WEIGHT = 0.4
# Answers that cite the same segment are strong evidence of the same question: the cited
# segments weigh this much relative to all of a question's words, however many it has.
SEGMENT_SHARE = 0.75
# idf as if there were at least this many distinct questions: in a small set every word is
# rare, and shared words should still count in full.
MIN_IDF_BASE = 1000
# Candidate topics come from the posting lists of the features that at most this many topics
# have: the cost per question stays flat as topics grow.
COMMON_FEATURE = 50
BATCH = 2000
KEYWORDS = 6
_ADVISORY_LOCK = 0x51A7  # one refresh at a time (PostgreSQL)
_KEY_DROP = re.compile(r"[^\u3400-\u9fffa-z0-9]+")


# --- Topics ----------------------------------------------------------------------------------


def question_key(text: str) -> str:
    """What makes two question texts the same text: letters, digits and Chinese characters."""
    return _KEY_DROP.sub("", normalise(text))


class Concepts:
    """The lexicon as one formal concept per word: each synonym group stands for its first word,
    a colloquial phrase for the formal words it maps to. Phrases are found in a question as
    retrieval finds them (lexicon.Lexicon.expand), with one automaton pass per question."""

    def __init__(self, lexicon: lexicon_module.Lexicon, head: dict[str, str]) -> None:
        self.head = head
        self.targets: dict[str, list[str]] = {
            phrase: list(dict.fromkeys(head.get(t, t) for t, _kind in targets))
            for phrase, targets in lexicon.expansions.items()
        }
        self._automaton: Any = ahocorasick.Automaton()
        for phrase in self.targets:
            if len(phrase) > 1:
                self._automaton.add_word(phrase, phrase)
        if len(self._automaton):
            self._automaton.make_automaton()

    @classmethod
    def current(cls) -> Concepts:
        head: dict[str, str] = {}
        rows = LexiconEntry.objects.filter(kind=LexiconKind.SYNONYM).order_by("id")
        for phrase, targets in rows.values_list("phrase", "targets"):
            first = normalise(phrase)
            for word in [first, *(normalise(str(t)) for t in targets)]:
                head.setdefault(word, first)
        return cls(lexicon_module.current(), head)

    def features(self, text: str, words: list[str]) -> tuple[dict[str, float], list[str]]:
        """The question's features (concepts, character pairs) with their weights, and its
        concepts in order (for a topic's keywords). `words`: segmenter.words(text)."""
        found = (
            [phrase for _end, phrase in self._automaton.iter(normalise(text))]
            if len(self._automaton)
            else []
        )
        found += [w for w in words if len(w) == 1 and w in self.targets]
        concepts = [self.head.get(w, w) for w in words]
        for phrase in found:
            concepts.extend(self.targets[phrase])
        out: dict[str, float] = dict.fromkeys(concepts, 1.0)
        for word in words:
            # Pairs inside a word, not across words: 拖欠工资 meets 工资 and 欠工资.
            for i in range(len(word) - 1 if len(word) > 2 else 0):
                out.setdefault("#" + word[i : i + 2], BIGRAM_WEIGHT)
        return out, list(dict.fromkeys(concepts))


@dataclass
class _Text:
    """One distinct question text and the questions asked with it."""

    key: str
    shown: str
    first_asked: datetime
    words: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    segments: Counter[int] = field(default_factory=Counter)
    vector: dict[str, float] = field(default_factory=dict)
    concepts: list[str] = field(default_factory=list)


def cluster(texts: Sequence[_Text], idf: dict[str, float]) -> list[list[_Text]]:
    """Greedy leader clustering, most asked texts first: each text joins the topic whose centre
    (the count-weighted sum of its texts' unit vectors) is closest, when that is close enough,
    or starts a topic. Deterministic for the same texts in the same order."""
    members: list[list[_Text]] = []
    norm2: list[float] = []
    # feature → topic → the feature's weight in the topic's centre
    centres: dict[str, dict[int, float]] = {}
    for text in texts:
        vector = _unit(text, idf)
        # Only topics that share a feature few topics have are candidates (one that most topics
        # share adds little and would cost the most); common features still count in the dot.
        shared = sorted(((f, centres[f]) for f in vector if f in centres), key=lambda s: len(s[1]))
        cut = sum(1 for _, topics in shared if len(topics) <= COMMON_FEATURE) or min(len(shared), 1)
        dots: dict[int, float] = defaultdict(float)
        for f, topics in shared[:cut]:
            weight = vector[f]
            for topic, value in topics.items():
                dots[topic] += weight * value
        common = [(vector[f], topics) for f, topics in shared[cut:]]
        best, best_similarity, best_dot = -1, 0.0, 0.0
        for topic, dot in dots.items():
            for weight, topics in common:
                dot += weight * topics.get(topic, 0.0)
            similarity = dot / math.sqrt(norm2[topic])
            if similarity > best_similarity:
                best, best_similarity, best_dot = topic, similarity, dot
        if best_similarity < SIMILARITY:
            best, best_dot = len(members), 0.0
            members.append([])
            norm2.append(0.0)
        count = float(len(text.ids))
        for f, v in vector.items():
            topics = centres.setdefault(f, {})
            topics[best] = topics.get(best, 0.0) + count * v
        norm2[best] += 2 * count * best_dot + count * count
        members[best].append(text)
    return members


def _unit(text: _Text, idf: dict[str, float]) -> dict[str, float]:
    """The text's idf-weighted features and cited segments as a unit vector."""
    weighted = {f: w * idf[f] for f, w in text.vector.items()}
    words = math.sqrt(sum(v * v for v in weighted.values())) or 1.0
    for segment_id, n in text.segments.items():
        weighted[f"@{segment_id}"] = SEGMENT_SHARE * words * n / len(text.ids)
    norm = math.sqrt(sum(v * v for v in weighted.values()))
    return {f: v / norm for f, v in weighted.items()}


def _idf(texts: Sequence[_Text]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for text in texts:
        df.update(text.vector.keys())
    n = max(len(texts), MIN_IDF_BASE)
    return {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}


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


def _read(window: QuerySet[AskedQuestion]) -> tuple[dict[int, _Row], list[_Text]]:
    """The questions of the window, and their distinct texts, most asked first."""
    rows: dict[int, _Row] = {}
    texts: dict[str, _Text] = {}
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
            entry = texts[key] = _Text(key, meant[:500], first_asked=q.asked_at, words=words)
        entry.ids.append(q.id)
        if q.segment_id is not None and not q.abstained:
            entry.segments[q.segment_id] += 1
    ordered = sorted(texts.values(), key=lambda t: (-len(t.ids), t.first_asked, t.key))
    return rows, ordered


def describe(texts: Iterable[_Text], concepts: Concepts) -> None:
    """Each text's features; the Ask service stores a question's words (segmenter.words of
    the question it searched), older rows are segmented here."""
    for text in texts:
        words = text.words or segmenter.words(text.shown)
        text.vector, text.concepts = concepts.features(text.shown, words)


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
        groups = cluster(texts, _idf(texts))
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


def _save_topics(groups: list[list[_Text]], rows: dict[int, _Row]) -> int:
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


def _describe(topic: QuestionTopic, texts: list[_Text], rows: list[_Row]) -> None:
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


# --- The editor's work list ------------------------------------------------------------------


class Pending(StrEnum):
    """The two lists of questions waiting for an editor."""

    UNANSWERED = "unanswered"  # the knowledge base had no answer
    DISLIKED = "disliked"  # answered, and the member said it did not help


def pending(kind: Pending) -> QuerySet[AskedQuestion]:
    """Questions of the list not yet handled. An abstained answer rated down is on the
    unanswered list only."""
    waiting = AskedQuestion.objects.filter(handled_at__isnull=True)
    if kind == Pending.UNANSWERED:
        return waiting.filter(abstained=True)
    return waiting.filter(abstained=False, rating=Rating.DOWN)


def kind_of(asked: AskedQuestion) -> Pending:
    return Pending.UNANSWERED if asked.abstained else Pending.DISLIKED


def check_may_handle(user: User) -> None:
    if not permissions.has_perm(user, Perm.CURATE_KNOWLEDGE):
        raise NotPermitted(_("只有知识库编辑可以处理职工的提问。"))


def mark_handled(editor: User, asked: AskedQuestion, *, whole_topic: bool = False) -> int:
    """Take the question off its list (with `whole_topic`, every question of its topic on the
    same list); returns how many were marked. A question already handled stays as it was."""
    check_may_handle(editor)
    targets = pending(kind_of(asked))
    handled = AskedQuestion.objects.filter(pk=asked.pk, handled_at__isnull=False).exists()
    if not handled and not targets.filter(pk=asked.pk).exists():
        raise KnowledgeError(_("这个提问不在待处理的列表里。"), code="not_pending")
    if whole_topic and asked.topic_id is not None:
        targets = targets.filter(Q(pk=asked.pk) | Q(topic_id=asked.topic_id))
    else:
        targets = targets.filter(pk=asked.pk)
    return targets.update(handled_at=timezone.now())


def faq_from_question(
    editor: User,
    asked: AskedQuestion,
    *,
    question: str,
    answer: str,
    category: Category,
    segment_ids: Sequence[int],
    variants: Iterable[str] = (),
) -> FaqEntry:
    """Publish an FAQ entry made from a member's question; it cites `segment_ids` in order (the
    first one answers it). The question, and every waiting question worded like the entry's
    question or one of its variants, is marked handled by it. The index (and with it every
    process's FAQ matcher) knows the entry when the transaction commits."""
    check_may_handle(editor)
    with transaction.atomic():
        indexing.lock()  # the index first, then content rows: the curation services' order
        # Checked under the lock: a segment cannot be disabled between the check and the save.
        variants = [v.strip() for v in variants if v.strip()]
        by_id = {
            s.pk: s for s in Segment.objects.filter(pk__in=segment_ids).select_related("document")
        }
        segments = [by_id[pk] for pk in dict.fromkeys(segment_ids) if pk in by_id]
        if len(segments) < len(set(segment_ids)):
            raise KnowledgeError(_("引用的片段已不存在，请重新选择。"), code="unknown_segment")
        if not segments:
            raise KnowledgeError(
                _("请至少选择一个依据片段：职工的提问要靠它找到这条解答。"), code="no_segment"
            )
        first = segments[0]
        if not first.enabled or first.document.status != DocumentStatus.PUBLISHED:
            raise KnowledgeError(
                _("%(label)s 未发布或已停用，职工检索不到它，请先发布或换一条。")
                % {"label": first.label},
                code="segment_not_retrievable",
            )
        locked = AskedQuestion.objects.select_for_update().get(pk=asked.pk)
        if locked.faq_id is not None:
            raise KnowledgeError(_("已经有编辑据此提问新建了问答。"), code="already_handled")
        faq = save_faq(
            question=question,
            answer=answer,
            category=category,
            variants=variants,
            segments=segments,
            status=FaqStatus.PUBLISHED,
            author=editor,
        )
        # Worded alike means the same letters and characters, punctuation aside: compared here,
        # over the waiting questions of the list (their texts only).
        wordings = {question_key(t) for t in [question, *variants]}
        covered = [
            pk
            for pk, text in pending(kind_of(locked))
            .filter(asked_at__gte=timezone.now() - timedelta(days=WINDOW_DAYS))
            .values_list("id", "text")
            .iterator(chunk_size=BATCH)
            if question_key(text) in wordings
        ]
        now = timezone.now()
        AskedQuestion.objects.filter(Q(pk=locked.pk) | Q(pk__in=covered)).update(
            faq=faq, handled_at=now
        )
    asked.faq, asked.handled_at = faq, now
    return faq


# --- Reports for the dashboard ---------------------------------------------------------------

PERIODS = (4, 12, 26)
NO_CATEGORY = 0  # the category filter's value for questions filed under no category


@dataclass(frozen=True)
class Scope:
    """What the dashboard shows: the last `weeks` weeks (this one included), one category
    (an id, NO_CATEGORY, or None for all)."""

    weeks: int
    category_id: int | None
    today: date

    @property
    def first_week(self) -> date:
        return monday(self.today) - timedelta(weeks=self.weeks - 1)

    @property
    def since(self) -> datetime:
        start = datetime.combine(self.first_week, datetime.min.time())
        return timezone.make_aware(start, ZoneInfo(settings.TIME_ZONE))

    def questions(self, qs: QuerySet[AskedQuestion]) -> QuerySet[AskedQuestion]:
        qs = qs.filter(asked_at__gte=self.since)
        if self.category_id == NO_CATEGORY:
            return qs.filter(category__isnull=True)
        if self.category_id is not None:
            return qs.filter(category_id=self.category_id)
        return qs


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class WeekFigure:
    week: date
    questions: int
    abstained: int
    up: int
    down: int

    @property
    def abstention_rate(self) -> float | None:
        return self.abstained / self.questions if self.questions else None


def week_figures(scope: Scope) -> list[WeekFigure]:
    """Every week of the scope, weeks without questions included (from the last refresh)."""
    qs = QuestionWeek.objects.filter(week__gte=scope.first_week)
    if scope.category_id == NO_CATEGORY:
        qs = qs.filter(category__isnull=True)
    elif scope.category_id is not None:
        qs = qs.filter(category_id=scope.category_id)
    sums = {
        row["week"]: row
        for row in qs.values("week").annotate(
            n=Sum("questions"), a=Sum("abstained"), u=Sum("up"), d=Sum("down")
        )
    }
    out = []
    for i in range(scope.weeks):
        week = scope.first_week + timedelta(weeks=i)
        row = sums.get(week, {})
        out.append(
            WeekFigure(week, row.get("n", 0), row.get("a", 0), row.get("u", 0), row.get("d", 0))
        )
    return out


@dataclass(frozen=True)
class Tally:
    """A bar of the dashboard: something counted, with its abstained share."""

    label: str
    questions: int
    abstained: int
    key: int | None = None  # the category or topic id


def category_tallies(scope: Scope) -> list[Tally]:
    """Questions per category over the scope's weeks, most asked first (from the last refresh)."""
    names = dict(Category.objects.values_list("id", "name"))
    rows = (
        QuestionWeek.objects.filter(week__gte=scope.first_week)
        .values("category_id")
        .annotate(n=Sum("questions"), a=Sum("abstained"))
        .order_by("-n", "category_id")
    )
    return [
        Tally(
            label=names.get(r["category_id"], "") if r["category_id"] else _("未分类"),
            questions=r["n"],
            abstained=r["a"],
            key=r["category_id"] or NO_CATEGORY,
        )
        for r in rows
        if r["n"]
    ]


def topic_tallies(scope: Scope, limit: int = 10) -> list[Tally]:
    """The most asked topics in the scope (questions counted by their own category)."""
    rows = (
        scope.questions(AskedQuestion.objects.filter(topic__isnull=False))
        .values("topic_id", "topic__label")
        .annotate(n=Count("id"), a=Count("id", filter=Q(abstained=True)))
        .order_by("-n", "topic_id")[:limit]
    )
    return [Tally(r["topic__label"], r["n"], r["a"], r["topic_id"]) for r in rows]


def not_yet_grouped(scope: Scope) -> int:
    """Questions asked since the last refresh (they have no topic yet)."""
    return scope.questions(AskedQuestion.objects.filter(topic__isnull=True)).count()


def pending_counts(scope: Scope) -> dict[Pending, int]:
    return {kind: scope.questions(pending(kind)).count() for kind in Pending}


def pending_groups(kind: Pending, scope: Scope) -> QuerySet[AskedQuestion, dict[str, object]]:
    """The waiting questions by topic (a question without a topic is a group of its own),
    the group with the newest question first. Rows: group, n, latest."""
    return (
        scope.questions(pending(kind))
        .annotate(group=Coalesce(F("topic_id"), F("id") * -1))
        .values("group")
        .annotate(n=Count("id"), latest=Max("asked_at"))
        .order_by("-latest", "group")
    )


@dataclass
class PendingGroup:
    count: int
    topic: QuestionTopic | None
    examples: list[AskedQuestion]

    @property
    def newest(self) -> AskedQuestion:
        return self.examples[0]

    @property
    def label(self) -> str:
        return self.topic.label if self.topic else self.newest.text


def describe_groups(
    kind: Pending, scope: Scope, rows: Iterable[dict[str, object]], examples: int = 3
) -> list[PendingGroup]:
    """The newest few questions of each group (one query), in the groups' order."""
    rows = list(rows)
    groups = [int(str(r["group"])) for r in rows]
    topic_ids = [g for g in groups if g > 0]
    loose = [-g for g in groups if g < 0]
    ranked = (
        scope.questions(pending(kind))
        .filter(Q(topic_id__in=topic_ids) | Q(pk__in=loose))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[Coalesce(F("topic_id"), F("id") * -1)],
                order_by=[F("asked_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=examples)
        .select_related("topic", "category", "segment__document", "document")
        .order_by("-asked_at", "-id")
    )
    by_group: dict[int, list[AskedQuestion]] = defaultdict(list)
    for asked in ranked:
        by_group[asked.topic_id if asked.topic_id is not None else -asked.pk].append(asked)
    out = []
    for row, group in zip(rows, groups, strict=True):
        found = by_group.get(group)
        if found:
            out.append(PendingGroup(int(str(row["n"])), found[0].topic, found))
    return out


def suggested_variants(asked: AskedQuestion, limit: int = 10) -> list[str]:
    """Other wordings of the question that wait on the same list in its topic, most asked first:
    the FAQ form offers them as the entry's variants."""
    if asked.topic_id is None:
        return []
    seen = {question_key(asked.text)}
    out: list[str] = []
    rows = (
        pending(kind_of(asked))
        .filter(topic_id=asked.topic_id)
        .values("text")
        .annotate(n=Count("id"), latest=Max("asked_at"))
        .order_by("-n", "-latest")
    )
    for row in rows[: limit * 3]:
        key = question_key(row["text"])
        if key and key not in seen:
            seen.add(key)
            out.append(row["text"])
        if len(out) >= limit:
            break
    return out
