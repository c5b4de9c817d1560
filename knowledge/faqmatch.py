"""FAQ match: how close a question is to the questions (and variants) editors wrote down.

The FAQ table is small (thousands of rows), so each process keeps a token index of it and
rebuilds the index when the table changes (`versions` tells, in the one query per search).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from knowledge import lexicon, versions
from knowledge.models import FaqCitation, FaqEntry, FaqStatus
from knowledge.text import HAN_RUN, BuildMemo, normalise, segmenter

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
    idf: dict[str, float] = field(default_factory=dict)
    entries: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    # segment → every word and character pair of the FAQ wording that cites it first
    wording: dict[int, frozenset[str]] = field(default_factory=dict)
    words: dict[int, frozenset[str]] = field(default_factory=dict)  # entry → its wording's
    rarest: float = 1.0  # the highest idf: the weight of a word no FAQ wording uses
    # As arrays for `match()` and `wording_coverage()` (`_vectorise`): a question costs numpy
    # passes over the posting lists of its terms instead of a Python loop.
    text_postings: dict[str, npt.NDArray[np.intp]] = field(default_factory=dict)
    text_norms: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    text_faq: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    wording_segments: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    wording_postings: dict[str, npt.NDArray[np.intp]] = field(default_factory=dict)


_lock = threading.Lock()
_index = FaqIndex()


def version() -> tuple[object, ...]:
    """The FAQ's version, and the lexicon's: its words decide how the wordings are segmented."""
    stats = versions.read()
    return (*stats.faq, stats.lexicon)


def _build(version: tuple[object, ...]) -> FaqIndex:
    index = FaqIndex(version=version)
    primary = dict(FaqCitation.objects.filter(position=0).values_list("faq_id", "segment_id"))
    entries = FaqEntry.objects.filter(status=FaqStatus.PUBLISHED)
    with _TERMS.build() as terms_of:
        for faq_id, question, variants in entries.values_list("id", "question", "variants"):
            index.entries[faq_id] = (question, primary.get(faq_id))
            for text in [question, *[str(v) for v in variants]]:
                if tokens := terms_of(text):
                    index.texts.append((faq_id, text, tokens))
    words: dict[int, set[str]] = defaultdict(set)
    wording: dict[int, set[str]] = defaultdict(set)
    for faq_id, _, tokens in index.texts:
        words[faq_id] |= tokens
        segment_id = index.entries[faq_id][1]
        if segment_id is not None:
            wording[segment_id] |= tokens
    index.words = {k: frozenset(v) for k, v in words.items()}
    index.wording = {k: frozenset(v) for k, v in wording.items()}
    _vectorise(index)
    return index


def _vectorise(index: FaqIndex) -> None:
    """The arrays of `index` for `match()`: each term's texts, the texts' norms and entries;
    for the wording, each term's segments (as positions in `index.wording`, whose order they
    keep). In numpy, since an FAQ edit makes every process build the index again: the same
    idf, norms and postings, to the last bit, as adding them up term by term in Python."""
    texts = [tokens for _, _, tokens in index.texts]
    vocabulary, terms, text_of, index.text_postings = _inverted(texts)
    df = np.bincount(terms, minlength=len(vocabulary))
    n = max(len(texts), 1)
    idf = [math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df.tolist()]
    index.idf = dict(zip(vocabulary, idf, strict=True))
    index.rarest = max(idf, default=1.0)
    # Each text's norm: its terms' idf squared (by Python's pow, as it always was: numpy's
    # square differs in the last bit now and then), added in the order of its terms.
    squares = np.array([v**2 for v in idf], dtype=np.float64)[terms]
    index.text_norms = np.sqrt(np.bincount(text_of, weights=squares, minlength=len(texts)))
    index.text_faq = np.array([faq_id for faq_id, _, _ in index.texts], dtype=np.int64)
    index.wording_segments = np.array(list(index.wording), dtype=np.int64)
    index.wording_postings = _inverted(list(index.wording.values()))[3]


def _inverted(
    collections: list[frozenset[str]],
) -> tuple[
    dict[str, int], npt.NDArray[np.intp], npt.NDArray[np.intp], dict[str, npt.NDArray[np.intp]]
]:
    """The terms of the collections: each term's id (in the order first met), every
    occurrence's term and collection, and each term's collections in their order."""
    vocabulary: dict[str, int] = {}
    ids: list[int] = []
    for terms in collections:
        ids.extend([vocabulary.setdefault(t, len(vocabulary)) for t in terms])
    term = np.array(ids, dtype=np.intp)
    position = np.repeat(np.arange(len(collections), dtype=np.intp), [len(c) for c in collections])
    if not vocabulary:
        return vocabulary, term, position, {}
    # A stable sort by term keeps each term's collections in order; cut at the term counts.
    ordered = position[np.argsort(term, kind="stable")]
    ends = np.cumsum(np.bincount(term, minlength=len(vocabulary))).tolist()
    starts = [0, *ends[:-1]]
    postings = {t: ordered[a:b] for t, a, b in zip(vocabulary, starts, ends, strict=True)}
    return vocabulary, term, position, postings


def _accumulate(
    lists: list[npt.NDArray[np.intp]], weights: list[float], size: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Each list's weight summed per position, in the order of the lists (np.bincount adds one
    value after the other, as the Python loop did: the same sums to the last bit), and the
    positions in the order they were first reached."""
    touched, sums = _sums(lists, weights, size)
    # Where each position was first reached: a minimum per position over the few thousand
    # postings, then a sort of the positions reached only (np.unique sorted every posting).
    first = np.full(size, len(touched), dtype=np.intp)
    np.minimum.at(first, touched, np.arange(len(touched), dtype=np.intp))
    reached = np.flatnonzero(first < len(touched))
    return reached[np.argsort(first[reached], kind="stable")], sums


def _sums(
    lists: list[npt.NDArray[np.intp]], weights: list[float], size: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """The postings concatenated, and each list's weight summed per position in list order."""
    touched = np.concatenate(lists)
    values = np.repeat(np.array(weights, dtype=np.float64), [len(x) for x in lists])
    sums = np.bincount(touched, weights=values, minlength=size).astype(np.float64, copy=False)
    return touched, sums


def current() -> FaqIndex:
    global _index
    latest = version()
    if latest != _index.version:
        with _lock:
            if latest != _index.version:
                lexicon.current()  # the segmenter with the lexicon's words as they stand
                _index = _build(latest)
    return _index


def _terms(text: str) -> frozenset[str]:
    """An FAQ wording's words and character pairs."""
    return frozenset(segmenter.tokens(text)) | bigrams(text)


_TERMS = BuildMemo(_terms)  # each wording's, kept from one build of the index to the next


def bigrams(text: str) -> frozenset[str]:
    """Character pairs of the Chinese runs: they match where segmentation differs (被炒 / 炒了)."""
    out: set[str] = set()
    for run in HAN_RUN.findall(normalise(text)):
        out.update("#" + run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(out)


def wording_coverage(
    weights: dict[str, float],
    question: str = "",
    index: FaqIndex | None = None,
    documents_words: Collection[str] = (),
) -> dict[int, float]:
    """For each segment that FAQ cite first: the share of the question's weight (query weight
    times idf among FAQ texts) that the FAQ wording citing it contains, all its entries and
    variants together. A word of the question that the documents use and no FAQ wording does
    (医疗期, where the FAQ were written about wages) weighs as the rarest: the question is about
    a matter the FAQ do not speak of, and the words they share with it are not the question."""
    index = index or current()
    terms = dict(weights)
    for pair in bigrams(question):
        terms.setdefault(pair, BIGRAM_WEIGHT)
    query = {t: w * index.idf[t] for t, w in terms.items() if t in index.idf}
    total = sum(query.values())
    total += sum(weights[t] * index.rarest for t in documents_words if t not in index.idf)
    if not total:
        return {}
    found = [t for t in query if t in index.wording_postings]
    if not found:
        return {}
    size = len(index.wording)
    touched, sums = _sums(
        [index.wording_postings[t] for t in found], [query[t] for t in found], size
    )
    seen = np.zeros(size, dtype=bool)
    seen[touched] = True
    reached = np.flatnonzero(seen)  # in the order of index.wording
    segments = index.wording_segments[reached].tolist()
    return dict(zip(segments, (sums[reached] / total).tolist(), strict=True))


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
    found = [t for t in query if t in index.text_postings]
    if not found:
        return []
    order, dots = _accumulate(
        [index.text_postings[t] for t in found],
        [query[t] * index.idf[t] for t in found],
        len(index.texts),
    )
    similarities = dots[order] / (query_norm * index.text_norms[order])
    return [
        FaqHit(
            faq_id=faq_id,
            question=index.entries[faq_id][0],
            matched=index.texts[i][1],
            similarity=similarity,
            segment_id=index.entries[faq_id][1],
        )
        for faq_id, similarity, i in _best_per_entry(
            index.text_faq[order], similarities, order, limit
        )
    ]


# The most similar texts looked at first, per hit asked for: they bound the similarity of the
# last hit from below, so only the texts at or above that bound are ranked.
CONTENDERS = 8


def _best_per_entry(
    faq: npt.NDArray[np.int64],
    similarity: npt.NDArray[np.float64],
    text: npt.NDArray[np.intp],
    limit: int,
) -> list[tuple[int, float, int]]:
    """(entry, similarity, text) of the `limit` entries with the most similar texts (each
    entry's best text: the first of equals, in the order the texts were reached), best first;
    equal entries in the order first reached."""
    if limit < 1:
        return []
    rows = np.arange(len(faq))
    subset = False
    if len(faq) > CONTENDERS * limit:
        # An entry among the `limit` best has a text at least as similar as the limit-th best
        # entry among the most similar texts: every other text is left out of the sorts below.
        top = np.argpartition(-similarity, CONTENDERS * limit - 1)[: CONTENDERS * limit]
        best_of: dict[int, float] = {}
        for entry, value in zip(faq[top].tolist(), similarity[top].tolist(), strict=True):
            best_of[entry] = max(best_of.get(entry, value), value)
        if len(best_of) >= limit:
            floor = sorted(best_of.values(), reverse=True)[limit - 1]
            rows, subset = np.flatnonzero(similarity >= floor), True
    # By entry, then best first, then reached.
    rows = rows[np.lexsort((rows, -similarity[rows], faq[rows]))]
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = faq[rows][1:] != faq[rows][:-1]
    best = rows[starts]  # each entry's best text
    if subset:  # where each entry was first reached, among all the texts
        first_seen = (faq[None, :] == faq[best][:, None]).argmax(axis=1)
    else:
        first_seen = np.minimum.reduceat(rows, np.flatnonzero(starts))
    ranked = best[np.lexsort((first_seen, -similarity[best]))][:limit]
    return list(
        zip(faq[ranked].tolist(), similarity[ranked].tolist(), text[ranked].tolist(), strict=True)
    )


def word_weight(word: str, index: FaqIndex | None = None) -> float:
    """The idf of a word among the FAQ wordings (a word they never use weighs as the rarest)."""
    index = index or current()
    return index.idf.get(word, index.rarest)
