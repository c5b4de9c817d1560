"""What an answer cites besides the ranked segments: the FAQ entry that answers the question by
itself (with the laws and articles it names), and the articles a cited article refers to.

An editor's FAQ answer is knowledge of its own: when a published entry is worded like the
question (`FAQ_ANSWER_SIMILARITY`) and its wording covers the question's words, Ask answers
with it — quoted without a model, given to the model as a passage with one. It is cited as
常见问题 with the laws and articles it rests on: the segments the entry cites, then the
《law》第X条 its answer names, each linked when that article is answerable in the base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import QuerySet

from knowledge import faqmatch
from knowledge.models import (
    Document,
    DocumentStatus,
    FaqCitation,
    FaqEntry,
    FaqStatus,
    LexiconKind,
    Segment,
)
from knowledge.retrieval import (
    Analysis,
    Passage,
    SearchResult,
    answerable_segments,
    candidate_rows,
    passage_rows,
)
from knowledge.text import normalise

FAQ_ANSWER_SIMILARITY = 0.5  # an entry this close to the question may answer it
# …unless the question's words it lacks weigh more than this share (idf among FAQ wordings):
# 陪产假 is not 产假, 婚假 is not 年假.
FAQ_MAX_MISSING = 0.45
# …or, when the articles it cites are in the base, unless they rank among the first few
# (below this likeness: an entry worded as the question answers it whatever the ranking).
FAQ_SAME_WORDING = 0.8
FAQ_SOURCES = 3  # the articles an FAQ answer quotes or hands to the model with it
MAX_REFERENCES = 2  # an article naming more than this many others is a list, not a span

_NATION = "中华人民共和国"
_NUMBER = "一二三四五六七八九十百千零〇两"
_NAMED = re.compile(rf"《(?P<title>[^《》]{{2,60}})》|第(?P<article>[{_NUMBER}\d]+)条")
_REFERENCE = re.compile(
    rf"《(?P<title>[^《》]{{2,60}})》|(?P<own>本法|本条例|本规定|本办法|本细则|本解释)"
    rf"|第(?P<article>[{_NUMBER}\d]+)条|(?P<stop>[。；;\n])"
)


@dataclass(frozen=True)
class Source:
    """A law and article an FAQ answer rests on; `passage` when it is answerable in the base."""

    document: str
    article: str
    passage: Passage | None = None


@dataclass
class FaqAnswer:
    faq_id: int
    question: str
    answer: str
    similarity: float
    sources: list[Source] = field(default_factory=list)
    category_id: int | None = None  # the entry's category as read with it

    @property
    def passages(self) -> list[Passage]:
        """The answerable articles it rests on, in the order the entry gives them."""
        return [s.passage for s in self.sources if s.passage is not None][:FAQ_SOURCES]


def faq_answer(result: SearchResult) -> FaqAnswer | None:
    """The published FAQ entry that answers the question by itself, if one does."""
    hits = [h for h in result.faq_hits if h.similarity >= FAQ_ANSWER_SIMILARITY]
    if not hits:
        return None
    entries = FaqEntry.objects.filter(
        pk__in=[h.faq_id for h in hits], status=FaqStatus.PUBLISHED
    ).in_bulk()
    for hit in hits:  # best first
        entry = entries.get(hit.faq_id)
        if entry is None or missing_share(result.analysis, entry) > FAQ_MAX_MISSING:
            continue
        answer = FaqAnswer(
            faq_id=entry.pk,
            question=entry.question,
            answer=entry.answer,
            similarity=hit.similarity,
            sources=sources_of(entry),
            category_id=entry.category_id,
        )
        rests_on = {p.segment_id for p in answer.passages}
        if rests_on and not rests_on & result.unaided and hit.similarity < FAQ_SAME_WORDING:
            # Its articles are in the base, yet the question's own words rank others first
            # (FAQ aside: the entry's own bonus would vouch for itself): the entry shares the
            # question's words, not its matter (法律援助能代理仲裁吗 and an entry on the union's
            # legal aid, beside the 法律援助法 itself).
            continue
        return answer
    return None


def missing_share(analysis: Analysis, entry: FaqEntry) -> float:
    """The share of the question's words (by their weight among FAQ wordings) that appear
    nowhere in the entry: its question, its variants, its answer. A word counts as found by
    itself or by a synonym of the lexicon; not by a part of it (产假 in 陪产假), nor by the
    formal words a colloquial phrase maps to (陪产假 → 生育 is about, not the same as, 产假)."""
    text = normalise(" ".join([entry.question, *map(str, entry.variants), entry.answer]))
    total = missing = 0.0
    for concept in analysis.concepts:
        weight = faqmatch.word_weight(concept.word, analysis.faq)
        total += weight
        names = {concept.word} | {
            e.target
            for e in analysis.expansions
            if e.kind == LexiconKind.SYNONYM and e.phrase in concept.word
        }
        if not any(name in text for name in names):
            missing += weight
    return missing / total if total else 1.0


def sources_of(entry: FaqEntry) -> list[Source]:
    """The articles the entry cites, then those its answer names (《劳动合同法》第三十八条),
    each once; linked to its passage when the article is answerable today."""
    cited = list(
        FaqCitation.objects.filter(faq=entry)
        .select_related("segment__document")
        .order_by("position")
        .values_list("segment_id", "segment__document__title", "segment__heading")
    )
    passages = _passages([segment_id for segment_id, _, _ in cited])
    sources = [
        Source(title, heading, passages.get(segment_id)) for segment_id, title, heading in cited
    ]
    seen = {(_short(s.document), s.article) for s in sources}
    for title, article in named_articles(entry.answer):
        if (_short(title), article) not in seen:
            seen.add((_short(title), article))
            sources.append(Source(title, article, _find(title, article)))
    return sources


def named_articles(text: str) -> list[tuple[str, str]]:
    """The (law, article) pairs a text names: 《劳动合同法》第三十八条、第四十六条 names two."""
    found: list[tuple[str, str]] = []
    title = ""
    for match in _NAMED.finditer(text):
        if match["title"]:
            title = match["title"]
        elif match["article"] and title:
            pair = (title, f"第{match['article']}条")
            if pair not in found:
                found.append(pair)
    return found


def references(passage: Passage, exclude: set[int]) -> list[Passage]:
    """The articles a passage refers to (依照本法第四十七条, 《劳动法》第四十四条), when it refers
    to at most MAX_REFERENCES of them: a rule and its exception, a duty and its penalty are
    answered together."""
    body = passage.text.removeprefix(passage.heading)
    named: list[tuple[str, str]] = []  # (title, article); "" is the passage's own document
    title = ""
    for match in _REFERENCE.finditer(body):
        if match["title"]:
            title = match["title"]
        elif match["own"] or match["stop"]:
            title = ""
        elif match["article"]:
            pair = (title, f"第{match['article']}条")
            if pair not in named and pair != ("", passage.heading):
                named.append(pair)
    if not named or len(named) > MAX_REFERENCES:
        return []
    out: list[Passage] = []
    for title, article in named:
        found = (
            _find(title, article)
            if title
            else _first(
                answerable_segments().filter(document_id=passage.document_id, heading=article)
            )
        )
        if found is not None and found.segment_id not in exclude:
            out.append(found)
            exclude.add(found.segment_id)
    return out


def _short(title: str) -> str:
    return title.removeprefix(_NATION)


def _find(title: str, article: str) -> Passage | None:
    """The answerable article of a law named by its title, with or without 中华人民共和国."""
    documents = Document.objects.filter(
        title__in={title, _short(title), _NATION + _short(title)},
        status=DocumentStatus.PUBLISHED,
    ).values_list("pk", flat=True)
    return _first(answerable_segments().filter(document_id__in=list(documents), heading=article))


def _first(segments: QuerySet[Segment]) -> Passage | None:
    """The first of these segments as a passage (read as values: never the document's body)."""
    rows = passage_rows(segments.order_by("document_id", "position")[:1])
    return Passage.of_row(rows[0], score=0.0, coverage=0.0, matched=[]) if rows else None


def _passages(segment_ids: list[int]) -> dict[int, Passage]:
    return {
        row.id: Passage.of_row(row, score=0.0, coverage=0.0, matched=[])
        for row in candidate_rows(segment_ids, None)
    }
