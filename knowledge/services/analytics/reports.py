"""Figures for the analytics dashboard: weeks, categories, topics and the pending lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.expressions import Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge.models import (
    AskedQuestion,
    Category,
    QuestionTopic,
    QuestionWeek,
)
from knowledge.services.analytics.topics import question_key
from knowledge.services.analytics.worklist import Pending, kind_of, pending

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


@dataclass(frozen=True)
class Uncovered:
    concept: str
    questions: int


def uncovered_concepts(scope: Scope, limit: int = 10) -> list[Uncovered]:
    """The waiting unanswered questions grouped by what they asked about (retrieval's key
    concept), most asked first: "婚假 × 37" tells an editor what the knowledge base lacks."""
    rows = (
        scope.questions(pending(Pending.UNANSWERED))
        .exclude(concept="")
        .values("concept")
        .annotate(n=Count("id"))
        .order_by("-n", "concept")[:limit]
    )
    return [Uncovered(r["concept"], r["n"]) for r in rows]


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
