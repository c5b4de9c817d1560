"""FAQ match: how close a question is to the questions (and variants) editors wrote down.

The FAQ table is small (thousands of rows), so each process keeps a token index of it and
rebuilds the index when the table changes (one aggregate query per search tells).
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Max

from knowledge.models import FaqCitation, FaqEntry, FaqStatus
from knowledge.text import normalise, segmenter

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
BIGRAM_WEIGHT = 1.0


@dataclass(frozen=True)
class FaqHit:
    faq_id: int
    question: str  # the entry's main question
    matched: str  # the question or variant that matched best
    similarity: float  # 0..1
    segment_id: int | None  # the segment the entry cites first


@dataclass
class FaqIndex:
    """The published FAQ wording as one process sees it, rebuilt when the FAQ change. A search
    takes it once (`current()`, which asks the database whether it changed) and passes it on."""

    version: tuple[object, ...] = ()
    texts: list[tuple[int, str, frozenset[str]]] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    norms: list[float] = field(default_factory=list)
    entries: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    # segment → every word and character pair of the FAQ wording that cites it first
    wording: dict[int, frozenset[str]] = field(default_factory=dict)
    rarest: float = 1.0  # the highest idf: the weight of a word no FAQ wording uses


_lock = threading.Lock()
_index = FaqIndex()


def version() -> tuple[object, ...]:
    faq = FaqEntry.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    cites = FaqCitation.objects.aggregate(n=Count("id"), last=Max("id"))
    return (faq["n"], faq["last"], cites["n"], cites["last"])


def _build(version: tuple[object, ...]) -> FaqIndex:
    index = FaqIndex(version=version)
    primary = dict(FaqCitation.objects.filter(position=0).values_list("faq_id", "segment_id"))
    for faq_id, question, variants in FaqEntry.objects.filter(
        status=FaqStatus.PUBLISHED
    ).values_list("id", "question", "variants"):
        index.entries[faq_id] = (question, primary.get(faq_id))
        for text in [question, *[str(v) for v in variants]]:
            tokens = frozenset(segmenter.tokens(text)) | bigrams(text)
            if tokens:
                index.texts.append((faq_id, text, tokens))
    wording: dict[int, set[str]] = defaultdict(set)
    for faq_id, _, tokens in index.texts:
        segment_id = index.entries[faq_id][1]
        if segment_id is not None:
            wording[segment_id] |= tokens
    index.wording = {k: frozenset(v) for k, v in wording.items()}
    df: dict[str, int] = defaultdict(int)
    for _, _, tokens in index.texts:
        for token in tokens:
            df[token] += 1
    n = max(len(index.texts), 1)
    index.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
    postings: dict[str, list[int]] = defaultdict(list)
    for i, (_, _, tokens) in enumerate(index.texts):
        index.norms.append(math.sqrt(sum(index.idf[t] ** 2 for t in tokens)))
        for token in tokens:
            postings[token].append(i)
    index.postings = dict(postings)
    index.rarest = max(index.idf.values(), default=1.0)
    return index


def current() -> FaqIndex:
    global _index
    latest = version()
    if latest != _index.version:
        with _lock:
            if latest != _index.version:
                _index = _build(latest)
    return _index


def bigrams(text: str) -> frozenset[str]:
    """Character pairs of the Chinese runs: they match where segmentation differs (被炒 / 炒了)."""
    out: set[str] = set()
    for run in _CJK_RUN.findall(normalise(text)):
        out.update("#" + run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(out)


def wording_coverage(
    weights: dict[str, float], question: str = "", index: FaqIndex | None = None
) -> dict[int, float]:
    """For each segment that FAQ cite first: the share of the question's weight (query weight
    times idf among FAQ texts) that the FAQ wording citing it contains, all its entries and
    variants together."""
    index = index or current()
    terms = dict(weights)
    for pair in bigrams(question):
        terms.setdefault(pair, BIGRAM_WEIGHT)
    query = {t: w * index.idf[t] for t, w in terms.items() if t in index.idf}
    total = sum(query.values())
    if not total:
        return {}
    return {
        seg: sum(v for t, v in query.items() if t in words) / total
        for seg, words in index.wording.items()
        if not words.isdisjoint(query)
    }


def match(
    weights: dict[str, float], limit: int = 5, question: str = "", index: FaqIndex | None = None
) -> list[FaqHit]:
    """The FAQ entries whose wording is closest to the question's terms (with their query
    weights), by idf-weighted cosine similarity; the best text per entry counts."""
    index = index or current()
    terms = dict(weights)
    for pair in bigrams(question):
        terms.setdefault(pair, BIGRAM_WEIGHT)
    query = {t: w * index.idf[t] for t, w in terms.items() if t in index.idf}
    if not query:
        return []
    query_norm = math.sqrt(sum(v * v for v in query.values()))
    dots: dict[int, float] = defaultdict(float)
    for term, qw in query.items():
        for i in index.postings.get(term, ()):
            dots[i] += qw * index.idf[term]
    best: dict[int, tuple[float, str]] = {}
    for i, dot in dots.items():
        faq_id, text, _ = index.texts[i]
        similarity = dot / (query_norm * index.norms[i])
        if similarity > best.get(faq_id, (0.0, ""))[0]:
            best[faq_id] = (similarity, text)
    ranked = sorted(best.items(), key=lambda item: -item[1][0])[:limit]
    return [
        FaqHit(
            faq_id=faq_id,
            question=index.entries[faq_id][0],
            matched=text,
            similarity=similarity,
            segment_id=index.entries[faq_id][1],
        )
        for faq_id, (similarity, text) in ranked
    ]


def word_weight(word: str, index: FaqIndex | None = None) -> float:
    """The idf of a word among the FAQ wordings (a word they never use weighs as the rarest)."""
    index = index or current()
    return index.idf.get(word, index.rarest)
