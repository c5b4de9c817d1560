"""The inverted index: postings, term document frequencies and collection statistics, and the
forward index (each segment's postings packed in one row: `SegmentTerms`), written in the same
transaction as the content they describe."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable

import numpy as np
from django.db import connection, transaction

from knowledge import lexicon
from knowledge.models import (
    Category,
    Document,
    DocumentStatus,
    IndexStats,
    IndexTerm,
    Posting,
    Segment,
    SegmentTerms,
)
from knowledge.text import characters, segmenter

BATCH = 2000


def own_text(segment: Segment) -> str:
    """The segment's own words: its law title and chapter, heading and text. Only these: FAQ
    wording indexed into the articles it cites made those articles win the questions of
    documents nobody wrote FAQ for. The FAQ reach their articles through the FAQ match, and
    every document through the word associations learned from them (`associations`)."""
    return "\n".join(p for p in (segment.context, segment.heading, segment.text) if p)


def indexable(segment: Segment) -> bool:
    return segment.enabled and segment.document.status == DocumentStatus.PUBLISHED


def _segments(ids: Iterable[int]) -> list[Segment]:
    return list(
        Segment.objects.filter(id__in=list(ids))
        .select_related("document")
        .only("id", "context", "heading", "text", "enabled", "term_count", "document__status")
        .order_by("id")
    )


def _stats() -> IndexStats:
    stats, _ = IndexStats.objects.select_for_update().get_or_create(pk=1)
    return stats


def _save(stats: IndexStats) -> None:
    """Write the statistics with a new index version (what `memindex` reloads on)."""
    stats.version = secrets.randbits(62)
    stats.save(update_fields=["segments", "terms", "version"])


def reindex(segment_ids: Iterable[int]) -> list[int]:
    """Bring the index up to date for these segments: drop their postings, then index again
    those that are retrievable. Must run inside the transaction that changed them. Returns the
    segments' ids (the service that commits schedules their embeddings)."""
    ids = sorted(set(segment_ids))
    if not ids:
        return ids
    lexicon.current()  # the segmenter must know the editors' words
    with transaction.atomic():
        stats = _stats()
        for start in range(0, len(ids), BATCH):
            _reindex_batch(ids[start : start + BATCH], stats)
        _save(stats)
    return ids


def touch() -> None:
    """A new index version with the same postings: what retrieval keeps of the passages
    besides their words changed (a category's name, `retrieval.kept_rows`)."""
    with transaction.atomic():
        _save(lock())


def lock() -> IndexStats:
    """Take the index lock (the statistics row). Services that lock content rows take this
    first, so that every writer locks in the same order."""
    return _stats()


def unindex(segment_ids: Iterable[int], *, locked: IndexStats | None = None) -> None:
    """Take these segments out of the index (before they are deleted). `locked`: the
    statistics row as the caller locked it in this transaction, and nothing wrote it since
    (saves a second lock query)."""
    ids = sorted(set(segment_ids))
    if not ids:
        return
    with transaction.atomic():
        stats = locked if locked is not None else _stats()
        df_delta: Counter[int] = Counter()
        for start in range(0, len(ids), BATCH):
            _drop_postings(ids[start : start + BATCH], stats, df_delta)
        Segment.objects.filter(id__in=ids, term_count__gt=0).update(term_count=0)
        _add_to_df(sorted((t, d) for t, d in df_delta.items() if d))
        _save(stats)


def _drop_postings(ids: list[int], stats: IndexStats, df_delta: Counter[int]) -> None:
    old = Posting.objects.filter(segment_id__in=ids)
    for term_id in old.values_list("term_id", flat=True):
        df_delta[term_id] -= 1
    for length in Segment.objects.filter(id__in=ids, term_count__gt=0).values_list(
        "term_count", flat=True
    ):
        stats.segments -= 1
        stats.terms -= length
    old.delete()
    SegmentTerms.objects.filter(segment_id__in=ids).delete()


def _reindex_batch(ids: list[int], stats: IndexStats) -> None:
    df_delta: Counter[int] = Counter()
    _drop_postings(ids, stats, df_delta)

    counted: dict[int, Counter[str]] = {}
    lengths: dict[int, int] = {}
    segments = _segments(ids)
    for segment in segments:
        if indexable(segment):
            text = own_text(segment)
            tokens = segmenter.tokens(text) + characters(text)
            counted[segment.id] = Counter(tokens)
            lengths[segment.id] = len(tokens)
    vocabulary = sorted({t for c in counted.values() for t in c})
    IndexTerm.objects.bulk_create(
        [IndexTerm(text=t) for t in vocabulary], ignore_conflicts=True, batch_size=BATCH
    )
    term_ids: dict[str, int] = {}
    for start in range(0, len(vocabulary), BATCH):
        chunk = vocabulary[start : start + BATCH]
        term_ids.update(IndexTerm.objects.filter(text__in=chunk).values_list("text", "id"))

    postings = []
    packed = []
    for segment in segments:
        counts = counted.get(segment.id)
        length = lengths.get(segment.id, 0)
        segment.term_count = length
        if not counts:
            continue
        stats.segments += 1
        stats.terms += length
        own = sorted((term_ids[term], min(tf, 32767)) for term, tf in counts.items())
        for term_id, tf in own:
            df_delta[term_id] += 1
            postings.append(Posting(segment_id=segment.id, term_id=term_id, tf=tf, length=length))
        packed.append(_packed(segment.id, own, length))
    Posting.objects.bulk_create(postings, batch_size=BATCH)
    SegmentTerms.objects.bulk_create(packed, batch_size=BATCH // 10)
    Segment.objects.bulk_update(segments, ["term_count"], batch_size=BATCH)

    _add_to_df(sorted((t, d) for t, d in df_delta.items() if d))


# How the forward index packs a segment's term ids and tf (`memindex.Postings.from_packed`
# reads them so): big-endian int8 and int2, as PostgreSQL's int8send and int2send write them.
PACKED_TERM = ">i8"
PACKED_TF = ">i2"


def _packed(segment_id: int, own: list[tuple[int, int]], length: int) -> SegmentTerms:
    """A segment's postings (term id, tf), by ascending term id, as its forward-index row."""
    pairs = np.array(own, dtype=np.int64).reshape(-1, 2)
    return SegmentTerms(
        segment_id=segment_id,
        terms=pairs[:, 0].astype(PACKED_TERM).tobytes(),
        tf=pairs[:, 1].astype(PACKED_TF).tobytes(),
        length=length,
    )


def _add_to_df(deltas: list[tuple[int, int]]) -> None:
    """df += delta for many terms in one statement per batch (PostgreSQL and SQLite both name
    the columns of a VALUES list column1, column2). The row locks serialise concurrent
    writers; ids in order avoid deadlocks."""
    table = IndexTerm._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(deltas), BATCH):
            chunk = deltas[start : start + BATCH]
            values = ", ".join("(%s, %s)" for _ in chunk)
            cursor.execute(
                f"UPDATE {table} SET df = {table}.df + v.column2"  # noqa: S608
                f" FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                [x for pair in chunk for x in pair],
            )


def reindex_all() -> int:
    """Rebuild the whole index in one transaction (after lexicon changes); returns the number of
    segments indexed."""
    with transaction.atomic():
        stats = _stats()
        Posting.objects.all().delete()
        SegmentTerms.objects.all().delete()
        IndexTerm.objects.update(df=0)
        Segment.objects.filter(term_count__gt=0).update(term_count=0)
        stats.segments = 0
        stats.terms = 0
        ids = list(Segment.objects.values_list("id", flat=True).order_by("id"))
        lexicon.current()
        for start in range(0, len(ids), BATCH):
            _reindex_batch(ids[start : start + BATCH], stats)
        IndexTerm.objects.filter(df=0).delete()
        _save(stats)
        return stats.segments


def vacuum() -> None:
    """After a bulk load on PostgreSQL: refresh the planner's statistics and the visibility map,
    so that posting lists are read by index-only scans (autovacuum would get there later).
    Documents and categories too: autovacuum never analyses a table of fewer than 50 changed
    rows, and without statistics PostgreSQL read the candidates' rows (retrieval's
    `candidate_rows`) by scanning the segments' primary key once per document (20 documents
    at 100,000 segments: 4,800 buffers, 3 ms; with them: a hash join, 240 buffers, 0.5 ms)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (Posting, SegmentTerms, IndexTerm, Segment, Document, Category):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
