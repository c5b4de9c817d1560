"""What retrieval's per-process snapshots were built from, read in one round trip.

Each process keeps the lexicon (`lexicon`), the FAQ index (`faqmatch`, and the associations
learned from it) and, for a small knowledge base, the posting lists (`memindex`), and rebuilds
each when its part of the database changes. Asking the database whether they changed (and
whether any segment has an embedding) used to cost five queries per search; `read()` asks
once, and inside `pinned()` (what `search()` runs in) every snapshot takes its part of that
one answer.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection

from knowledge.models import (
    Document,
    FaqCitation,
    FaqEntry,
    IndexStats,
    LexiconEntry,
    SegmentEmbedding,
)


@dataclass(frozen=True)
class Versions:
    lexicon: tuple[object, ...]  # entries, last change
    faq: tuple[object, ...]  # entries, last change, citations, last citation
    segments: int  # IndexStats: indexed segments
    terms: int  # IndexStats: their total length
    index: int  # IndexStats.version: new with every write of the index
    embeddings: bool  # whether any segment has an embedding
    # Documents: count, last change. Every edit through `curation` also writes the index (a
    # new version); this catches a document saved otherwise, whose title, level or dates
    # retrieval keeps with a small index.
    documents: tuple[object, ...] = ()


def _sql() -> str:
    lexicon = LexiconEntry._meta.db_table
    faq = FaqEntry._meta.db_table
    cites = FaqCitation._meta.db_table
    stats = IndexStats._meta.db_table
    vectors = SegmentEmbedding._meta.db_table
    documents = Document._meta.db_table
    return (
        f"SELECT (SELECT COUNT(*) FROM {lexicon}), (SELECT MAX(updated_at) FROM {lexicon}),"  # noqa: S608
        f" (SELECT COUNT(*) FROM {faq}), (SELECT MAX(updated_at) FROM {faq}),"
        f" (SELECT COUNT(*) FROM {cites}), (SELECT MAX(id) FROM {cites}),"
        f" (SELECT segments FROM {stats} WHERE id = 1), (SELECT terms FROM {stats} WHERE id = 1),"
        f" (SELECT version FROM {stats} WHERE id = 1),"
        f" EXISTS (SELECT 1 FROM {vectors}),"
        f" (SELECT COUNT(*) FROM {documents}), (SELECT MAX(updated_at) FROM {documents})"
    )


def _query() -> Versions:
    with connection.cursor() as cursor:
        cursor.execute(_sql())
        row = cursor.fetchone()
    lex_n, lex_last, faq_n, faq_last, cite_n, cite_last, segments, terms, index, vectors = row[:10]
    return Versions(
        lexicon=(lex_n, lex_last),
        faq=(faq_n, faq_last, cite_n, cite_last),
        segments=segments or 0,
        terms=terms or 0,
        index=index or 0,
        embeddings=bool(vectors),
        documents=tuple(row[10:]),
    )


_pinned: contextvars.ContextVar[Versions | None] = contextvars.ContextVar(
    "knowledge_versions", default=None
)


def read() -> Versions:
    """The versions as the database holds them now, or as pinned for the running search."""
    return _pinned.get() or _query()


@contextmanager
def pinned() -> Iterator[Versions]:
    """Read the versions once for everything that runs inside (one search)."""
    token = _pinned.set(_query())
    try:
        yield _pinned.get() or _query()
    finally:
        _pinned.reset(token)
