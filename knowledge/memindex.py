"""The published index of a small knowledge base, kept in process memory.

Most unions' knowledge bases hold about a thousand segments: several database round trips per
search cost more there than the whole BM25 sum. Up to `KNOWLEDGE_MEMORY_INDEX_SEGMENTS`
indexed segments, each process keeps the posting lists and the terms' document frequencies in
numpy arrays, loaded when the index version (`IndexStats.version`, new with every write of
the index) changes, and retrieval reads them instead of the database. Above it, retrieval reads
the database, and only the terms' ids and document frequencies are kept (per index version).

The sums are those of the SQL they replace, in the same order (each segment's terms by
ascending id, the order PostgreSQL reads the posting lists in): the same candidates and scores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection

from knowledge import versions
from knowledge.models import IndexTerm, Posting

FETCH = 20_000  # posting rows per fetch while loading
TERM_CACHE = 100_000  # terms kept per index version for a large index (then cleared)


@dataclass
class PostingList:
    segments: npt.NDArray[np.int64]  # ascending
    tf: npt.NDArray[np.float64]
    length: npt.NDArray[np.float64]


@dataclass
class MemoryIndex:
    version: int
    segments: int
    terms: int
    vocabulary: dict[str, tuple[int, int]]  # text → (term id, df), df > 0
    postings: dict[int, PostingList]  # term id → its posting list


@dataclass
class _TermCache:
    """The ids and document frequencies of terms already looked up, for one index version."""

    version: int = -1
    terms: dict[str, tuple[int, int] | None] = field(default_factory=dict)


_lock = threading.Lock()
_index: MemoryIndex | None = None
_terms = _TermCache()
_terms_lock = threading.Lock()


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
    postings: dict[int, PostingList] = {}
    if len(rows_all):
        terms, starts = np.unique(rows_all[:, 0], return_index=True)
        ends = [*starts[1:].tolist(), len(rows_all)]
        for term_id, start, end in zip(terms.tolist(), starts.tolist(), ends, strict=True):
            block = rows_all[start:end]
            postings[term_id] = PostingList(
                segments=block[:, 1].copy(),
                tf=block[:, 2].astype(np.float64),
                length=block[:, 3].astype(np.float64),
            )
    return MemoryIndex(
        version=now.index,
        segments=now.segments,
        terms=now.terms,
        vocabulary=vocabulary,
        postings=postings,
    )


def index_terms(
    words: Sequence[str], index: MemoryIndex | None
) -> tuple[dict[str, int], dict[int, int]]:
    """The ids of the words that are index terms (df > 0) and their document frequencies:
    from memory, or from the database through a per-version cache."""
    if index is not None:
        found = {w: index.vocabulary[w] for w in words if w in index.vocabulary}
    else:
        found = _cached_terms(words)
    return {w: t for w, (t, _) in found.items()}, {t: df for t, df in found.values()}


def _cached_terms(words: Sequence[str]) -> dict[str, tuple[int, int]]:
    global _terms
    version = versions.read().index
    with _terms_lock:
        if _terms.version != version or len(_terms.terms) > TERM_CACHE:
            _terms = _TermCache(version)
        cache = _terms
    missing = [w for w in words if w not in cache.terms]
    if missing:
        rows = IndexTerm.objects.filter(text__in=missing, df__gt=0).values_list("text", "id", "df")
        fetched: dict[str, tuple[int, int] | None] = dict.fromkeys(missing)
        fetched.update({text: (term_id, df) for text, term_id, df in rows})
        cache.terms.update(fetched)
    return {w: hit for w in words if (hit := cache.terms.get(w)) is not None}


def top_candidates(
    index: MemoryIndex, weight: dict[int, float], c1: float, c2: float, top_k: int
) -> list[int]:
    """The segments with the highest SUM(w * tf / (tf + c1 + c2 * length)) over the terms of
    `weight`, ties by segment id: KeywordRetriever's SQL, in memory."""
    lists = [(index.postings[t], w) for t, w in sorted(weight.items()) if t in index.postings]
    if not lists:
        return []
    segments = np.concatenate([p.segments for p, _ in lists])
    parts = [w * p.tf / (p.tf + c1 + c2 * p.length) for p, w in lists]
    unique, position = np.unique(segments, return_inverse=True)
    sums = np.bincount(position, weights=np.concatenate(parts))  # in term order, like the SQL
    best = np.lexsort((unique, -sums))[:top_k]
    return [int(s) for s in unique[best].tolist()]


def postings_of(
    index: MemoryIndex, segment_ids: Sequence[int], term_ids: Sequence[int]
) -> list[tuple[int, int, int, int]]:
    """(segment, term, tf, length) of these segments for these terms, by term, then segment."""
    wanted = np.array(sorted(set(segment_ids)), dtype=np.int64)
    rows: list[tuple[int, int, int, int]] = []
    if not len(wanted):
        return rows
    for term_id in sorted(set(term_ids)):
        plist = index.postings.get(term_id)
        if plist is None:
            continue
        at = np.searchsorted(plist.segments, wanted)
        inside = at < len(plist.segments)
        at = at[inside]
        at = at[plist.segments[at] == wanted[inside]]
        rows.extend(
            (seg, term_id, int(tf), int(length))
            for seg, tf, length in zip(
                plist.segments[at].tolist(),
                plist.tf[at].tolist(),
                plist.length[at].tolist(),
                strict=True,
            )
        )
    return rows
