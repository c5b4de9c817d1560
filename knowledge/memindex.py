"""The published index of a small knowledge base, kept in process memory.

Most unions' knowledge bases hold about a thousand segments: several database round trips per
search cost more there than the whole BM25 sum. Up to `KNOWLEDGE_MEMORY_INDEX_SEGMENTS`
indexed segments, each process keeps the posting lists and the terms' document frequencies in
numpy arrays, loaded when the index version (`IndexStats.version`, new with every write of
the index) changes, and retrieval reads them instead of the database. Above it, retrieval reads
the database, and keeps (per index version) the terms' ids and document frequencies and the
posting lists it read whole: the rare terms that pick the candidates, which questions share
(a character, a common word of the law), are read from the database once per process.

The sums are those of the SQL they replace, in the same order (each segment's terms by
ascending id, the order PostgreSQL reads the posting lists in): the same candidates and scores.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection
from django.db.models import Q

from knowledge import versions
from knowledge.indexing import PACKED_TERM, PACKED_TF
from knowledge.models import IndexTerm, Posting, SegmentTerms

FETCH = 20_000  # posting rows per fetch while loading
TERM_CACHE = 100_000  # terms kept per index version for a large index (then cleared)
PREFIX_CACHE = 2_000  # first characters whose terms are kept per index version
LIST_CACHE = 1_000_000  # postings of whole lists kept per index version (then cleared): 24 MB


@dataclass
class PostingList:
    rows: npt.NDArray[np.int64]  # the segments' positions in `MemoryIndex.ids`, ascending (or ids)
    tf: npt.NDArray[np.float64]
    length: npt.NDArray[np.float64]


@dataclass
class MemoryIndex:
    version: int
    segments: int
    terms: int
    vocabulary: dict[str, tuple[int, int]]  # text → (term id, df), df > 0
    postings: dict[int, PostingList]  # term id → its posting list
    ids: npt.NDArray[np.int64]  # the indexed segments' ids, ascending
    # The forward index: segment i's terms (ascending) and their tf are `terms[starts[i] :
    # starts[i + 1]]`, `tf[…]`; `lengths[i]` its length. A candidate's postings are read from
    # its own few hundred terms, not from the posting lists of every term asked for (a
    # question's translations name a thousand terms, the commonest of the law among them).
    starts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    terms_of: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tf_of: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    lengths: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    # first character → the terms of several characters that start with it (`terms_starting`)
    by_first: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Postings:
    """Postings of some segments (`of`: their positions in the segment ids asked for), each
    segment's terms in ascending id: the order in which BM25 sums them."""

    of: npt.NDArray[np.int64]
    term: npt.NDArray[np.int64]
    tf: npt.NDArray[np.float64]
    length: npt.NDArray[np.float64]

    @classmethod
    def from_rows(
        cls, segment_ids: Sequence[int], rows: list[tuple[int, int, int, int]]
    ) -> Postings:
        """From (segment, term, tf, length) rows sorted by term, then segment."""
        position = {s: i for i, s in enumerate(segment_ids)}
        table = np.array(rows, dtype=np.int64).reshape(-1, 4)
        return cls(
            of=np.array([position[s] for s in table[:, 0].tolist()], dtype=np.int64),
            term=table[:, 1].copy(),
            tf=table[:, 2].astype(np.float64),
            length=table[:, 3].astype(np.float64),
        )

    def only(self, term_ids: npt.NDArray[np.int64]) -> Postings:
        """The postings of these terms (in the same order)."""
        kept = np.isin(self.term, term_ids)
        return Postings(
            of=self.of[kept], term=self.term[kept], tf=self.tf[kept], length=self.length[kept]
        )

    @classmethod
    def from_packed(
        cls,
        segment_ids: Sequence[int],
        rows: Sequence[tuple[int, bytes, bytes, int]],
        term_ids: Sequence[int],
    ) -> Postings:
        """From forward-index rows (segment, its term ids as big-endian int8, their tf as
        int2, length; `SegmentTerms`), those of these terms, by term, then segment."""
        if not rows:
            return cls.from_rows(segment_ids, [])
        position = {s: i for i, s in enumerate(segment_ids)}
        counts = [len(terms) // np.dtype(PACKED_TERM).itemsize for _, terms, _, _ in rows]
        term = np.frombuffer(b"".join(r[1] for r in rows), dtype=PACKED_TERM).astype(np.int64)
        tf = np.frombuffer(b"".join(r[2] for r in rows), dtype=PACKED_TF).astype(np.float64)
        of = np.repeat(np.array([position[r[0]] for r in rows], dtype=np.int64), counts)
        length = np.repeat(np.array([r[3] for r in rows], dtype=np.float64), counts)
        segment = np.repeat(np.array([r[0] for r in rows], dtype=np.int64), counts)
        return cls.of_terms(cls(of=of, term=term, tf=tf, length=length), segment, term_ids)

    @classmethod
    def of_terms(
        cls, rows: Postings, segment: npt.NDArray[np.int64], term_ids: Sequence[int]
    ) -> Postings:
        """Of forward-index rows (`segment`: each row's segment id), those of these terms, by
        term, then segment."""
        kept = np.isin(rows.term, np.array(term_ids, dtype=np.int64))
        order = np.lexsort((segment[kept], rows.term[kept]))  # by term, then segment id
        return cls(
            of=rows.of[kept][order],
            term=rows.term[kept][order],
            tf=rows.tf[kept][order],
            length=rows.length[kept][order],
        )


@dataclass
class _ListCache:
    """Whole posting lists read from the database (segment ids ascending), for one index
    version."""

    version: int = -1
    lists: dict[int, PostingList] = field(default_factory=dict)
    postings: int = 0

    def add(self, lists: dict[int, PostingList]) -> None:
        self.lists.update(lists)
        self.postings += sum(len(p.rows) for p in lists.values())


@dataclass
class _TermCache:
    """The ids and document frequencies of terms already looked up, for one index version."""

    version: int = -1
    terms: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    # first character → the terms of several characters that start with it
    starting: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    documents: int | None = None  # the indexed documents (`documents_using`)
    using: dict[frozenset[str], int] = field(default_factory=dict)  # word group → documents


_lock = threading.Lock()
_index: MemoryIndex | None = None
_terms = _TermCache()
_terms_lock = threading.Lock()
_whole = _ListCache()
_whole_lock = threading.Lock()


def limit() -> int:
    return int(settings.KNOWLEDGE_MEMORY_INDEX_SEGMENTS)


def current() -> MemoryIndex | None:
    """The index in memory as the database holds it now (loaded or reloaded here when its
    version changed), or None when the knowledge base is larger than the limit."""
    global _index
    now = versions.read()
    if now.segments > limit():
        _index = None  # a knowledge base that grew past the limit frees the memory
        return None
    index = _index
    if index is not None and index.version == now.index:
        return index
    with _lock:
        if _index is None or _index.version != now.index:
            _index = _load(now)
        return _index


def _load(now: versions.Versions) -> MemoryIndex:
    """Read the index. The version was read before the postings: a write committed in between
    makes the next search load again, never keeps newer postings under an older version."""
    vocabulary = {
        text: (term_id, df)
        for text, term_id, df in IndexTerm.objects.filter(df__gt=0).values_list("text", "id", "df")
    }
    table = Posting._meta.db_table
    chunks: list[npt.NDArray[np.int64]] = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT term_id, segment_id, tf, length FROM {table}"  # noqa: S608
            " ORDER BY term_id, segment_id"
        )
        while rows := cursor.fetchmany(FETCH):
            chunks.append(np.array(rows, dtype=np.int64).reshape(-1, 4))
    rows_all = np.concatenate(chunks) if chunks else np.zeros((0, 4), dtype=np.int64)
    ids = np.unique(rows_all[:, 1])
    position = np.searchsorted(ids, rows_all[:, 1])
    tf = rows_all[:, 2].astype(np.float64)
    length = rows_all[:, 3].astype(np.float64)
    postings: dict[int, PostingList] = {}
    if len(rows_all):
        terms, starts = np.unique(rows_all[:, 0], return_index=True)
        ends = [*starts[1:].tolist(), len(rows_all)]
        for term_id, first, end in zip(terms.tolist(), starts.tolist(), ends, strict=True):
            postings[term_id] = PostingList(
                rows=position[first:end], tf=tf[first:end], length=length[first:end]
            )
    by_first: dict[str, list[str]] = {}
    for text in vocabulary:
        if len(text) > 1:
            by_first.setdefault(text[0], []).append(text)
    # The forward index: the rows by segment, each segment's terms still ascending.
    by_segment = np.argsort(position, kind="stable")
    lengths = np.zeros(len(ids))
    lengths[position] = length
    return MemoryIndex(
        by_first=by_first,
        version=now.index,
        segments=now.segments,
        terms=now.terms,
        vocabulary=vocabulary,
        postings=postings,
        ids=ids,
        starts=np.searchsorted(position[by_segment], np.arange(len(ids) + 1)).astype(np.int64),
        terms_of=rows_all[by_segment, 0].copy(),
        tf_of=rows_all[by_segment, 2].astype(np.int32),
        lengths=lengths,
    )


def index_terms(
    words: Sequence[str], index: MemoryIndex | None, starting: Collection[str] = ()
) -> tuple[dict[str, int], dict[int, int]]:
    """The ids of the words that are index terms (df > 0) and their document frequencies:
    from memory, or from the database through a per-version cache. `starting`: first
    characters whose terms `terms_starting` will be asked for, read from the database in the
    same query as the words."""
    if index is not None:
        found = {w: index.vocabulary[w] for w in words if w in index.vocabulary}
    else:
        found = _cached_terms(words, starting)
    return {w: t for w, (t, _) in found.items()}, {t: df for t, df in found.values()}


def _version_cache() -> _TermCache:
    """The term cache of the index version read for this search (a new one when it changed
    or grew past its bound)."""
    global _terms
    version = versions.read().index
    with _terms_lock:
        if (
            _terms.version != version
            or len(_terms.terms) > TERM_CACHE
            or len(_terms.starting) > PREFIX_CACHE
            or len(_terms.using) > TERM_CACHE
        ):
            _terms = _TermCache(version)
        return _terms


def _cached_terms(words: Sequence[str], starting: Collection[str]) -> dict[str, tuple[int, int]]:
    cache = _version_cache()
    _read_terms(cache, [w for w in words if w not in cache.terms], starting)
    return {w: hit for w in words if (hit := cache.terms.get(w)) is not None}


def documents_using(words: Collection[str]) -> tuple[int, int]:
    """How many indexed documents (published, enabled; in force today or not) hold one of the
    words as an index term, and how many are indexed: one query per new word group and one for
    the number of documents, per index version and process."""
    cache = _version_cache()
    group = frozenset(words)
    documents, using = cache.documents, cache.using.get(group)
    if documents is None:
        documents = cache.documents = (
            SegmentTerms.objects.values("segment__document").distinct().count()
        )
    if using is None:
        using = cache.using[group] = (
            Posting.objects.filter(term__text__in=sorted(group))
            .values("segment__document")
            .distinct()
            .count()
        )
    return using, documents


def _read_terms(cache: _TermCache, words: Sequence[str], starting: Collection[str]) -> None:
    """Read into the cache these words' terms and the terms of two characters or more that
    start with these characters (those not cached yet), in one query."""
    chars = [ch for ch in starting if ch not in cache.starting]
    if not words and not chars:
        return
    wanted = [Q(text__in=words)] if words else []
    wanted += [Q(text__startswith=ch) for ch in chars]
    rows = IndexTerm.objects.filter(reduce(operator.or_, wanted), df__gt=0).values_list(
        "text", "id", "df"
    )
    asked = set(words)
    fetched: dict[str, tuple[int, int] | None] = dict.fromkeys(words)
    prefixed: dict[str, dict[str, tuple[int, int]]] = {ch: {} for ch in chars}
    for text, term_id, df in rows:
        if text in asked:
            fetched[text] = (term_id, df)
        if len(text) > 1 and text[0] in prefixed:
            prefixed[text[0]][text] = (term_id, df)
    cache.terms.update(fetched)
    cache.starting.update(prefixed)


def terms_starting(chars: Collection[str], index: MemoryIndex | None) -> dict[str, tuple[int, int]]:
    """The index terms of two characters or more that start with one of these characters
    (text → id, df > 0): from memory, or from the database (the text's prefix index) through
    the per-version cache. Retrieval reads a short form's long forms from them."""
    if index is not None:
        return {t: index.vocabulary[t] for ch in chars for t in index.by_first.get(ch, ())}
    cache = _version_cache()
    _read_terms(cache, [], chars)
    return {t: hit for ch in chars for t, hit in cache.starting[ch].items()}


def list_cache() -> _ListCache:
    """The posting lists read whole from the database for the index version of the running
    search (`versions.read()`): a list is stored under the version read before it, so a list
    read after a write is never used by a search that sees the write's version, unless read
    after it too."""
    global _whole
    version = versions.read().index
    with _whole_lock:
        if _whole.version != version or _whole.postings > LIST_CACHE:
            _whole = _ListCache(version)
        return _whole


def _lists(
    index: MemoryIndex, term_ids: Iterable[int]
) -> tuple[npt.NDArray[np.int64], list[PostingList]]:
    """These terms (those in the index, ascending) and their posting lists."""
    terms = [t for t in sorted(set(term_ids)) if t in index.postings]
    return np.array(terms, dtype=np.int64), [index.postings[t] for t in terms]


def top_candidates(
    index: MemoryIndex, weight: dict[int, float], c1: float, c2: float, top_k: int
) -> list[int]:
    """The segments with the highest SUM(w * tf / (tf + c1 + c2 * length)) over the terms of
    `weight`, ties by segment id: KeywordRetriever's SQL, in memory."""
    terms, lists = _lists(index, weight)
    if not lists:
        return []
    rows, parts = _parts(lists, [weight[t] for t in terms.tolist()], c1, c2)
    size = len(index.ids)
    sums = np.bincount(rows, weights=parts, minlength=size)  # in term order, like the SQL
    found = np.flatnonzero(np.bincount(rows, minlength=size))
    return _best(index.ids[found], sums[found], top_k)


def top_of_lists(
    lists: list[tuple[float, PostingList]], c1: float, c2: float, top_k: int
) -> list[int]:
    """`top_candidates` over posting lists read from the database: (weight, list) in ascending
    term order, `PostingList.rows` holding segment ids."""
    if not lists:
        return []
    segments, parts = _parts([p for _, p in lists], [w for w, _ in lists], c1, c2)
    unique, position = np.unique(segments, return_inverse=True)
    sums = np.bincount(position, weights=parts)  # in term order
    return _best(unique, sums, top_k)


def _parts(
    lists: Sequence[PostingList], weights: Sequence[float], c1: float, c2: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The lists' rows, one after the other, and each posting's w * tf / (tf + c1 + c2 * length)."""
    rows = np.concatenate([p.rows for p in lists])
    tf = np.concatenate([p.tf for p in lists])
    length = np.concatenate([p.length for p in lists])
    w = np.repeat(weights, [len(p.rows) for p in lists])
    return rows, w * tf / (tf + c1 + c2 * length)


def _best(segments: npt.NDArray[np.int64], score: npt.NDArray[Any], top_k: int) -> list[int]:
    """The `top_k` segments of highest score, ties by id (or position, in the same order)."""
    if len(segments) > top_k:  # those that can be among the best (ties at the last place too)
        kept = score >= np.partition(score, len(score) - top_k)[len(score) - top_k]
        segments, score = segments[kept], score[kept]
    best = np.lexsort((segments, -score))[:top_k]
    return [int(s) for s in segments[best].tolist()]


def postings_of(
    index: MemoryIndex, segment_ids: Sequence[int], term_ids: Sequence[int]
) -> Postings:
    """The postings of these segments for these terms, by term, then segment (as the database
    returns them sorted)."""
    asked = np.array(segment_ids, dtype=np.int64)
    at = np.searchsorted(index.ids, asked)
    inside = at < len(index.ids)
    inside[inside] = index.ids[at[inside]] == asked[inside]
    if not len(term_ids) or not inside.any():
        return Postings.from_rows(segment_ids, [])
    position = at[inside]  # the segments' places in the index
    first = index.starts[position]
    counts = index.starts[position + 1] - first
    # Each segment's rows of the forward index, one segment after the other.
    rows = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    found = Postings(
        of=np.repeat(np.flatnonzero(inside), counts),
        term=index.terms_of[rows],
        tf=index.tf_of[rows].astype(np.float64),
        length=np.repeat(index.lengths[position], counts),
    )
    return Postings.of_terms(found, np.repeat(asked[inside], counts), term_ids)
