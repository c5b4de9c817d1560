"""Accuracy (命中率): how often retrieval finds the article that answers a question, first or in
its top three, and how often it abstains when it should (and when it should not).

One code path for `manage.py evaluate_retrieval` and the editors' accuracy page: both parse
questions with `parse_questions()`, score each with `score()` and sum the outcomes with
`figures()`. The page keeps question sets in the database (`QuestionSet`), imported from a
JSONL file in the command's format or added from the analytics work list, and runs them in
the background (`AccuracyRun`, a `portal.jobs.Job`), comparing each run with the one before.

A question line: {"id", "question", "law", "articles", "answer_key", "answerable", "category"}
— only "question" is required. An answerable question is answered by a passage that contains
its `answer_key` (white space aside) or, without a key, by a passage of its document whose
heading is one of its `articles`."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, Q, QuerySet, When
from django.utils.translation import gettext as _

from knowledge import associations
from knowledge.errors import KnowledgeErrorCode
from knowledge.models import (
    AccuracyRun,
    AskedQuestion,
    Document,
    DocumentStatus,
    QuestionSet,
    QuestionSource,
    RunResult,
    Segment,
    SetQuestion,
    Verdict,
)
from knowledge.models.accuracy import VERDICT_SCORE
from knowledge.retrieval import MAX_QUESTION_CHARS, Passage, QueryError, search
from knowledge.services.curation import KnowledgeError
from portal import audit, jobs, permissions
from portal.audit import AuditOrigin
from portal.models import AuditAction, User
from portal.permissions import Perm

K = 3  # the page's hit@k
MAX_QUESTIONS = 10_000  # per set: a run of them takes minutes, not hours
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_REPORTED = 50  # error lines shown of a refused file
BATCH = 100  # questions scored between two progress updates (the job's heartbeat)
RUN_TIME_LIMIT = 3600  # seconds: MAX_QUESTIONS at a few tens of milliseconds each, and margin
NO_CATEGORY = "未分类"
SHOULD_ABSTAIN = "应拒答"


class AccuracyError(KnowledgeError):
    code = KnowledgeErrorCode.QUESTION_SET_ERROR


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One question as scoring sees it."""

    question: str
    answerable: bool
    answer_key: str = ""
    document_id: int | None = None
    articles: tuple[str, ...] = ()
    ident: str = ""
    category: str = ""


@dataclass(frozen=True)
class Line:
    """A parsed line of a question file, before its law is looked up."""

    number: int
    ident: str
    question: str
    answerable: bool
    law: str
    articles: tuple[str, ...]
    answer_key: str
    category: str


@dataclass
class Parsed:
    lines: list[Line] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _text(item: dict[str, Any], key: str, limit: int) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ValueError(_("“%(key)s”应为文字") % {"key": key})
    text = str(value).strip()
    if len(text) > limit:
        raise ValueError(_("“%(key)s”超过 %(n)d 字") % {"key": key, "n": limit})
    return text


def _line(number: int, raw: str) -> Line:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        # Python's own message is English (Expecting property name…): the column tells where.
        raise ValueError(
            _("不是有效的 JSON（第 %(column)d 个字符附近有误，请检查引号、逗号和括号）")
            % {"column": exc.colno}
        ) from exc
    if not isinstance(item, dict):
        raise ValueError(_("每行应是一个 JSON 对象"))
    question = _text(item, "question", MAX_QUESTION_CHARS)
    if not question:
        raise ValueError(_("缺少“question”"))
    articles = item.get("articles") or []
    if isinstance(articles, str):
        articles = [articles]
    if not isinstance(articles, list) or not all(isinstance(a, str) for a in articles):
        raise ValueError(_("“articles”应为条目名称的列表"))
    answer_key = _text(item, "answer_key", 300)
    # Without "answerable": a question naming what answers it is answerable.
    answerable = item.get("answerable", bool(answer_key or articles))
    if not isinstance(answerable, bool):
        raise ValueError(_("“answerable”应为 true 或 false"))
    return Line(
        number=number,
        ident=_text(item, "id", 40),
        question=question,
        answerable=answerable,
        law=_text(item, "law", 300),
        articles=tuple(a.strip()[:100] for a in articles if a.strip()),
        answer_key=answer_key,
        category=_text(item, "category", 50),
    )


def parse_questions(text: str) -> Parsed:
    """Every line of a JSONL question file, or the reason each bad line is bad (by number).
    Blank lines are skipped."""
    parsed = Parsed()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            parsed.lines.append(_line(number, raw))
        except ValueError as exc:
            parsed.errors.append((number, str(exc)))
    return parsed


def find_documents(laws: Iterable[str]) -> dict[str, Document]:
    """The documents the file's `law` values name: their source path (as `import_corpus`
    records it), their file name or their title."""
    names = {law for law in laws if law}
    if not names:
        return {}
    found: dict[str, Document] = {}
    documents = Document.objects.filter(
        Q(source__in=names)
        | Q(origin__in=[f"corpus:{n}" for n in names])
        | Q(original_name__in=names)
        | Q(title__in=names)
    ).only("id", "title", "source", "origin", "original_name", "status")
    # Two documents of one name (a Word and a PDF of the same rules): the published one, then
    # the newest, is the one the questions mean.
    published_first = SqlCase(When(status=DocumentStatus.PUBLISHED, then=0), default=1)
    for document in documents.order_by(published_first, "-id"):
        for name in (document.source, document.origin.removeprefix("corpus:"), document.title):
            if name in names:
                found.setdefault(name, document)
        if document.original_name in names:
            found.setdefault(document.original_name, document)
    return found


def headings_of(document_ids: Iterable[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for document_id, heading in Segment.objects.filter(
        document_id__in=set(document_ids)
    ).values_list("document_id", "heading"):
        out[document_id].add(heading)
    return out


@dataclass
class Resolved:
    """The lines with their documents, and what could not be found (reported, not refused)."""

    cases: list[tuple[Line, Case]]
    unknown: list[tuple[int, str]]  # (line number, what is unknown)
    errors: list[tuple[int, str]]


def resolve(lines: Sequence[Line]) -> Resolved:
    documents = find_documents(line.law for line in lines)
    headings = headings_of(d.pk for d in documents.values())
    cases: list[tuple[Line, Case]] = []
    unknown: list[tuple[int, str]] = []
    errors: list[tuple[int, str]] = []
    for line in lines:
        document = documents.get(line.law)
        if line.law and document is None:
            unknown.append((line.number, _("找不到文档“%(law)s”") % {"law": line.law}))
        articles = line.articles
        if document is not None:
            missing = [a for a in articles if a not in headings[document.pk]]
            if missing:
                unknown.append(
                    (
                        line.number,
                        _("《%(title)s》中没有%(articles)s")
                        % {"title": document.title, "articles": "、".join(missing)},
                    )
                )
        if line.answerable and not line.answer_key and not (document and articles):
            errors.append((line.number, _("应能回答的问题需要“answer_key”或能找到的文档和条目")))
            continue
        cases.append(
            (
                line,
                Case(
                    question=line.question,
                    answerable=line.answerable,
                    answer_key=line.answer_key,
                    document_id=document.pk if document else None,
                    articles=articles,
                    ident=line.ident,
                    category=line.category,
                ),
            )
        )
    return Resolved(cases, unknown, errors)


# --- scoring ---------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def answers(case: Case, passage: Passage) -> bool:
    """Whether the passage answers the question: its key phrase is in the passage, or (with no
    key) the passage is one of the question's articles."""
    if case.answer_key:
        return _squash(case.answer_key) in _squash(passage.text)
    return passage.document_id == case.document_id and passage.heading in case.articles


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    rank: int | None  # of the first answering passage (answerable questions)
    abstained: bool
    top: list[str]  # the passages' labels, best first
    elapsed_ms: float
    passage_chars: list[int]


def score(case: Case, k: int = K) -> Outcome:
    """Search the question as Ask would and judge the passages."""
    try:
        result = search(case.question, k=k)
        passages, abstained, elapsed = result.passages, result.abstained, result.elapsed_ms
    except QueryError:
        passages, abstained, elapsed = [], True, 0.0
    rank = None
    if case.answerable:
        rank = next((i for i, p in enumerate(passages, start=1) if answers(case, p)), None)
        if abstained:
            verdict = Verdict.FALSE_ABSTAIN
        elif rank == 1:
            verdict = Verdict.HIT_1
        elif rank is not None:
            verdict = Verdict.HIT_K
        else:
            verdict = Verdict.MISS
    else:
        verdict = Verdict.ABSTAINED if abstained else Verdict.ANSWERED
    return Outcome(
        verdict=verdict,
        rank=rank,
        abstained=abstained,
        top=[p.label for p in passages],
        elapsed_ms=elapsed,
        passage_chars=[len(p.text) for p in passages],
    )


ANSWERABLE = {Verdict.HIT_1, Verdict.HIT_K, Verdict.MISS, Verdict.FALSE_ABSTAIN}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def figures(
    outcomes: Iterable[tuple[str, int | None]],
    k: int = K,
    *,
    times: Sequence[float] = (),
    passage_chars: Sequence[int] = (),
) -> dict[str, Any]:
    """hit@1, hit@k, MRR, abstention recall and false abstention from (verdict, rank) pairs;
    with `times`, the search's p50 and p95. The keys are `evaluate_retrieval`'s output."""
    counted: dict[str, int] = defaultdict(int)
    reciprocal = 0.0
    for verdict, rank in outcomes:
        counted[verdict] += 1
        if verdict in (Verdict.HIT_1, Verdict.HIT_K, Verdict.MISS) and rank:
            reciprocal += 1 / rank
    answerable = sum(counted[v] for v in ANSWERABLE)
    total = sum(counted.values())
    unanswerable = total - answerable
    out: dict[str, Any] = {
        "questions": total,
        "answerable": answerable,
        "hit_at_1": _ratio(counted[Verdict.HIT_1], answerable),
        f"hit_at_{k}": _ratio(counted[Verdict.HIT_1] + counted[Verdict.HIT_K], answerable),
        "mrr": round(reciprocal / answerable, 3) if answerable else None,
        "abstain_recall": _ratio(counted[Verdict.ABSTAINED], unanswerable),
        "false_abstain": _ratio(counted[Verdict.FALSE_ABSTAIN], answerable),
    }
    if times:
        ordered = sorted(times)
        out["p50_ms"] = round(statistics.median(ordered), 1)
        out["p95_ms"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1)
        out["mean_passage_chars"] = (
            round(statistics.fmean(passage_chars), 1) if passage_chars else 0
        )
    return out


# --- question sets ---------------------------------------------------------------------------


def check_may_edit(user: User) -> None:
    permissions.require(user, Perm.CURATE_KNOWLEDGE)


def sets_for_list() -> QuerySet[QuestionSet]:
    """Sets with their question count, by name."""
    return QuestionSet.objects.annotate(n_questions=Count("questions")).order_by("name")


@dataclass
class ImportReport:
    question_set: QuestionSet
    imported: int
    unknown: list[tuple[int, str]]


def _refuse_lines(errors: list[tuple[int, str]]) -> AccuracyError:
    shown = "；".join(
        _("第 %(line)d 行：%(reason)s") % {"line": n, "reason": reason}
        for n, reason in errors[:MAX_REPORTED]
    )
    more = len(errors) - MAX_REPORTED
    tail = _("（另有 %(n)d 行有误）") % {"n": more} if more > 0 else ""
    error = AccuracyError(
        _("文件有 %(n)d 行无法导入，未导入任何问题。%(lines)s%(tail)s")
        % {"n": len(errors), "lines": shown, "tail": tail},
        code=KnowledgeErrorCode.BAD_QUESTION_FILE,
    )
    error.lines = errors  # type: ignore[attr-defined]
    return error


def decode_upload(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise AccuracyError(
            _("文件超过 %(mb)d MB。") % {"mb": MAX_FILE_BYTES // (1024 * 1024)},
            code=KnowledgeErrorCode.QUESTION_SET_TOO_LARGE,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AccuracyError(
            _("文件不是 UTF-8 编码的文本。"), code=KnowledgeErrorCode.BAD_QUESTION_FILE
        ) from exc


def _too_many(total: int) -> AccuracyError:
    return AccuracyError(
        _("一个问题集最多 %(max)d 个问题，这次导入后会有 %(n)d 个。")
        % {"max": MAX_QUESTIONS, "n": total},
        code=KnowledgeErrorCode.QUESTION_SET_TOO_LARGE,
    )


def create_set(editor: User, name: str) -> QuestionSet:
    """An empty set, to be filled from the analytics lists (加入测试集) or by a file later."""
    check_may_edit(editor)
    with transaction.atomic():
        return _new_set(editor, name)


def _new_set(editor: User, name: str) -> QuestionSet:
    name = name.strip()[:100]
    if not name:
        raise AccuracyError(_("请给问题集起个名称。"), code=KnowledgeErrorCode.QUESTION_SET_ERROR)
    try:
        with transaction.atomic():  # a savepoint: the name is unique, taken before or meanwhile
            return QuestionSet.objects.create(name=name, created_by=editor)
    except IntegrityError:
        raise AccuracyError(
            _("已有名为“%(name)s”的问题集。") % {"name": name},
            code=KnowledgeErrorCode.QUESTION_SET_ERROR,
        ) from None


def import_questions(
    editor: User, *, text: str, name: str = "", question_set: QuestionSet | None = None
) -> ImportReport:
    """Add a JSONL file's questions to a set (a new one named `name` when none is given). All
    or nothing: a file with any bad line imports no question, and says which lines are bad."""
    check_may_edit(editor)
    parsed = parse_questions(text)
    if len(parsed.lines) + len(parsed.errors) > MAX_QUESTIONS:
        raise _too_many(len(parsed.lines) + len(parsed.errors))
    resolved = resolve(parsed.lines)
    errors = sorted(parsed.errors + resolved.errors)
    if errors:
        raise _refuse_lines(errors)
    if not resolved.cases:
        raise AccuracyError(_("文件里没有问题。"), code=KnowledgeErrorCode.BAD_QUESTION_FILE)
    with transaction.atomic():
        if question_set is None:
            question_set = _new_set(editor, name)
        else:
            question_set = QuestionSet.objects.select_for_update().get(pk=question_set.pk)
            total = question_set.questions.count() + len(resolved.cases)
            if total > MAX_QUESTIONS:
                raise _too_many(total)
        SetQuestion.objects.bulk_create(
            [
                SetQuestion(
                    question_set=question_set,
                    ident=line.ident,
                    text=line.question,
                    answerable=case.answerable,
                    law=line.law,
                    document_id=case.document_id,
                    articles=list(case.articles),
                    answer_key=case.answer_key,
                    category=case.category,
                    source=QuestionSource.IMPORT,
                )
                for line, case in resolved.cases
            ],
            batch_size=1000,
        )
    return ImportReport(question_set, len(resolved.cases), resolved.unknown)


def add_from_question(
    editor: User,
    question_set: QuestionSet,
    asked: AskedQuestion,
    *,
    segment: Segment | None,
) -> SetQuestion:
    """A member's question from the analytics lists, with the article that answers it, or
    (no segment) as a question the knowledge base should not answer."""
    check_may_edit(editor)
    with transaction.atomic():
        locked = QuestionSet.objects.select_for_update().get(pk=question_set.pk)
        if locked.questions.count() >= MAX_QUESTIONS:
            raise _too_many(MAX_QUESTIONS + 1)
        document = segment.document if segment is not None else None
        return SetQuestion.objects.create(
            question_set=locked,
            text=asked.text[:600],
            answerable=segment is not None,
            law=document.title if document else "",
            document=document,
            articles=[segment.heading] if segment is not None and segment.heading else [],
            # A segment without a heading is named by its opening words instead.
            answer_key="" if segment is None or segment.heading else _squash(segment.text)[:40],
            category=asked.category.name if asked.category_id and asked.category else "",
            source=QuestionSource.ANALYTICS,
            asked=asked,
        )


def delete_set(
    editor: User, question_set: QuestionSet, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Delete a set with its questions and run history, recorded in the audit log."""
    check_may_edit(editor)
    with transaction.atomic():
        audit.record(
            AuditAction.QUESTION_SET_DELETED,
            actor=editor,
            target=question_set.name,
            detail={"id": question_set.pk, "questions": question_set.questions.count()},
            origin=origin,
        )
        question_set.delete()


# --- runs ------------------------------------------------------------------------------------


def start_run(editor: User, question_set: QuestionSet) -> AccuracyRun:
    """Queue a run of the set; one at a time per set."""
    from knowledge import tasks

    check_may_edit(editor)
    with transaction.atomic():
        locked = QuestionSet.objects.select_for_update().get(pk=question_set.pk)
        if locked.runs.filter(status__in=jobs.ACTIVE).exists():
            raise AccuracyError(
                _("这个问题集正在测试，请等它完成。"), code=KnowledgeErrorCode.RUN_ACTIVE
            )
        total = locked.questions.count()
        if not total:
            raise AccuracyError(_("问题集里还没有问题。"), code=KnowledgeErrorCode.EMPTY_SET)
        run = AccuracyRun.objects.create(question_set=locked, started_by=editor, total=total)
        jobs.enqueue(cast(jobs.Task, tasks.run_accuracy), run.pk)
    return run


def _case(question: SetQuestion) -> Case:
    return Case(
        question=question.text,
        answerable=question.answerable,
        answer_key=question.answer_key,
        document_id=question.document_id,
        articles=tuple(question.articles),
        ident=question.ident,
        category=question.category,
    )


def _categories(questions: Sequence[SetQuestion]) -> dict[int, str]:
    """Each question's category: its own, else its document's, else 应拒答 / 未分类."""
    names = dict(
        Document.objects.filter(
            pk__in={q.document_id for q in questions if q.document_id}
        ).values_list("pk", "category__name")
    )
    out = {}
    for q in questions:
        fallback = NO_CATEGORY if q.answerable else SHOULD_ABSTAIN
        out[q.pk] = q.category or names.get(q.document_id or 0) or fallback
    return out


def _batches(run: AccuracyRun) -> Iterator[list[SetQuestion]]:
    questions = SetQuestion.objects.filter(question_set_id=run.question_set_id).order_by("id")
    last = 0
    while batch := list(questions.filter(id__gt=last)[:BATCH]):
        yield batch
        last = batch[-1].pk


def execute_run(run_id: int) -> bool:
    """Score every question of the run's set, saving progress after each batch. Safe to run
    twice: a run is claimed once, and a run put back by the sweep starts over."""
    token = jobs.claim(AccuracyRun, run_id)
    if token is None:
        return False
    run = AccuracyRun.objects.select_related("started_by").get(pk=run_id)
    if refused := jobs.refusal(run.started_by, Perm.CURATE_KNOWLEDGE):
        jobs.fail(AccuracyRun, run_id, token, refused, "refused: may no longer curate")
        return False
    RunResult.objects.filter(run=run).delete()
    times: list[float] = []
    chars: list[int] = []
    done = 0
    try:
        associations.settle()  # the FAQ as they stand now, from the first question on
        for batch in _batches(run):
            categories = _categories(batch)
            rows = []
            for question in batch:
                outcome = score(_case(question))
                times.append(outcome.elapsed_ms)
                chars.extend(outcome.passage_chars)
                rows.append(
                    RunResult(
                        run=run,
                        question=question,
                        text=question.text,
                        category=categories[question.pk],
                        verdict=outcome.verdict,
                        rank=outcome.rank,
                        top=outcome.top,
                    )
                )
            done += len(rows)
            with transaction.atomic():
                RunResult.objects.bulk_create(rows)
                if not jobs.touch(AccuracyRun, run_id, token, done=done):
                    transaction.set_rollback(True)
                    return False  # cancelled or swept away meanwhile
        results = list(RunResult.objects.filter(run=run).values_list("category", "verdict", "rank"))
        by_category: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
        for category, verdict, rank in results:
            by_category[category].append((verdict, rank))
        summary = figures([(v, r) for _c, v, r in results], times=times, passage_chars=chars)
        return jobs.finish(
            AccuracyRun,
            run_id,
            token,
            total=done,
            done=done,
            figures=summary,
            by_category={name: figures(rows) for name, rows in sorted(by_category.items())},
        )
    except Exception as exc:
        jobs.fail(AccuracyRun, run_id, token, _("测试出错，请重新运行。"), detail=repr(exc))
        raise


def sweep_runs() -> jobs.Swept:
    from knowledge import tasks

    return jobs.sweep(
        AccuracyRun,
        cast(jobs.Task, tasks.run_accuracy),
        stale_after=timedelta(minutes=5),
        unclaimed_after=timedelta(minutes=10),
        max_attempts=3,
        give_up=_("测试多次中断，请重新运行。"),
    )


# --- comparing runs --------------------------------------------------------------------------


def previous_run(run: AccuracyRun) -> AccuracyRun | None:
    return (
        AccuracyRun.objects.filter(
            question_set_id=run.question_set_id,
            status=jobs.JobStatus.SUCCEEDED,
            id__lt=run.pk,
        )
        .order_by("-id")
        .first()
    )


@dataclass(frozen=True)
class Change:
    question_id: int
    text: str
    category: str
    before: Verdict
    after: Verdict
    top: list[str]

    @property
    def direction(self) -> str:
        """ "fixed", "regressed", or "changed" (another way of being wrong)."""
        gain = VERDICT_SCORE[self.after] - VERDICT_SCORE[self.before]
        return "fixed" if gain > 0 else "regressed" if gain < 0 else "changed"

    @property
    def before_label(self) -> str:
        return str(self.before.label)

    @property
    def after_label(self) -> str:
        return str(self.after.label)


def changes(run: AccuracyRun) -> tuple[AccuracyRun | None, list[Change]]:
    """The questions whose verdict differs from the previous finished run of the same set:
    regressions first. Questions added or removed in between are not changes."""
    before_run = previous_run(run)
    if before_run is None:
        return None, []
    before = dict(
        RunResult.objects.filter(run=before_run, question__isnull=False).values_list(
            "question_id", "verdict"
        )
    )
    out = []
    for question_id, text, category, verdict, top in RunResult.objects.filter(
        run=run, question_id__in=list(before)
    ).values_list("question_id", "text", "category", "verdict", "top"):
        if before[question_id] != verdict:
            out.append(
                Change(
                    question_id, text, category, Verdict(before[question_id]), Verdict(verdict), top
                )
            )
    order = {"regressed": 0, "changed": 1, "fixed": 2}
    out.sort(key=lambda c: (order[c.direction], c.question_id))
    return before_run, out
