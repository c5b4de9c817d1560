"""Retrieval: one `search()` for Ask, Write, retrieval testing and evaluation.

A haystack pipeline of our own components: analyse the question (segmentation, lexicon
expansion, optional rewording by a chat model) → BM25 over the database index, FAQ match and
optional embedding retrieval → fuse and rank the candidates → decide whether the knowledge base
answers the question at all. DEVELOPERS.md explains the choices.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import re
import string
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, ItemsView, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from django.utils.translation import gettext as _
from haystack import Pipeline, component

from knowledge import associations, embedding, faqmatch, memindex, precedence, versions
from knowledge import lexicon as lexicon_module
from knowledge.errors import KnowledgeErrorCode
from knowledge.models import (
    DocumentKind,
    DocumentStatus,
    LexiconKind,
    Posting,
    Segment,
    SegmentTerms,
)
from knowledge.text import (
    CHARACTER,
    EVERYDAY_FREQ,
    HAN_RUN,
    characters,
    normalise,
    segmenter,
)
from portal import ai
from portal.compiled import bind, marked_slots
from portal.errors import PortalError
from portal.models import User
from portal.privacy import mask_personal_numbers

if TYPE_CHECKING:
    from knowledge.citing import FaqAnswer

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
K1 = 1.2
# Length normalisation near full: a long article (a list of ten duties) holds the question's
# words among many other matters, a short one is about them. Measured against 0.75 on the
# development sets: hit@1 up on seven of ten, down on three by one question each.
B = 0.9
EXPANSION_WEIGHT = 0.5
# Each Chinese character of the question, as an index term of its own, weighs as a word: plain
# BM25 over characters finds what segmentation misses in a document nobody wrote a lexicon or
# FAQ for (colloquial 干活 for 工作, a name jieba splits its own way).
CHARACTER_WEIGHT = 1.0
FAQ_WEIGHT = 1.0
FAQ_MIN_SIMILARITY = 0.3
# An entry that does not name the question's key concept (律师 in 律师必须做法律援助吗, against
# an entry on wage claims that mentions 法律援助) counts this share of its likeness bonus.
FAQ_OFF_KEY = 0.5
# An FAQ entry this much like the question vouches for the article it cites: its key concept
# need not be in the article's own words.
FAQ_VOUCHES = 0.6
WORDING_WEIGHT = 1.0
WORDING_MIN = 0.5
WORDING_POWER = 2.0
# An article's own words' share of the question, squared, re-ranks like FAQ wording at this weight.
OWN_WORDING_WEIGHT = 0.3
POSTINGS_BUDGET = 10_000
EMBEDDING_WEIGHT = 0.5
EMBEDDING_MARGIN = 0.25
CANDIDATES = 60
# A question that asks for a figure (罚多少钱, 几天) prefers, by this much of the best score, the
# passages that give one: of two articles on the fine for child labour, the one with the sum.
FIGURE_BONUS = 0.2
# A question that asks who must prove, who pays, which body decides, a time limit or where
# prefers, by this much of the best score, the passages that say it the way laws do
# (`_KINDS_ASKED`), as a question asking for a figure prefers those that give one.
KIND_BONUS = 0.2
# A passage of a document whose title names the question's key concept (禁止使用童工规定 for a
# question about 童工): the document about that very matter, FAQ or not.
TITLE_BONUS = 0.1
# A guide or a news item explains or reports rules; the rule's own text answers. A guide's or a
# news item's passages go down by this much of the best score (down, not the rules up: a base
# without guides keeps its scores, and with them the ratios precedence and Ask's quotes read).
GUIDES_AFTER = 0.3
SECONDARY_KINDS = frozenset({DocumentKind.GUIDE, DocumentKind.NEWS})
# How probable the question is as a translation of a passage (the FAQ's translation model,
# `associations.translate`), in standard deviations from the candidates' mean, moves it by this
# much of the best score; the question's words are translated from the passage's words with
# TRANSLATED_SHARE of the probability (the rest: said as written), and the index as a whole
# smooths by SMOOTHING.
TRANSLATION_WEIGHT = 0.2
TRANSLATED_SHARE = 0.5
SMOOTHING = 0.2
MIN_SPREAD = 0.1  # of the candidates' log-probabilities (natural log), below which none moves
# Abstain when none of the first ABSTAIN_DEPTH passages covers this share of the question's
# weight (idf of its words).
MIN_COVERAGE = 0.12
# Below this coverage, a key concept that is nowhere in the passages means "not covered".
WEAK_COVERAGE = 0.3
STORY_COVERAGE = 0.5
FOREIGN_NAME_CHARS = 3  # see _foreign_name()
COMMON_IDF = 2.0  # a word in about one passage in eight or more is the documents' common word
ABSTAIN_DEPTH = 3


T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class QueryError(PortalError):
    code = KnowledgeErrorCode.BAD_QUESTION


@dataclass
class Concept:
    """One word of the question and the index terms that count as finding it."""

    word: str
    terms: set[str]
    idf: float = 0.0
    known: bool = False  # whether the index has the word itself
    # The words that name the same thing, as the key concept must be named: the word, and
    # what the lexicon says it means, but not a part of it (产假 does not name 陪产假) nor a
    # learned association (those are related words, not the same thing).
    same: set[str] = field(default_factory=set)
    # What the lexicon maps it to in several words (陪产假 => 休息休假 配偶 生育): together they
    # name it; one of them alone (生育) is about something else.
    together: list[frozenset[str]] = field(default_factory=list)
    # Whether the word crosses another dictionary word of the question (在家养着: 家养 across
    # 在家): the segmenter's artefact, not a thing the worker named.
    straddles: bool = False


class ByReference:
    """Pipeline.run deep-copies every input and output, to shield callers from components
    that change what they are given; it walks dictionaries item by item. Our components pass
    their results on and never change their inputs, and the copying cost a third of a search
    (bench/ask_load.py), so our data travels by reference."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


class SharedList(ByReference, Sequence[T]):
    """A list passed between components by reference (haystack copies a list item by item,
    with a slow protocol check on each: the FAQ hits cost a fifth of a search)."""

    def __init__(self, items: list[T]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)


class SharedMapping(ByReference, Mapping[K, V]):
    """A dictionary passed between components by reference (see SharedList)."""

    def __init__(self, data: dict[K, V]) -> None:
        self._data = data

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def items(self) -> ItemsView[K, V]:
        return self._data.items()


@dataclass(frozen=True)
class Asker(ByReference):
    """Who asks (model calls made on the way are metered to them), by reference: haystack
    deep-copied the User, its state and cached relations, into each component it reached."""

    user: User | None = None


NOBODY = Asker()


@dataclass
class Candidates(ByReference):
    scores: dict[int, float]  # segment → BM25
    matched: dict[int, set[str]]  # segment → the question's terms it contains
    # The candidates' rows as the ranker reads them, when read with their postings
    # (`_read_candidates`): answerable today in any category, None for a segment that is not.
    rows: dict[int, CandidateRow | None] = field(default_factory=dict)
    # segment → log-probability of the question as a translation of it (`_translated`)
    translated: dict[int, float] = field(default_factory=dict)


@dataclass
class Analysis(ByReference):
    question: str
    tokens: list[str]
    weights: dict[str, float]  # index term → query weight
    concepts: list[Concept]
    expansions: list[lexicon_module.Expansion]
    idf: dict[str, float] = field(default_factory=dict)
    user: User | None = None
    key: Concept | None = None  # the specific thing asked about (set by the ranker)
    # The FAQ index, looked up once per search (each lookup asks the database for changes).
    faq: faqmatch.FaqIndex = field(default_factory=faqmatch.FaqIndex)
    # Whether the base has a lexicon and no phrase of it is in the question: not one word the
    # editors mapped (上班, 老板, 社保…) — the question may be about something else entirely.
    unmapped: bool = False


@dataclass
class Passage:
    segment_id: int
    document_id: int
    title: str
    heading: str
    context: str
    text: str
    score: float
    coverage: float
    matched: list[str]
    category: str
    authority: str = ""  # the document's level and date, for precedence on near ties
    dated: date | None = None
    # The document's category as read with the passage (Ask files its question under it).
    category_id: int | None = None
    document_kind: str = ""  # a guide's or a news item's passages come after the rules'

    @property
    def label(self) -> str:
        return f"《{self.title}》{self.heading}".strip()

    @property
    def words(self) -> list[str]:
        """The question's words the passage holds: `matched` without the single characters it
        was also searched by ("@工"), which are retrieval's business and mean nothing to an
        editor or an API client."""
        return [t for t in self.matched if not t.startswith(CHARACTER)]

    @classmethod
    def of(
        cls,
        seg: Segment,
        *,
        score: float = 0.0,
        coverage: float = 0.0,
        matched: list[str] | None = None,
    ) -> Passage:
        """The passage of a segment loaded with its document and the document's category."""
        doc = seg.document
        row = CandidateRow(
            seg.id,
            seg.document_id,
            seg.heading,
            seg.context,
            seg.text,
            doc.title,
            doc.category.name,
            doc.authority,
            doc.promulgated_on,
            doc.category_id,
            doc.kind,
        )
        return cls.of_row(row, score=score, coverage=coverage, matched=matched or [])

    @classmethod
    def of_row(
        cls, row: CandidateRow, *, score: float, coverage: float, matched: list[str]
    ) -> Passage:
        """The passage of a candidate as the ranker read it (`candidate_rows`)."""
        return cls(
            segment_id=row.id,
            document_id=row.document_id,
            title=row.title,
            heading=row.heading,
            context=row.context,
            text=row.text,
            score=score,
            coverage=coverage,
            matched=matched,
            category=row.category,
            authority=row.authority,
            dated=row.dated,
            category_id=row.category_id,
            document_kind=row.document_kind,
        )


class CandidateRow(NamedTuple):
    """What the ranker reads of a candidate segment (`candidate_rows`)."""

    id: int
    document_id: int
    heading: str
    context: str
    text: str
    title: str
    category: str
    authority: str
    dated: date | None
    category_id: int | None
    document_kind: str


_CANDIDATE_FIELDS = (
    "id",
    "document_id",
    "heading",
    "context",
    "text",
    "document__title",
    "document__category__name",
    "document__authority",
    "document__promulgated_on",
    "document__category_id",
    "document__kind",
)


@dataclass(frozen=True)
class _CompiledRows:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where the segment ids go among the params
    compiler: SQLCompiler  # its converters turn the rows into Python values
    # PostgreSQL: the statement as psycopg's client-side binding writes it, cut where the
    # segment ids go. psycopg parses and caches a statement of at most 50 parameters; the 60
    # candidates' SQL it parsed again for every search (1 ms of CPU, most of the query's).
    pieces: tuple[str, ...] | None = None

    def statement(self, segment_ids: list[int]) -> tuple[str, list[Any] | None]:
        """The SQL and parameters that read these segments (the same text PostgreSQL gets)."""
        if self.pieces is not None:
            # Integers written as psycopg writes a non-negative int: its decimal digits.
            ids = [str(int(segment_id)) for segment_id in segment_ids]
            return "".join(
                x for pair in zip(self.pieces, [*ids, ""], strict=True) for x in pair
            ), None
        return self.sql, bind(self.params, self.slots, segment_ids)

    def rows(self, raw: list[Sequence[Any]]) -> list[CandidateRow]:
        """The statement's rows as Python values (the compiler's converters)."""
        return [
            CandidateRow(*row)
            for row in self.compiler.results_iter(results=[raw], tuple_expected=True)
        ]


_compiled_rows: dict[tuple[object, ...], _CompiledRows] = {}
_COMPILED_KEPT = 512


def candidate_rows(
    segment_ids: list[int],
    categories: list[str] | None,
    read: Mapping[int, CandidateRow | None] | None = None,
) -> list[CandidateRow]:
    """The candidates that are retrievable today (within `categories` when given), read as
    plain values: building model instances cost more than the query. The query is
    answerable_segments()'s, compiled once per day, categories and number of ids (building
    and compiling it cost as much as running it). `read`: rows already read for some of the
    ids (`Candidates.rows`, in any category); only the others are read here."""
    rows: list[CandidateRow] = []
    if read:
        rows = [row for s in segment_ids if s in read and (row := read[s]) is not None]
        segment_ids = [s for s in segment_ids if s not in read]
    if not segment_ids:
        return rows
    if not categories and (kept := kept_rows()) is not None:
        return rows + [row for s in segment_ids if (row := kept.get(s)) is not None]
    compiled = _compiled(len(segment_ids), categories)
    sql, params = compiled.statement(segment_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return rows + compiled.rows(cursor.fetchall())


_kept: tuple[tuple[object, ...], dict[int, CandidateRow] | None] | None = None
_kept_lock = threading.Lock()


def kept_rows() -> dict[int, CandidateRow] | None:
    """With a small index (`memindex`'s limit), every segment retrievable today as the ranker
    reads it, kept in process memory: a search then reads no candidate from the database.
    Read again when the index (a category's rename writes it too) or a document changes
    (`versions`), or the day does (documents come into force and expire by date); None above
    the limit."""
    global _kept
    now = versions.read()
    if now.segments > memindex.limit():
        _kept = None
        return None
    database = (connection.alias, connection.settings_dict["NAME"])
    key: tuple[object, ...] = (*database, now.index, now.documents, timezone.localdate())
    kept = _kept
    if kept is not None and kept[0] == key:
        return kept[1]
    with _kept_lock:
        if _kept is None or _kept[0] != key:
            # The versions were read first: a change committed in between makes the next
            # search read again, never keeps newer rows under older versions.
            limit = memindex.limit()
            rows = passage_rows(answerable_segments().order_by("id")[: limit + 1])
            # More than the index's statistics said (they are missing or behind): read per search.
            _kept = (key, {row.id: row for row in rows} if len(rows) <= limit else None)
        return _kept[1]


def _compiled(count: int, categories: list[str] | None) -> _CompiledRows:
    """candidate_rows()'s statement for `count` ids (compiled once per day)."""
    key = (connection.vendor, timezone.localdate(), tuple(categories or ()), count)
    compiled = _compiled_rows.get(key)
    if compiled is None:
        compiled = _compile_rows(count, categories)
        if len(_compiled_rows) >= _COMPILED_KEPT:
            _compiled_rows.clear()
        _compiled_rows[key] = compiled
    return compiled


def passage_rows(segments: QuerySet[Segment]) -> list[CandidateRow]:
    """These segments as the ranker reads its candidates (values: no document body)."""
    return [CandidateRow(*row) for row in segments.values_list(*_CANDIDATE_FIELDS)]


def _compile_rows(count: int, categories: list[str] | None) -> _CompiledRows:
    marks = [-1 - i for i in range(count)]  # ids no segment has, replaced by the real ones
    queryset = (
        answerable_segments()
        .filter(id__in=marks)
        .filter(Q(document__category__slug__in=categories) if categories else Q())
        # Never the documents' bodies: a law's full text for every candidate would cost more
        # than the whole search.
        .values_list(*_CANDIDATE_FIELDS)
    )
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    slots = marked_slots(params, marks)
    return _CompiledRows(sql, tuple(params), slots, compiler, _pieces(sql, params, slots))


# Ids no segment has and no other literal of the statement spells: where the ids go.
_ID_MARK = 9_111_000_000_000_000_000


def _pieces(sql: str, params: list[Any], slots: tuple[int, ...]) -> tuple[str, ...] | None:
    """The statement as PostgreSQL receives it (psycopg's client-side binding, as Django runs
    it), cut at the segment ids; None elsewhere (SQLite binds its parameters itself)."""
    binds_on_server = connection.settings_dict["OPTIONS"].get("server_side_binding") is True
    if connection.vendor != "postgresql" or binds_on_server:
        return None
    marked = list(params)
    for n, slot in enumerate(slots):
        marked[slot] = _ID_MARK + n
    text = connection.ops.compose_sql(sql, marked)  # type: ignore[attr-defined]  # PostgreSQL's
    pieces = re.split(r"\b9111\d{15}\b", text)
    found = [int(m) - _ID_MARK for m in re.findall(r"\b9111\d{15}\b", text)]
    if found != list(range(len(slots))):
        return None  # the ids are not written once each, in order: bind them as parameters
    return tuple(pieces)


@dataclass
class SearchResult:
    question: str
    passages: list[Passage]
    abstained: bool
    analysis: Analysis
    elapsed_ms: float
    faq_hits: list[faqmatch.FaqHit] = field(default_factory=list)
    coverage: float = 0.0  # the best share of the question's weight a shown passage covers
    missed_key: bool = False  # abstained because no passage answers the key concept
    # The published FAQ entry that answers the question by itself (`citing.faq_answer`): its
    # articles lead the passages, and the question is answered.
    faq: FaqAnswer | None = None
    # The first passages by the question's own words, FAQ aside (segment ids).
    unaided: frozenset[int] = frozenset()

    @property
    def concept(self) -> str:
        """What the question asks about (its key concept), for analytics."""
        return self.analysis.key.word if self.analysis.key is not None else ""

    @property
    def top(self) -> Passage | None:
        return self.passages[0] if self.passages else None


def _idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def check_question(question: str) -> str:
    text = normalise(question or "")
    if not text:
        raise QueryError(_("请输入问题。"), code=KnowledgeErrorCode.EMPTY_QUESTION)
    if len(text) > MAX_QUESTION_CHARS:
        raise QueryError(
            _("问题太长了（%(n)d 字），请精简到 %(max)d 字以内。")
            % {"n": len(text), "max": MAX_QUESTION_CHARS},
            code=KnowledgeErrorCode.QUESTION_TOO_LONG,
        )
    if not segmenter.words(text):
        raise QueryError(
            _("没有看懂这个问题，请用文字描述您想了解的事情。"), code=KnowledgeErrorCode.NO_WORDS
        )
    return text


REWRITE = "rewrite"
REWRITE_PROMPT = (
    "你是工会法律知识库的检索助手。把职工用口语提出的问题改写成法律条文里会用的正式说法"
    "（例如 老板→用人单位，社保→社会保险费，被炒→解除劳动合同），只输出一行改写后的问题，"
    "不要回答问题，不要解释。"
)


def _rewrite(question: str, user: User | None) -> list[lexicon_module.Expansion]:
    """With KNOWLEDGE_QUERY_REWRITE on and a chat model for Ask: the model's formal wording of
    the question, as extra words to search for. Skipped when no model answers."""
    if not settings.KNOWLEDGE_QUERY_REWRITE or not ai.has_models("ask"):
        return []
    try:
        answer = ai.chat(
            [{"role": "system", "content": REWRITE_PROMPT}, {"role": "user", "content": question}],
            feature="ask",
            user=user,
            temperature=0.0,
            max_tokens=80,
        )
    except ai.AIError as exc:
        logger.warning("query rewriting skipped: %s", exc.detail or exc.message)
        return []
    rewritten = normalise(answer.text.splitlines()[0] if answer.text.strip() else "")[:200]
    return [
        lexicon_module.Expansion(phrase=question, target=word, kind=REWRITE)
        for word in dict.fromkeys(segmenter.words(rewritten))
    ]


LEARNED = "learned"
# Expansions searched for that do not count as finding the question's word (coverage).
NOT_EVIDENCE = frozenset({REWRITE, LEARNED})
_SAME_KINDS = frozenset({LexiconKind.SYNONYM, LexiconKind.COLLOQUIAL})


def _learned(tokens: list[str], faq: faqmatch.FaqIndex) -> list[lexicon_module.Expansion]:
    """The article words that the FAQ taught us the question's words stand for."""
    return [
        lexicon_module.Expansion(a.word, a.target, LEARNED, a.confidence)
        for a in associations.expand(tokens, faq)
    ]


@component
class QuestionAnalyser:
    """Segments the question with the lexicon and adds the words its phrases stand for."""

    @component.output_types(analysis=Analysis)
    def run(self, question: str, asker: Asker = NOBODY) -> dict[str, Any]:
        user = asker.user
        text = check_question(question)
        lex = lexicon_module.current()
        faq = faqmatch.current()
        tokens = segmenter.tokens(text)
        words = segmenter.words(text)
        expansions = lex.expand(text, tokens) + _learned(tokens, faq) + _rewrite(text, user)
        weights: dict[str, float] = dict.fromkeys(tokens, 1.0)
        concepts = [
            Concept(w, {w, *segmenter.tokens(w)}, same={w}, straddles=_straddles(w, text))
            for w in dict.fromkeys(words)
        ]
        # A colloquial phrase mapped to several words is named by them together.
        mapped: dict[str, set[str]] = defaultdict(set)
        for exp in expansions:
            if exp.kind == LexiconKind.COLLOQUIAL:
                mapped[exp.phrase].add(exp.target)
        several = {phrase: frozenset(t) for phrase, t in mapped.items() if len(t) > 1}
        for exp in expansions:
            targets = segmenter.tokens(exp.target) or [exp.target]
            for term in targets:
                weights[term] = max(weights.get(term, 0.0), EXPANSION_WEIGHT * exp.weight)
            for concept in concepts:
                # The model's rewording adds words to search for, not evidence for coverage.
                if exp.kind not in NOT_EVIDENCE and (
                    concept.word in exp.phrase or exp.phrase in concept.word
                ):
                    concept.terms.update(targets)
                    # What a part of the word means is not what the word names: 工资's synonym
                    # 报酬 does not name 病假工资 (searched for, it is no evidence of it).
                    part = exp.phrase != concept.word and exp.phrase in concept.word
                    if exp.kind in _SAME_KINDS and exp.target not in concept.word and not part:
                        group = (
                            several.get(exp.phrase) if exp.kind == LexiconKind.COLLOQUIAL else None
                        )
                        if group is None:
                            concept.same.add(exp.target)
                        elif group not in concept.together:
                            concept.together.append(group)
        for term in characters(text):
            weights.setdefault(term, CHARACTER_WEIGHT)
        return {
            "analysis": Analysis(
                question=text,
                tokens=tokens,
                weights=weights,
                concepts=concepts,
                expansions=expansions,
                user=user,
                faq=faq,
                unmapped=bool(lex.expansions)
                and all(exp.kind in NOT_EVIDENCE for exp in expansions),
            )
        }


@component
class KeywordRetriever:
    """BM25 over the postings: the database sums each candidate's score from the posting lists
    of the question's terms and returns the best candidates."""

    @component.output_types(analysis=Analysis, candidates=Candidates)
    def run(self, analysis: Analysis, top_k: int = CANDIDATES) -> dict[str, Any]:
        memory = memindex.current()
        stats = versions.read()
        n = stats.segments
        short = _short_forms(analysis)
        translation = _translation(analysis)
        # The terms that may be long forms, and the words the question's may be translations
        # of, are read with the question's own (one query).
        terms, dfs = memindex.index_terms(
            [*analysis.weights, *translation.sources],
            memory,
            starting={word[0] for word, _ in short},
        )
        sources = {w: terms.pop(w) for w in list(terms) if w not in analysis.weights}
        _add_long_forms(analysis, short, terms, dfs, memory)
        missing_idf = _idf(0, max(n, 1))
        analysis.idf = {
            t: _idf(dfs[terms[t]], n) if t in terms else missing_idf for t in analysis.weights
        }
        for concept in analysis.concepts:
            # A word the index lacks weighs as a rare one: not finding it should count.
            concept.known = concept.word in terms
            concept.idf = _idf(dfs[terms[concept.word]], n) if concept.known else missing_idf
        if not terms or not n:
            return {"analysis": analysis, "candidates": Candidates({}, {})}
        avgdl = stats.terms / n if n else 1.0
        weight = {terms[t]: analysis.weights[t] * analysis.idf[t] for t in terms}
        # The rarest terms, while their posting lists stay within a budget, pick the candidates
        # (the rarest one always): the cost stops growing with the corpus, and a segment that
        # matches only common terms would not win anyway. A small corpus uses every term.
        chosen: dict[int, float] = {}
        postings = 0
        for term_id in sorted(weight, key=lambda t: dfs[t]):
            if chosen and postings + dfs[term_id] > POSTINGS_BUDGET:
                break
            chosen[term_id] = weight[term_id]
            postings += dfs[term_id]
        weight = chosen
        # Candidate order only: BM25 up to its constant factor k1 + 1.
        candidates = _top_candidates(weight, K1 * (1 - B), K1 * B / avgdl, top_k, memory)
        # Exact BM25 over the candidates, common terms included, from their postings.
        full = {terms[t]: analysis.weights[t] * analysis.idf[t] for t in terms}
        text_of = {term_id: t for t, term_id in terms.items()}
        read, rows = _read_candidates(candidates, sorted({*full, *sources.values()}), memory)
        found = read.only(np.array(sorted(full), dtype=np.int64))
        scores = _bm25(candidates, found, full, avgdl)
        matched: dict[int, set[str]] = defaultdict(set)
        for of, term_id in zip(found.of.tolist(), found.term.tolist(), strict=True):
            matched[candidates[of]].add(text_of[term_id])
        translated = _translated(
            translation, candidates, read, {**sources, **terms}, dfs, stats.terms
        )
        return {
            "analysis": analysis,
            "candidates": Candidates(scores, dict(matched), rows, translated),
        }


@dataclass(frozen=True)
class Translation:
    """The question's words and, for each, the article words it may be a translation of, with
    t(word | article word) (`associations.translations`)."""

    words: tuple[str, ...]
    of: dict[str, tuple[tuple[str, float], ...]]

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(a for found in self.of.values() for a, _ in found))


def _translation(analysis: Analysis) -> Translation:
    table = associations.translations(analysis.faq)
    words = tuple(dict.fromkeys(analysis.tokens))
    return Translation(words, {w: table[w] for w in words if w in table})


def _translated(
    translation: Translation,
    segment_ids: list[int],
    read: memindex.Postings,
    term_id: dict[str, int],
    dfs: dict[int, int],
    total_terms: int,
) -> dict[int, float]:
    """Each candidate's log-probability of the question as a translation of it: for every word
    of the question, the passage's words weighted by how often they are said that way (the
    FAQ's translation model), beside the word itself as written, smoothed by the whole index
    (a translation language model, after Berger and Lafferty). Empty when the FAQ taught
    nothing about the question's words."""
    if not translation.of or not segment_ids or not len(read.of):
        return {}
    terms, column = np.unique(read.term, return_inverse=True)  # the terms read, as columns
    # t(question word | article word) for the terms read, and the word said as written.
    row, source, share = [], [], []
    for i, word in enumerate(translation.words):
        for found, probability in translation.of.get(word, ()):
            row.append(i)
            source.append(term_id.get(found, -1))
            share.append(TRANSLATED_SHARE * probability)
        row.append(i)
        source.append(term_id.get(word, -1))
        share.append(1 - TRANSLATED_SHARE)
    sources = np.array(source, dtype=np.int64)
    at = np.minimum(np.searchsorted(terms, sources), len(terms) - 1)
    known = terms[at] == sources
    said = np.zeros((len(terms), len(translation.words)))
    np.add.at(said, (at[known], np.array(row)[known]), np.array(share)[known])
    tf = np.zeros((len(segment_ids), len(terms)))
    tf[read.of, column] = read.tf / read.length
    index_share = np.array(
        [(dfs.get(term_id.get(w, -1), 0) + 0.5) / (total_terms + 1) for w in translation.words]
    )
    likely = (1 - SMOOTHING) * (tf @ said) + SMOOTHING * index_share
    return dict(zip(segment_ids, np.log(likely).sum(axis=1).tolist(), strict=True))


LONG_FORMS = 3  # long forms searched for per short form, the commonest in the index
# A long form weighs as the question's own word: it is that word, written out (a lexicon's
# expansion is a neighbouring word, at EXPANSION_WEIGHT).
LONG_FORM_WEIGHT = 1.0


def _short_forms(analysis: Analysis) -> list[tuple[str, list[Concept]]]:
    """The question's words that may be short forms (`_add_long_forms`), with their concepts,
    whether the index knows them or not."""
    short: list[tuple[str, list[Concept]]] = [
        (c.word, [c])
        for c in analysis.concepts
        if segmenter.may_abbreviate(c.word) and not segmenter.is_everyday(c.word)
    ]
    short += _cut_apart(analysis)
    return [(w, cs) for w, cs in short if _abbreviation(w) is not None]


def _add_long_forms(
    analysis: Analysis,
    short: list[tuple[str, list[Concept]]],
    terms: dict[str, int],
    dfs: dict[int, int],
    memory: memindex.MemoryIndex | None,
) -> None:
    """A word of the question that the index has never seen, when it is a short form of index
    terms, is searched for as them and found in them: 社保 as 社会保险 and 社会保障, 社保费 as
    社会保险费, 年假 as 年休假 — whatever the document, since Chinese makes its short forms so
    (`_abbreviation`). Plain BM25 over characters finds such a text through 社 and 保; the
    long form ranks it as a word, and counts as the question's word being there. `short`:
    `_short_forms`."""
    short = [(w, cs) for w, cs in short if w not in terms]
    if not short:
        return
    starting = memindex.terms_starting({word[0] for word, _ in short}, memory)
    for word, concepts in short:
        for text in _long_forms(word, starting):
            term_id, df = starting[text]
            terms[text] = term_id
            dfs[term_id] = df
            analysis.weights[text] = max(analysis.weights.get(text, 0.0), LONG_FORM_WEIGHT)
            for concept in concepts:
                concept.terms.add(text)
                concept.same.add(text)


def _long_forms(word: str, starting: Mapping[str, tuple[int, int]]) -> list[str]:
    """The index terms that `word` abbreviates: its characters in order from the term's first,
    at most two more after its last (社会保险 and 社会保险费 for 社保), without a term that
    only lengthens another one found (社会保险费 when 社会保险 is there); the commonest first."""
    pattern = _abbreviation(word)
    if pattern is None:
        return []
    found = [
        t
        for t in starting
        if len(t) > len(word)
        and (end := pattern.match(t)) is not None
        and len(t) - end <= ABBREVIATION_GAP
    ]
    heads = [t for t in found if not any(o != t and t.startswith(o) for o in found)]
    heads.sort(key=lambda t: (-starting[t][1], t))
    return heads[:LONG_FORMS]


def _bm25(
    segment_ids: list[int], found: memindex.Postings, weight: dict[int, float], avgdl: float
) -> dict[int, float]:
    """Each segment's BM25 over `found`, its postings: the terms of each segment summed in
    ascending term order (np.bincount adds in the order given), as the database's rows are
    read and as the Python loop this replaced did, so the last digit does not depend on it."""
    terms = sorted(weight)
    at = np.searchsorted(np.array(terms, dtype=np.int64), found.term)
    w = np.array([weight[t] for t in terms], dtype=np.float64)[at]
    norm = K1 * (1 - B + B * found.length / avgdl)
    part = w * found.tf * (K1 + 1) / (found.tf + norm)
    sums = np.bincount(found.of, weights=part, minlength=len(segment_ids))
    return dict(zip(segment_ids, sums.tolist(), strict=True))


def _top_candidates(
    weight: dict[int, float],
    c1: float,
    c2: float,
    top_k: int,
    memory: memindex.MemoryIndex | None,
) -> list[int]:
    """The segments with the highest SUM(w * tf / (tf + c1 + c2 * length)) over the posting
    lists of `weight`'s terms, ties by id: in memory for a small index; else summed here over
    the lists PostgreSQL sends packed, or by SQLite."""
    if memory is not None:
        return memindex.top_candidates(memory, weight, c1, c2, top_k)
    if connection.vendor == "postgresql":
        lists = _posting_lists(sorted(weight))
        return memindex.top_of_lists([(weight[t], lists[t]) for t in sorted(lists)], c1, c2, top_k)
    # SQLite (PostgreSQL before `_posting_lists`): in float8 (literals would make PostgreSQL
    # compute in numeric). Only placeholders are interpolated. Each term's weight by CASE, not
    # by joining a VALUES list: PostgreSQL then read the posting lists in one index scan, in
    # term order, and summed them in a hash aggregate; the join misled its estimates into
    # sorting some 15,000 rows per question at 100,000 segments (and summed each segment's
    # terms in an arbitrary order).
    case = " ".join("WHEN %s THEN CAST(%s AS DOUBLE PRECISION)" for _ in weight)
    sql = (
        f"SELECT p.segment_id, SUM(CASE p.term_id {case} END * p.tf"
        " / (p.tf + CAST(%s AS DOUBLE PRECISION) + CAST(%s AS DOUBLE PRECISION) * p.length))"
        " AS score FROM knowledge_posting p"
        f" WHERE p.term_id IN ({', '.join('%s' for _ in weight)})"
        " GROUP BY p.segment_id ORDER BY score DESC, p.segment_id LIMIT %s"
    )
    params: list[Any] = [x for pair in weight.items() for x in pair]
    params += [c1, c2, *weight, top_k]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(row[0]) for row in cursor.fetchall()]


def _posting_lists(term_ids: list[int]) -> dict[int, memindex.PostingList]:
    """These terms' posting lists (segment ids ascending, tf, length): those read before for
    this index version from the process's cache (`memindex.list_cache`), the others each read
    whole as three binary strings. Summing them here (memindex) cost less than PostgreSQL's
    hash aggregate over the same rows (a CASE per row, a hash entry per segment), and the rows
    travel packed."""
    cache = memindex.list_cache()
    found = {t: cache.lists[t] for t in term_ids if t in cache.lists}
    missing = [t for t in term_ids if t not in found]
    if not missing:
        return found
    sql = (
        "SELECT term_id, string_agg(int8send(segment_id), ''), string_agg(int2send(tf), ''),"
        f" string_agg(int4send(length), '') FROM {Posting._meta.db_table}"
        f" WHERE term_id IN ({', '.join('%s' for _ in missing)}) GROUP BY term_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, missing)
        rows = cursor.fetchall()
    read = {}
    for term_id, segments, tf, length in rows:
        ids = np.frombuffer(segments, dtype=">i8").astype(np.int64)
        order = np.argsort(ids, kind="stable")
        read[term_id] = memindex.PostingList(
            rows=ids[order],
            tf=np.frombuffer(tf, dtype=">i2").astype(np.float64)[order],
            length=np.frombuffer(length, dtype=">i4").astype(np.float64)[order],
        )
    cache.add(read)
    return {**found, **read}


def _postings(
    segment_ids: list[int], term_ids: list[int], memory: memindex.MemoryIndex | None
) -> memindex.Postings:
    """The postings of these segments for these terms, each segment's by ascending term: each
    segment's BM25 is summed in the same order from memory and from the database, whichever
    plan the database chose (which decided the last digit before). From the database: each
    segment's row of the forward index (`SegmentTerms`), one row per candidate. Its posting
    rows, found by the primary key, were hundreds per candidate (with their heap pages, the
    coldest reads of a search at 100,000 segments), and as an index condition on the terms
    PostgreSQL ANDed the common terms' whole posting lists with them (20-50 ms)."""
    if memory is not None:
        return memindex.postings_of(memory, segment_ids, term_ids)
    if not segment_ids or not term_ids:
        return memindex.Postings.from_rows(segment_ids, [])
    with connection.cursor() as cursor:
        cursor.execute(_forward_sql(segment_ids))
        rows = cursor.fetchall()
    return memindex.Postings.from_packed(segment_ids, rows, term_ids)


def _forward_sql(segment_ids: list[int]) -> str:
    """The statement that reads these segments' forward-index rows (the ids written as
    psycopg writes them)."""
    ids = ", ".join(str(int(s)) for s in segment_ids)
    return (
        f"SELECT segment_id, terms, tf, length FROM {SegmentTerms._meta.db_table}"
        f" WHERE segment_id IN ({ids})"
    )


def _read_candidates(
    segment_ids: list[int], term_ids: list[int], memory: memindex.MemoryIndex | None
) -> tuple[memindex.Postings, dict[int, CandidateRow | None]]:
    """The candidates' postings (`_postings`) and, from PostgreSQL, in the same round trip (two
    statements in one), their rows as the ranker reads them (`candidate_rows`, in any
    category; None for a segment not answerable today): one wait for the database fewer per
    search. Elsewhere (the index in memory, SQLite, server-side binding) only the postings."""
    compiled = _compiled(len(segment_ids), None) if memory is None and segment_ids else None
    if compiled is None or compiled.pieces is None or not term_ids:
        return _postings(segment_ids, term_ids, memory), {}
    with connection.cursor() as cursor:  # both statements as text, sent as one query
        cursor.execute(f"{_forward_sql(segment_ids)}; {compiled.statement(segment_ids)[0]}")
        packed = cursor.fetchall()
        cursor.nextset()
        raw = cursor.fetchall()
    rows: dict[int, CandidateRow | None] = dict.fromkeys(segment_ids)
    rows.update((row.id, row) for row in compiled.rows(raw))
    return memindex.Postings.from_packed(segment_ids, packed, term_ids), rows


@component
class FaqMatcher:
    """Finds the FAQ entries worded most like the question; their first-cited segments join
    the candidates."""

    @component.output_types(faq_hits=Sequence[faqmatch.FaqHit], wording=Mapping[int, float])
    def run(self, analysis: Analysis) -> dict[str, Any]:
        return {
            "faq_hits": SharedList(
                faqmatch.match(analysis.weights, question=analysis.question, index=analysis.faq)
            ),
            "wording": SharedMapping(
                faqmatch.wording_coverage(
                    analysis.weights,
                    question=analysis.question,
                    index=analysis.faq,
                    documents_words=[c.word for c in analysis.concepts if c.known],
                )
            ),
        }


@component
class EmbeddingRetriever:
    """The segments nearest to the question in the embedding model's space (only when an
    embedding model is configured and the segments have vectors)."""

    @component.output_types(nearest=dict[int, float])
    def run(self, analysis: Analysis) -> dict[str, Any]:
        return {"nearest": embedding.nearest(analysis.question, user=analysis.user)}


@component
class CandidateRanker:
    """Keeps the candidates that are retrievable today, notes which of the question's words
    each one contains, orders them by score and decides whether to abstain."""

    @component.output_types(
        passages=list[Passage],
        abstained=bool,
        coverage=float,
        missed_key=bool,
        unaided=frozenset[int],
    )
    def run(
        self,
        analysis: Analysis,
        candidates: Candidates,
        faq_hits: Sequence[faqmatch.FaqHit],
        wording: Mapping[int, float],
        nearest: dict[int, float],
        top_k: int = 3,
        categories: list[str] | None = None,
    ) -> dict[str, Any]:
        scores, matched = candidates.scores, candidates.matched
        # Fusion: BM25 relative to the best candidate, plus the FAQ similarity of an entry that
        # cites the segment first.
        top_score = max(scores.values(), default=0.0) or 1.0
        faq_bonus: dict[int, float] = {}
        faq_likeness: dict[int, float] = {}
        key = key_concept(analysis.concepts)
        for hit in faq_hits:
            if hit.segment_id is not None:
                faq_likeness[hit.segment_id] = max(
                    faq_likeness.get(hit.segment_id, 0.0), hit.similarity
                )
            if hit.segment_id is not None and hit.similarity >= FAQ_MIN_SIMILARITY:
                bonus = _faq_strength(hit.similarity)
                if key is not None and not key.same & analysis.faq.words.get(
                    hit.faq_id, frozenset()
                ):
                    bonus *= FAQ_OFF_KEY  # it shares the question's words, not its matter
                faq_bonus[hit.segment_id] = max(faq_bonus.get(hit.segment_id, 0.0), bonus)
        # Cosine levels differ from model to model (unrelated texts often score 0.5): the
        # nearest list counts relative to itself, from its best (full weight) to its last (none).
        near = _relative(nearest)
        # The FAQ wording of an article re-ranks only articles the question's own words (not
        # only its characters) found, and only when it holds most of the question.
        wording = {
            k: v**WORDING_POWER
            for k, v in wording.items()
            if v >= WORDING_MIN and _worded(matched.get(k, ()))
        }
        ids = {*scores, *faq_bonus, *nearest}
        # The candidates' rows read with their postings serve a search in every category.
        rows = candidate_rows(list(ids), categories, None if categories else candidates.rows)
        # An FAQ entry on the matter does not give the figure its article lacks (用童工会被罚多少
        # cites the article that fines without a sum): what FAQ say of an article lifts it only
        # when the question asks for no figure in a unit or the article gives one, as the
        # abstention reads it (`_figure_given`).
        given = _figure_given(analysis.question)
        if given is not None:
            for seg in rows:
                if not _gives_figure(given, [seg.text]):
                    faq_bonus.pop(seg.id, None)
                    wording.pop(seg.id, None)
        fused = {
            seg_id: scores.get(seg_id, 0.0) / top_score
            + FAQ_WEIGHT * faq_bonus.get(seg_id, 0.0)
            + WORDING_WEIGHT * wording.get(seg_id, 0.0)
            + EMBEDDING_WEIGHT * near.get(seg_id, 0.0)
            for seg_id in ids
        }
        missing = [s.id for s in rows if s.id not in matched]  # found through the FAQ only
        hits = {**matched, **_matched_terms(missing, analysis)}
        covers = _coverage(analysis)
        ranked: list[Passage] = []
        # The share of the question the passage's own words hold, by weight and by idf.
        own: dict[int, float] = {}
        plain: dict[int, float] = {}
        for seg in rows:
            found = hits.get(seg.id, set())
            own[seg.id], plain[seg.id] = covers(found, seg.text)
            # An FAQ entry worded like the question covers it as far as it is alike: editors
            # said the article answers that wording.
            coverage = max(own[seg.id], faq_likeness.get(seg.id, 0.0))
            ranked.append(
                Passage.of_row(seg, score=fused[seg.id], coverage=coverage, matched=sorted(found))
            )
        ranked.sort(key=lambda p: (-p.score, p.segment_id))
        # A question can span two articles: the best-covered of the first few decides.
        shown = ranked[:ABSTAIN_DEPTH]
        covered = max((p.coverage for p in shown), default=0.0)
        shared = max(
            (max(plain[p.segment_id], faq_likeness.get(p.segment_id, 0.0)) for p in shown),
            default=0.0,
        )
        vouched = any(faq_likeness.get(p.segment_id, 0.0) >= FAQ_VOUCHES for p in shown)
        likely = _standardised(candidates.translated)
        # The first passages by the question's own words alone (BM25, the translation model, an
        # embedding model's), without what FAQ entries say of the articles they cite: whether
        # an entry answers by itself is not for its own bonus to decide (`citing.faq_answer`).
        unaided = sorted(
            ranked,
            key=lambda p: (
                -(
                    scores.get(p.segment_id, 0.0) / top_score
                    + EMBEDDING_WEIGHT * near.get(p.segment_id, 0.0)
                    + TRANSLATION_WEIGHT * likely.get(p.segment_id, 0.0)
                ),
                p.segment_id,
            ),
        )[:ABSTAIN_DEPTH]
        # The order the member reads (`_read_order`): the figure a question asks for may be
        # given by its first passages as well as by the first by score. The key concept as the
        # abstention reads it: none when an FAQ entry vouched.
        scored = {p.segment_id: p.score for p in ranked}
        order = functools.partial(_read_order, ranked, scored, analysis, likely, plain, wording)
        read_key = None if vouched else key
        ranked = order(read_key)
        missed_key = not vouched and _misses_key(
            analysis, key, shown, covered, shared, [*shown, *ranked[:ABSTAIN_DEPTH]]
        )
        unfamiliar = not (vouched or missed_key) and _unfamiliar(analysis, shown, shared)
        # An FAQ entry that vouches for a passage does not give the figure the passage lacks.
        unfigured = not _gives_figure(given, (p.text for p in [*shown, *ranked[:ABSTAIN_DEPTH]]))
        # With an embedding model, a passage the model finds very close also answers, though
        # not with a figure it does not give (the article on the very matter is the closest).
        abstained = unfigured or (
            (covered < MIN_COVERAGE or missed_key or unfamiliar)
            and not _clear_winner(nearest, {p.segment_id for p in ranked})
        )
        # The order shown: with the key concept the abstention found (an unknown kind of thing
        # where there is one), and what else the question asks for (`_kind_asked`).
        kind = _kind_asked(analysis.question)
        if analysis.key is not read_key or kind is not None:
            ranked = order(analysis.key, kind)
        return {
            "passages": ranked[:top_k],
            "abstained": abstained,
            "coverage": covered,
            "missed_key": missed_key,
            "unaided": frozenset(p.segment_id for p in unaided),
        }


def _read_order(
    ranked: list[Passage],
    scored: Mapping[int, float],
    analysis: Analysis,
    likely: Mapping[int, float],
    plain: Mapping[int, float],
    wording: Mapping[int, float],
    key: Concept | None,
    kind: re.Pattern[str] | None = None,
) -> list[Passage]:
    """The passages in the order the member reads them, each with its final score: `scored` (the
    passages' scores by segment) with five things that move passages up and one that moves them
    down, then precedence. A passage the question is a likely translation of (`likely`:
    `_translated` in standard deviations; what the FAQ taught about how workers say the
    documents' words) moves up, in every document; an article's own words holding most of the
    question count like FAQ wording does, at OWN_WORDING_WEIGHT (the larger of the two counts),
    so that a document nobody wrote FAQ for competes with FAQ-worded neighbours; a question that
    asks for a figure prefers the passages that give one, and, given `kind` (in the order shown,
    not in the one the abstention reads), one that asks who must prove, who pays, which body, a
    time limit or where those that say it (`_kind_asked`); and a document whose title names the
    key concept is about the very matter. A guide's or a news item's passages move down: the
    rule's own text answers before what explains or reports it (`GUIDES_AFTER`). Precedence then
    orders near ties (`precedence.order`)."""
    figure = _figure_asked(analysis.question)
    names = _title_names(key)
    for p in ranked:
        score = scored[p.segment_id] + TRANSLATION_WEIGHT * likely.get(p.segment_id, 0.0)
        if any(name in p.title for name in names):
            score += TITLE_BONUS
        if plain[p.segment_id] >= WORDING_MIN:
            lift = OWN_WORDING_WEIGHT * plain[p.segment_id] ** WORDING_POWER
            score += max(0.0, lift - WORDING_WEIGHT * wording.get(p.segment_id, 0.0))
        if figure is not None and figure.search(p.text):
            score += FIGURE_BONUS
        if kind is not None and kind.search(p.text):
            score += KIND_BONUS
        if p.document_kind in SECONDARY_KINDS:
            score -= GUIDES_AFTER
        p.score = score
    return precedence.order(
        sorted(ranked, key=lambda p: (-p.score, p.segment_id)), analysis.question
    )


def _standardised(values: Mapping[int, float]) -> dict[int, float]:
    """Each value in standard deviations from their mean (none when they hardly differ: a
    spread under MIN_SPREAD is no reason to reorder passages)."""
    if len(values) < 2:
        return {}
    array = np.array(list(values.values()))
    spread = float(array.std())
    if spread < MIN_SPREAD:
        return {}
    return dict(zip(values, ((array - array.mean()) / spread).tolist(), strict=True))


# 几点 asks for a time of day (几点开球, 几点下班); not 要注意几点, 哪几点 or 有几点要注意, how many
# points to note.
_CLOCK = r"(?<![哪有这那])(?<!注意)几点(?!钟?(?:要|需|值得|注意|事项))钟?"
_DISCOUNT = r"几折|打多少折"
# "好几个月", "请了几天", "那几天" and "十几岁" tell the story, they do not ask (a 几 after one
# of `_TOLD`); "按什么标准" asks for a rule, which an article usually states without a figure
# (按上年度职工月平均工资). 几个点 asks for a share (交几个点), not 哪几个点要注意.
_TOLD = "好了那这十"
_POINTS = r"(?<![好了那这哪有])几个(?:百分)?点(?!要|需|值得)"
_QUANTITY_ASKED = re.compile(
    rf"(?<![{_TOLD}])(?:几[天日周月年次倍岁号]|几个月|几个小时|多少|百分之几|多久|多长时间|几成|{_CLOCK}|{_DISCOUNT}|"
    + _POINTS
    + r")|比例"
)
_CLAUSE = re.compile(r"[^，。；！？,;!?\s]+")
_QUANTITY = re.compile(
    r"[0-9０-９]+|百分之|[一二三四五六七八九十百千万两半][日天周月年倍岁元小时个次人名]|[一二三四五六七八九十]+分之"
)
# The unit a question asks its figure in, and a figure given in it: 罚多少钱 wants a sum
# (5000元, 二倍), 能休几天 days, 百分之几 a share.
_NUMBER = r"(?:[0-9０-９]+|[一二三四五六七八九十百千万两半]+)"
_PERCENT = r"[0-9０-９][%％]"  # 80%, 80％
# A figure in the worker's story (五十几岁, 好几次, 第几次) is not the one asked for.
_STORY = rf"(?<![{_TOLD}第哪])"
_UNITS = [
    # An age (十六周岁; not 满十五年 beside 法定退休年龄), before weeks: 几周岁 is an age.
    (_STORY + r"几周?岁|多少周?岁", r"周?岁"),
    (r"几[天日]|多少[天日]|几个?(?:周(?!岁)|星期|礼拜)", r"个?(?:[日天]|周(?!岁)|星期|工作日)"),
    (
        r"多长时间|多久",
        r"个?(?:[日天]|周(?!岁)|星期|工作日|月|年|小时)|每(?:年|季度?|月|周|星期|天|日)",
    ),
    (r"几个?月|多少个?月", r"个?月"),
    (r"几年|多少年", r"年"),
    # A time of day: 22时, 八点, 9:00 (not 时间, 时候; nor 百分之一点五 nor 一点儿).
    (
        _STORY + _CLOCK,
        r"(?:点钟?(?![0-9０-９一二三四五六七八九十半儿])|时(?![间候期段])|[:：][0-5][0-9](?![0-9]))",
    ),
    # A discount: 九折, 8.5折 (not 折算, 折合).
    (_DISCOUNT, r"(?:[.．][0-9０-９])?折(?![算合旧价])"),
    (r"几个?小时|多少个?小时", r"个?小时"),
    # A number of times (每年一次; not 一次性).
    (_STORY + r"几次|多少次", r"次(?!性)"),
    # A telephone number: five digits or more (12351), or in groups (400-100-1234, 8888-1234);
    # not a sum (10000元) nor a year.
    (
        r"(?:电话|热线)(?:号码?)?是?多少(?![钱元块])|号码是?多少",
        r"(?:(?<=[0-9０-９]{5})|(?<=[0-9０-９]{3})[-－—][0-9０-９]{3,}(?:[-－—][0-9０-９]{3,})?)"
        r"(?![0-9０-９元万%％年])",
    ),
    (r"多少钱|罚多少|赔多少|多少元|多少块", r"(?:元|万元|倍)|百分之|" + _PERCENT),
]
_FIGURE_UNITS = [(re.compile(asked), re.compile(_NUMBER + given)) for asked, given in _UNITS]
_SUM = _FIGURE_UNITS[-1][1]  # a sum of money (多少钱, 赔多少)
_MONTHS_PAY = re.compile(_NUMBER + r"个月的?(?:本人)?(?:月?工资|工资)")
# A cap on a sum, in the clause that sets it: 违约金的数额不得超过…培训费用, not
# 最长不超过二十四个月.
_SUM_CAP = re.compile(
    r"(?:不得超过|不超过|不得高于|不高于)[^，。；]{0,24}?(?:费用|工资|报酬|数额|金额|收入|基数)"
)
# How a question asks for a figure itself, not as part of its story (十几年, 好几天).
_ASKS_HOW_MUCH = re.compile(rf"(?<![{_TOLD}])几|多少|多久|多长时间")
_SHARE_ASKED = re.compile(r"百分之几|百分之多少|比例|几成|" + _POINTS + r"|多少个(?:百分)?点")
_SHARE = re.compile(r"百分之|" + _PERCENT + r"|分之|个?百分点")
# Asking for the most there can be, and a cap that answers it without a figure.
_CAP_ASKED = re.compile(r"最多|最高|上限|顶多|封顶")
_CAP = re.compile(r"不得超过|不超过|不得高于|不高于|最高不|最多不|以内")


# What else a question may ask for, and how laws say it. The clause that asks decides (the last
# of a sentence, the last sentence first; not the story before it); in it, the first kind of
# this list it asks for.
_KINDS_ASKED = [
    # Who must prove (谁来拿证据, 举证责任由谁承担): the burden of proof.
    (r"举证|谁[^，。？]{0,4}证据", r"举证"),
    # Who bears a cost (医药费谁出, 工钱找谁要): 由…承担, 负担…费用 (not 谁出面, 谁出的主意).
    (
        r"谁来?(?:出(?![面主示])|掏|付|赔|承担|负担|买单)|[找向问]谁要|由谁(?:出|付|赔|承担|负担)",
        r"(?<![理自])由[^，。；]{0,20}(?:承担|负担|支付|赔偿|缴纳)|(?:承担|负担)[^，。；]{0,16}费用",
    ),
    # Which body (找谁举报, 哪个部门管, 去哪里投诉): a passage that names a department, a board or
    # a court. (Requiring 向/由 before it lost an answer on the development sets and won none.)
    (
        r"[找向]谁(?!要)|归?谁管|归谁负责|(?:哪个|什么|哪些)部门|哪[里儿]?[^，。？]{0,2}(?:投诉|举报|反映)",
        r"行政部门|主管部门|监察机构|经办机构|委员会|人民法院",
    ),
    # A time limit (有没有时间限制, 来得及吗): 之日起…内, 期限, 时效.
    (
        r"时间限制|时限|期限|时效|时间规定|多长时间内|多久之内|多久以内|来得及|过期",
        r"日内|之日起|期限|时效|以内|届满",
    ),
    # Where to go (该去哪里申请, 哪个法院): a place named by what is there (用人单位所在地, 合同
    # 履行地); not 区别在哪里, 花在哪 nor 我哪里做错了.
    (
        r"(?<![别题处点花用])[去到在]哪(?:里|儿)?|[去到在](?:什么|哪个)地方|哪个(?:法院|仲裁委)",
        r"所在地|住所地|发生地|履行地|户籍地|经常居住地|登记地",
    ),
]
_KINDS = [(re.compile(asked), re.compile(given)) for asked, given in _KINDS_ASKED]


def _kind_asked(question: str) -> re.Pattern[str] | None:
    """How a passage says what the question asks for besides a figure (`_KINDS_ASKED`); None
    when it asks for none of those. Unlike a figure, a passage that does not say it may still
    answer: this only orders the passages shown, never those the abstention reads."""
    for sentence in reversed(_SENTENCE.split(question)):
        clause = (_CLAUSE.findall(sentence) or [""])[-1]
        for asked, given in _KINDS:
            if asked.search(clause):
                return given
    return None


def _figure_asked(question: str) -> re.Pattern[str] | None:
    """How a passage gives the figure the question asks for, in the unit it asks in (any
    figure when it names none); None when the question asks for no figure."""
    if not asks_quantity(question):
        return None
    if _SHARE_ASKED.search(question):
        return _SHARE
    return next((given for asked, given in _FIGURE_UNITS if asked.search(question)), _QUANTITY)


_TIME_WORDS = frozenset(
    {"今年", "明年", "去年", "现在", "目前", "最新", "具体", "小时", "钟头", "分钟", "星期", "礼拜"}
)


# 厂里, 家里, 村里: "in the factory", where the story happens (公里 and 英里 are units).
_IN_PLACE = re.compile(r"[^公英海千万]里")


def asks_quantity(question: str) -> bool:
    """Whether the question asks for a figure (days, a sum, a share, a date)."""
    return bool(_QUANTITY_ASKED.search(question))


def _figure_clause(question: str) -> str:
    """The clause that asks for the figure (小时工的工资多久必须结一次 in a question that first
    tells where the worker works)."""
    clauses: list[str] = _CLAUSE.findall(question)
    return next((c for c in clauses if _QUANTITY_ASKED.search(c)), question)


def key_concept(concepts: Sequence[Concept]) -> Concept | None:
    """The specific thing the question asks about: its rarest noun (a word the index has never
    seen counts as the rarest), never one of everyday Chinese's commonest words, which tell the
    worker's story (公司, 孩子, 老人), even where a document happens to use them rarely. None
    when the question names no thing (only verbs, or only words the segmenter guessed)."""
    best: Concept | None = None
    for concept in concepts:
        if not _is_thing(concept):
            continue
        if segmenter.is_everyday(concept.word):
            continue  # 公司 or 孩子 in a base whose texts say 用人单位 and 未成年人
        if best is None or concept.idf > best.idf:
            best = concept
    return best


def _straddles(word: str, text: str) -> bool:
    """Whether, where the word stands in the text, a commoner dictionary word crosses one of its
    ends (在家养着: 在家 across 家养): jieba chose the rarer reading."""
    at = text.find(word)
    if at < 0:
        return False
    frequency = segmenter.frequency(word)
    for edge in (at, at + len(word)):  # words from before the edge to after it
        for start in range(max(0, edge - 3), edge):
            for stop in range(edge + 1, min(len(text), edge + 3) + 1):
                if stop - start >= 2 and segmenter.frequency(text[start:stop]) > frequency:
                    return True
    return False


def _is_thing(concept: Concept) -> bool:
    """A noun of two characters or more that is neither a time word nor the asking for a figure
    itself (多长时间, 赔多少: the question's form, not what it asks about). Whether the documents
    use it (or a word it stands for) decides for words jieba tags as names or abbreviations."""
    word = concept.word
    return (
        len(word) > 1
        and not (concept.straddles and not concept.known)
        and word not in _TIME_WORDS
        and not _IN_PLACE.fullmatch(word)
        and not _QUANTITY_ASKED.search(word)
        and segmenter.is_noun(word, indexed=concept.known or len(concept.same) > 1)
    )


def unknown_kind(analysis: Analysis) -> Concept | None:
    """A noun of the question that no document contains, by itself or by any word it stands
    for, while the documents do know things of its kind: 婚假 or 陪产假 where they speak of
    产假, 高温津贴 beside other 津贴. The question asks about a specific thing that is not
    covered; a neighbouring article would not answer it. (A noun of no known kind, such as
    煤气味 or 小舅子, is an incidental detail of a worker's story.)"""
    for concept in analysis.concepts:
        if concept.known or not _is_thing(concept):
            continue
        if any(analysis.idf.get(t, 0.0) < _missing_idf(analysis) for t in concept.terms):
            continue  # a word it expands to is in the index
        if len(concept.word) > 2 and concept.word[-2:] in analysis.idf:
            known_head = analysis.idf[concept.word[-2:]] < _missing_idf(analysis)
            if known_head:
                return concept
    return None


def _misses_key(
    analysis: Analysis,
    key: Concept | None,
    shown: list[Passage],
    covered: float,
    shared: float,
    read: list[Passage],
) -> bool:
    """Whether the passages miss what the question asks about: a specific thing of a known kind
    that no document names; every word of the question; a figure about the key concept that no
    passage naming it gives (of the passages `read`: the first by score, and the first the
    member reads once they are re-ranked); the key concept itself when the question is little
    more than it; or, when the passages share little of the question anyway, every thing the
    question names. (A key concept the index has never seen is not enough there: in a document
    nobody wrote a lexicon for, the worker's own word for the matter, 老板 or 厂里, is as unseen
    as a topic that is not covered.)

    `covered` is how far the passages cover what the question says (`_weight`);
    `shared` how much of its words they share, everyday words counted in full: a question
    made of everyday words no document uses is about something else."""
    unknown = unknown_kind(analysis)
    if unknown is not None:
        analysis.key = unknown
        return True
    analysis.key = key  # the question's key concept (`key_concept`), as the ranker found it
    if _wordless(analysis, shown):
        return True
    if key is None:
        # Only everyday words (手机, 比赛), the passages share little of the question, and the
        # lexicon knows none of its words: not a question about the documents' matter.
        return shared < WEAK_COVERAGE and analysis.unmapped
    if _foreign_name(key, shown, shared) and not _names_known_thing(analysis, shown):
        return True
    if asks_quantity(analysis.question):
        # The figure is asked about the things of the clause that asks for it; the rest of
        # the question tells the story (在奶茶店打工，…工资多久结一次) — but a place anywhere
        # makes the figure a local one (在东莞失业了，失业保险金能领多少). A thing the index has
        # never seen decides alone when it is a place (北京) or the passages cover the rest of
        # the question poorly (婚假几天); otherwise a thing of the clause (of the question, when
        # the clause names none), given with a figure, answers.
        clause = _figure_clause(analysis.question)
        things = [c for c in analysis.concepts if _is_thing(c)]
        asked = [c for c in things if c.word in clause]
        local = not key.known and segmenter.is_place(key.word)
        asked_key = key if local or not asked else key_concept(asked)  # None: everyday words
        if (
            asked_key is not None
            and not asked_key.known
            and (segmenter.is_place(asked_key.word) or covered < STORY_COVERAGE)
        ):
            things = [asked_key]
        elif asked and asked_key is not None:  # (not a clause of everyday words: 算进公司的比例)
            things = asked
        if asked and asked_key is not None and not asked_key.known:
            # What the clause asks about is in no document: a word most passages use (规定,
            # 工资) beside a figure does not answer for it (婚假国家规定能休几天 against
            # 国家规定的…劳动。…98天产假). (A clause that names nothing, 一个月罚多少, leaves
            # the question's things as they are: in a small base every word is common.)
            things = [c for c in things if c.idf >= COMMON_IDF] or things
        elif asked and asked_key is not None and not _most_documents_use(asked_key):
            # The clause asks about a specific thing the documents name: a word most of the
            # documents use (工资, 规定) beside a figure does not answer for it either
            # (病假工资按工资的百分之几 against 加班…工资的百分之一百五十). Counted by document,
            # not by passage: in a base of few documents, the matter of one of them (残疾人 in
            # a regulation on their employment) is in most of its passages, and still specific.
            things = [c for c in things if c is asked_key or not _most_documents_use(c)]
        if _unnamed_compound(analysis, clause, shown):
            return True
        return not any(_answers_key(analysis, c, p) for c in things for p in read)
    if any(_finds(key, p) for p in shown):
        return False
    if len(analysis.concepts) <= 2:
        return True
    if shared >= WEAK_COVERAGE:
        return False
    things = [c for c in analysis.concepts if _is_thing(c)]
    return not any(_finds(c, p) for c in things for p in shown)


def _most_documents_use(concept: Concept) -> bool:
    """Whether at least half of the indexed documents hold the concept's word (or a word that
    names the same thing): the documents' common word, not a specific thing. Documents, like
    idf's passages, are counted as indexed (`memindex.documents_using`)."""
    using, documents = memindex.documents_using(concept.same | {concept.word})
    return documents > 0 and using * 2 >= documents


def _unfamiliar(analysis: Analysis, shown: list[Passage], shared: float) -> bool:
    """Whether the question is likely about something the documents do not treat: its key
    concept is a word no document uses (小区, 公积金, 路由器) and no passage shown names it, no
    passage names any other thing of the question that the documents know, the passages share
    less than half of its words, and the lexicon knows none of them. Colloquial questions about a
    document nobody wrote a lexicon for look the same (小孩 for 未成年人), so this is the
    soft abstention: with a model, the model judges the passages (`asking.in_band`)."""
    key = analysis.key
    return (
        key is not None
        and not key.known
        and shared < STORY_COVERAGE
        and analysis.unmapped
        and not asks_quantity(analysis.question)
        and not any(_finds(key, p) for p in shown)
        and not _names_known_thing(analysis, shown)
    )


def _wordless(analysis: Analysis, shown: list[Passage]) -> bool:
    """Not one word of the question, nor a word the lexicon makes of it, nor a word it
    abbreviates, is in a passage shown: characters alone found them (明天上海的天气怎么样
    against guides that share 天, 上 and 样). Characters weigh as words in the ranking; they are
    no evidence that a passage answers. A short form the segmenter cut into characters (年假:
    年, 假) counts as the word it abbreviates."""
    if any(
        _evidence(c) & set(p.matched) or _abbreviated(c, p)
        for c in analysis.concepts
        for p in shown
    ):
        return False
    return not any(
        pattern.search(p.heading + p.text) for pattern in _cut_short_forms(analysis) for p in shown
    )


def _evidence(concept: Concept) -> set[str]:
    """The index terms whose presence in a passage is evidence that it speaks of the concept: a
    word of one character that is not a figure (一 of 一开机, 里, 去) is found as a character is,
    and says no more; what the lexicon makes of it still counts (煤 of 煤气味: 燃气)."""
    if len(concept.word) == 1 and not concept.word.isdigit():
        return concept.terms - {concept.word}
    return concept.terms


def _cut_short_forms(analysis: Analysis) -> list[Abbreviation]:
    """What a short form the segmenter cut apart stands for (`_cut_apart`), as patterns."""
    patterns = (_abbreviation(word) for word, _ in _cut_apart(analysis))
    return [p for p in patterns if p is not None]


def _cut_apart(analysis: Analysis) -> list[tuple[str, list[Concept]]]:
    """Short forms the segmenter cut apart, each with its single-character pieces: a single
    character and the character next to it in the question (年假 in 年/假, 进年/假 or 休年/假)."""
    concept = {c.word: c for c in analysis.concepts}
    found = []
    for first, second in itertools.pairwise(segmenter.words(analysis.question)):
        pieces = [concept[w] for w in (first, second) if len(w) == 1 and w in concept]
        if pieces and first + second in analysis.question:
            found.append((first[-1] + second[0], pieces))
    return found


ABBREVIATION_GAP = 2  # characters a worker's short form may leave out between two it keeps
# What a short form never reaches across: figures, Latin letters, punctuation, and white space
# (str.isspace(), which is what `\\s` matches in a regular expression).
PAUSES = frozenset(string.digits + string.ascii_letters + "，。；：、！？,.;:!?（）()《》“”")


def _pause(ch: str) -> bool:
    return ch in PAUSES or ch.isspace()


class Abbreviation:
    """What a short form stands for in a text: its characters in order, one or two left out
    between them, within one phrase and never across a figure (社保 for 社会保险, 年假 for
    年休假, 工伤险 for 工伤保险). The regular expression `社[^<pauses>]{0,2}保` read by hand:
    compiling one per new word cost 0.1-0.2 ms (about 0.5 ms of a question that brought new
    words), matching it this way costs microseconds. Greedy like the expression: the longest
    gap first, so `match` ends where the expression's match ends."""

    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word

    def match(self, text: str) -> int | None:
        """The end of the form matched from the text's start, or None (re.match().end())."""
        if not text or text[0] != self.word[0]:
            return None
        return self._rest(text, 1, 1)

    def search(self, text: str) -> bool:
        """Whether the text holds the form anywhere (re.search() is not None)."""
        word, start = self.word, text.find(self.word[0])
        while start >= 0:
            if self._rest(text, 1, start + 1) is not None:
                return True
            start = text.find(word[0], start + 1)
        return False

    def _rest(self, text: str, i: int, at: int) -> int | None:
        word = self.word
        if i == len(word):
            return at
        for gap in range(ABBREVIATION_GAP, -1, -1):
            end = at + gap
            if end < len(text) and text[end] == word[i]:
                if any(_pause(ch) for ch in text[at:end]):
                    continue
                found = self._rest(text, i + 1, end + 1)
                if found is not None:
                    return found
        return None


@lru_cache(maxsize=4096)
def _abbreviation(word: str) -> Abbreviation | None:
    """What a short form stands for in a text (`Abbreviation`), for a word of two to four
    Chinese characters. Chinese forms its short forms so, whatever the document."""
    if not 2 <= len(word) <= 4 or not HAN_RUN.fullmatch(word):
        return None
    return Abbreviation(word)


def _abbreviated(concept: Concept, passage: Passage) -> bool:
    """A word the index has never seen whose long form the passage holds."""
    if concept.known:
        return False
    pattern = _abbreviation(concept.word)
    return pattern is not None and pattern.search(passage.heading + passage.text)


def _foreign_name(key: Concept, shown: list[Passage], shared: float) -> bool:
    """A name of three characters or more that the index has never seen, not one character of
    which is in any passage shown, while they cover less than half the question (世界杯, 红烧肉):
    the question is about something else, and the passages only share its everyday words
    (国家, 举办). A detail of a worker's story (小舅子, 煤气味) shares characters with the text
    (小, 气), comes with a question the passages cover well or with a thing they name
    (`_names_known_thing`)."""
    if key.known or len(key.word) < FOREIGN_NAME_CHARS or shared >= STORY_COVERAGE:
        return False
    text = "".join(p.context + p.heading + p.text for p in shown)
    return not any(ch in text for ch in key.word)


def _unnamed_compound(analysis: Analysis, clause: str, shown: list[Passage]) -> bool:
    """Two things side by side in the clause that asks for a figure, which no passage shown
    names together (高温津贴: the documents know 高温 and 津贴, never the allowance for heat)."""
    concept = {c.word: c for c in analysis.concepts}
    words = segmenter.words(clause)
    for first, second in itertools.pairwise(words):
        a, b = concept.get(first), concept.get(second)
        if a is None or b is None or not (_specific(a) and _specific(b)):
            continue
        if segmenter.tag(second) not in _HEAD_TAGS:
            continue  # 工会AI内测: the head is a verb (内测), no compound of two things
        if first + second not in clause:
            continue
        together = re.compile(f"{re.escape(first)}.{{0,4}}{re.escape(second)}")
        if not any(together.search(p.heading + p.text) for p in shown):
            return True
    return False


_HEAD_TAGS = frozenset({"n", "nz", "vn"})  # jieba's tags of a compound's head noun


def _specific(concept: Concept) -> bool:
    """A noun the documents know that is neither among everyday Chinese's commonest (公司, even
    when the lexicon knows it) nor one that most passages use (法律, 规定, 职工: their idf
    below COMMON_IDF), nor a fixed phrase (按规定)."""
    return (
        concept.known
        and concept.idf >= COMMON_IDF
        and _is_thing(concept)
        and segmenter.frequency(concept.word) < EVERYDAY_FREQ
        and segmenter.tag(concept.word) != "l"
    )


def _names_known_thing(analysis: Analysis, shown: list[Passage]) -> bool:
    """Whether a passage shown names a thing of the question that the documents know and that
    is not an everyday word (无障碍 or 法律援助 beside 坐轮椅; not 国家 beside 世界杯): then the
    question is about the documents' matter, and its strange name is a detail of the story."""
    return any(
        c.known and _is_thing(c) and not segmenter.is_everyday(c.word) and _finds(c, p)
        for c in analysis.concepts
        for p in shown
    )


def _missing_idf(analysis: Analysis) -> float:
    return max(analysis.idf.values(), default=0.0)


def _finds(concept: Concept, passage: Passage) -> bool:
    """Whether the passage names the concept (by its word or a word the lexicon equates)."""
    return _names(concept, passage.context + passage.heading + passage.text) or _abbreviated(
        concept, passage
    )


def _names(concept: Concept, text: str) -> bool:
    """Whether the text holds the concept's word, a word the lexicon equates, or a group of
    words that together stand for it."""
    return any(word in text for word in concept.same) or any(
        all(word in text for word in group) for group in concept.together
    )


# A sentence ends at its stop, or at the end of a line (an item of an enumeration); a clause
# (；) does not: 未办理社会保险登记的，…；情节严重的，处1000元以上5000元以下的罚款.
_SENTENCE = re.compile(r"[。！？!?\n]+")


def _answers_key(analysis: Analysis, key: Concept, passage: Passage) -> bool:
    """The passage names the key concept (its word or a word it expands to) and, when the
    question asks for a figure, gives one, in the unit asked for, in a sentence that names the
    concept or the sentence after it (停工留薪期内…。停工留薪期一般不超过12个月; but not the 150 %
    for overtime in an article that names 病假 elsewhere) — or, when it asks for the most there
    can be (违约金最多赔多少), sets a cap there (不得超过…培训费用), as a cap on a sum or a number
    of months' wages answers a sum (`_answering`). A concept named only by the
    heading or by an abbreviation is looked for in the whole text."""
    if not _finds(key, passage):
        return False
    figure = _figure_asked(analysis.question)
    if figure is None:
        return True
    cap = _CAP_ASKED.search(analysis.question) is not None
    split = [sentence for sentence in _SENTENCE.split(passage.text) if sentence]
    near = [
        sentence
        for i, named in enumerate(split)
        if _names(key, named)
        # The sentence after it, unless it is an item of an enumeration (its line ends with ；):
        # the next item is about another thing (（一）会员缴纳的会费；（二）…工资总额的百分之二).
        for sentence in split[i : i + (1 if named.rstrip().endswith(("；", ";")) else 2)]
    ] or [passage.text]
    given = _answering(figure, cap)
    return any(pattern.search(s) for s in near for pattern in given)


def _gives_figure(given: list[re.Pattern[str]] | None, texts: Iterable[str]) -> bool:
    """Whether one of the texts gives the figure the question asks for (`given`, from
    `_figure_given`); True when it asks for none in a unit."""
    return given is None or any(pattern.search(text) for text in texts for pattern in given)


def _figure_given(question: str) -> list[re.Pattern[str]] | None:
    """What gives the figure the question's own ask (its last clause: 几天, 多少钱, 百分之几) asks
    for in a unit: the figure in that unit; for the most there can be, a cap; for a sum, a cap
    on a sum (违约金的数额不得超过…培训费用) or a number of months' wages (13个月的本人工资)
    (`_answering`). None when it asks for no figure in a unit. An article on the very matter
    that says who sets the sum (由省人民政府确定) does not say how much it is: "今年…具体多少"
    is a near miss, and a model, when there is one, judges the passages. A figure in the story
    (没读过几年书, 干了十几年) or a bare 比例 (比例有限制吗) is not what the question asks."""
    clauses: list[str] = _CLAUSE.findall(question)
    asked = clauses[-1] if clauses else ""
    if not _ASKS_HOW_MUCH.search(asked):
        return None
    figure = _figure_asked(asked)
    if figure is None or figure is _QUANTITY:
        return None
    return _answering(figure, figure is not _SHARE and _CAP_ASKED.search(asked) is not None)


def _answering(figure: re.Pattern[str], cap: bool) -> list[re.Pattern[str]]:
    """What gives the figure asked for: the figure in its unit; a cap, when the most there can
    be is asked (`cap`); for a sum, also a cap on a sum or a number of months' wages."""
    given = [figure, _CAP] if cap else [figure]
    return [*given, _MONTHS_PAY, _SUM_CAP] if figure is _SUM else given


def _title_names(key: Concept | None) -> list[str]:
    """The words by which a title names the key concept: its word, and those of two characters
    or more that the lexicon equates with it (社保 → 社会保险)."""
    return [w for w in key.same if len(w) > 1] if key is not None else []


def _worded(terms: Collection[str]) -> bool:
    """Whether a word of the question (not only its characters) is among the terms."""
    return any(not t.startswith(CHARACTER) for t in terms)


def _faq_strength(similarity: float) -> float:
    """How much an FAQ entry's likeness to the question counts for the article it cites: from
    nothing at the threshold to full weight for the same wording. A question that merely shares
    workers' everyday words with an entry (公司, 上班) must not carry its article past the
    document that answers it."""
    return (similarity - FAQ_MIN_SIMILARITY) / (1 - FAQ_MIN_SIMILARITY)


def answerable_segments() -> QuerySet[Segment]:
    """The segments a member may be answered with today: enabled, in a published document
    that is in force."""
    today = timezone.localdate()
    return (
        Segment.objects.filter(enabled=True, document__status=DocumentStatus.PUBLISHED)
        .filter(Q(document__effective_from__isnull=True) | Q(document__effective_from__lte=today))
        .filter(Q(document__expires_on__isnull=True) | Q(document__expires_on__gt=today))
    )


def _clear_winner(nearest: dict[int, float], shown: set[int]) -> bool:
    """Whether the embedding model found one retrievable passage far closer than the rest: then
    it answers even with few words in common. A margin over the median, not a fixed cosine,
    because cosine levels depend on the model."""
    if len(nearest) < 3:
        return False
    ordered = sorted(nearest.values(), reverse=True)
    best = max(nearest, key=lambda k: nearest[k])
    return best in shown and ordered[0] - ordered[len(ordered) // 2] >= EMBEDDING_MARGIN


def _relative(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-9:
        return dict.fromkeys(scores, 1.0)
    return {k: (v - low) / (high - low) for k, v in scores.items()}


def _weight(concept: Concept) -> float:
    """How much finding a word of the question counts: its idf, but an everyday word the index
    has never seen (上班, 之前, 孩子 in documents that say 工作时间 and 未成年人) counts as
    one of the documents' common words. It tells the worker's story; where it is missing the
    question is not less answered (in a base nobody wrote a lexicon for, most of a colloquial
    question is such words)."""
    if not concept.known and segmenter.is_everyday(concept.word):
        return min(concept.idf, COMMON_IDF)
    return concept.idf


def _coverage(analysis: Analysis) -> Callable[[set[str], str], tuple[float, float]]:
    """The share of the question a passage covers, given the question's index terms it holds
    (`found`) and its text: by the words' weights (`_weight`), and by their idf alone. A word
    the index has never seen (a colloquial form, 每个月 for 每月) earns the share of its
    characters that the passage contains. The words are read once per search: the ranker asks
    for each of some sixty candidates."""
    words = [
        (
            concept.terms,
            _weight(concept),
            concept.idf,
            None if concept.known else frozenset(concept.word),
        )
        for concept in analysis.concepts
    ]
    weights = sum(weight for _terms, weight, _idf, _unseen in words) or 1.0
    idfs = sum(idf for _terms, _weight, idf, _unseen in words) or 1.0

    def coverage(found: set[str], text: str) -> tuple[float, float]:
        by_weight = by_idf = 0.0
        for terms, weight, idf, unseen in words:
            if not terms.isdisjoint(found):
                share = 1.0
            elif unseen is not None:
                share = _share_in(unseen, text)
            else:
                continue
            by_weight += weight * share
            by_idf += idf * share
        return by_weight / weights, by_idf / idfs

    return coverage


def _share_in(chars: frozenset[str], text: str) -> float:
    """How much of an unseen word the text holds: the share of its characters (每个月 in 每月)."""
    return sum([ch in text for ch in chars]) / len(chars)


def _matched_terms(segment_ids: list[int], analysis: Analysis) -> dict[int, set[str]]:
    """For each segment, the question's index terms it contains."""
    if not segment_ids:
        return {}
    memory = memindex.current()
    ids, _ = memindex.index_terms(list(analysis.weights), memory)
    terms = {term_id: text for text, term_id in ids.items()}
    hits: dict[int, set[str]] = defaultdict(set)
    found = _postings(segment_ids, list(terms), memory)
    for of, term_id in zip(found.of.tolist(), found.term.tolist(), strict=True):
        hits[segment_ids[of]].add(terms[term_id])
    return hits


def _pipeline() -> Pipeline:
    """The components as a haystack Pipeline: the graph `_run` follows (tests compare them)."""
    pipe = Pipeline()
    pipe.add_component("analyser", QuestionAnalyser())
    pipe.add_component("keywords", KeywordRetriever())
    pipe.add_component("faq", FaqMatcher())
    pipe.add_component("embedding", EmbeddingRetriever())
    pipe.add_component("ranker", CandidateRanker())
    pipe.connect("analyser.analysis", "keywords.analysis")
    pipe.connect("keywords.analysis", "ranker.analysis")
    pipe.connect("keywords.analysis", "faq.analysis")
    pipe.connect("faq.faq_hits", "ranker.faq_hits")
    pipe.connect("faq.wording", "ranker.wording")
    pipe.connect("keywords.analysis", "embedding.analysis")
    pipe.connect("embedding.nearest", "ranker.nearest")
    pipe.connect("keywords.candidates", "ranker.candidates")
    return pipe


_ANALYSER = QuestionAnalyser()
_KEYWORDS = KeywordRetriever()
_FAQ = FaqMatcher()
_EMBEDDING = EmbeddingRetriever()
_RANKER = CandidateRanker()


def _run(
    question: str, k: int, user: User | None, categories: list[str]
) -> dict[str, dict[str, Any]]:
    """What `_pipeline().run(…, include_outputs_from={"keywords", "faq"})` returns, from the
    same components called directly in the graph's order: Pipeline.run's scheduling and its
    checks and copies of every socket cost about 1.3 ms of CPU per search."""
    analysed = _ANALYSER.run(question=question, asker=Asker(user))
    keywords = _KEYWORDS.run(analysis=analysed["analysis"])
    analysis = keywords["analysis"]
    faq = _FAQ.run(analysis=analysis)
    nearest = _EMBEDDING.run(analysis=analysis)["nearest"]
    ranker = _RANKER.run(
        analysis=analysis,
        candidates=keywords["candidates"],
        faq_hits=faq["faq_hits"],
        wording=faq["wording"],
        nearest=nearest,
        top_k=k,
        categories=categories,
    )
    return {"keywords": keywords, "faq": faq, "ranker": ranker}


def search(
    question: str,
    k: int = 3,
    *,
    user: User | None = None,
    categories: Collection[str] | None = None,
) -> SearchResult:
    """The passages that answer `question`, best first, and whether to abstain. `user` is who
    asks: model calls made on the way (rewriting, embedding) are metered to them. `categories`
    (slugs), when given, keeps only passages of documents in them (Write's sections). Identity-card
    and mobile numbers are masked first: the models see, and the result names, no such number."""
    started = time.perf_counter()
    # Masked first (look-alike digits and any gap between them are read as normalising would
    # read them), checked before the pipeline, which would wrap the error.
    question = check_question(mask_personal_numbers(question))
    with versions.pinned():  # one query tells whether the lexicon, FAQ or index changed
        result = _search(question, k, user, categories)
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


def _search(
    question: str, k: int, user: User | None, categories: Collection[str] | None
) -> SearchResult:
    out = _run(question, k, user, sorted(categories or ()))
    analysis = out["keywords"]["analysis"]
    result = SearchResult(
        question=analysis.question,
        passages=out["ranker"]["passages"],
        abstained=out["ranker"]["abstained"],
        coverage=out["ranker"]["coverage"],
        missed_key=out["ranker"]["missed_key"],
        unaided=out["ranker"]["unaided"],
        faq_hits=list(out["faq"]["faq_hits"]),
        analysis=analysis,
        elapsed_ms=0.0,
    )
    _lead_with_faq(result, k, categories)
    return result


def _lead_with_faq(result: SearchResult, k: int, categories: Collection[str] | None) -> None:
    """When a published FAQ entry answers the question by itself (the rule is
    `citing.faq_answer`'s, which Ask follows), the articles it rests on come first and the
    question is answered: Write, 命中测试 and evaluation see what Ask cites. Within
    `categories`, only the entry's articles in them lead, and only they make it answered."""
    from knowledge import citing  # citing builds on this module's passages

    faq = result.faq = citing.faq_answer(result)
    if faq is None:
        return
    lead = faq.passages
    if categories:
        allowed = set(
            answerable_segments()
            .filter(
                id__in=[p.segment_id for p in lead], document__category__slug__in=list(categories)
            )
            .values_list("id", flat=True)
        )
        lead = [p for p in lead if p.segment_id in allowed]
        if not lead:
            return
    ranked = {p.segment_id: p for p in result.passages}
    top = result.passages[0].score if result.passages else 0.0
    lead = [
        replace(
            ranked.get(p.segment_id, p),
            score=top,
            coverage=max(ranked.get(p.segment_id, p).coverage, faq.similarity),
        )
        for p in lead
    ]
    seen = {p.segment_id for p in lead}
    result.passages = [*lead, *(p for p in result.passages if p.segment_id not in seen)][:k]
    result.coverage = max(result.coverage, faq.similarity)
    result.abstained = result.missed_key = False
