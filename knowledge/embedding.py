"""Embedding retrieval, when an embedding model is configured: segment vectors kept in the
database, a per-process matrix of them for the cosine search, and the job that fills them."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import Count, Max

from knowledge import indexing, versions
from knowledge.indexing import indexable, own_text
from knowledge.models import DocumentStatus, Segment, SegmentEmbedding
from portal import ai
from portal.ai.errors import CircuitOpen
from portal.models import User
from portal.privacy import mask_personal_numbers

logger = logging.getLogger(__name__)
BATCH = 64


def available() -> bool:
    return ai.has_models("embedding")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _segments(ids: list[int]) -> dict[int, Segment]:
    return {
        s.id: s
        for s in Segment.objects.filter(id__in=ids)
        .select_related("document")
        .only("id", "context", "heading", "text", "enabled", "document__status")
        .order_by("id")
    }


def embed_segments(segment_ids: list[int]) -> int:
    """Embed the retrievable segments among these whose text changed since their vector was
    made; drop the vectors of the others. Idempotent. Returns how many were embedded (none
    when no embedding model is configured).

    Vectors are index data: every write takes the index lock first (the one lock order of all
    index writers) and looks at the segments again under it, because the model call, outside
    any transaction, takes seconds. A segment deleted or changed meanwhile is skipped: the
    change that touched it scheduled its own job."""
    if not available():
        return 0
    segments = _segments(segment_ids)
    existing = dict(
        SegmentEmbedding.objects.filter(segment_id__in=segment_ids).values_list(
            "segment_id", "text_hash"
        )
    )
    stale = [i for i, s in segments.items() if not indexable(s) and i in existing]
    if stale:
        with transaction.atomic():
            indexing.lock()
            now = _segments(stale)
            SegmentEmbedding.objects.filter(
                segment_id__in=[i for i in stale if i in now and not indexable(now[i])]
            ).delete()
    todo = [
        s for s in segments.values() if indexable(s) and existing.get(s.id) != _hash(own_text(s))
    ]
    done = 0
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        texts = [own_text(s) for s in batch]
        # Outside any transaction: a model call takes seconds. A document's personal numbers
        # never reach the model.
        vectors = ai.embed([mask_personal_numbers(t) for t in texts])
        with transaction.atomic():
            indexing.lock()
            now = _segments([s.id for s in batch])
            rows = []
            for segment, text, vector in zip(batch, texts, vectors, strict=True):  # id order
                current = now.get(segment.id)
                if current is None or not indexable(current) or own_text(current) != text:
                    continue
                array = np.asarray(vector, dtype="<f4")
                rows.append(
                    SegmentEmbedding(
                        segment_id=segment.id,
                        dims=len(array),
                        vector=array.tobytes(),
                        text_hash=_hash(text),
                    )
                )
            SegmentEmbedding.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["segment"],
                update_fields=["dims", "vector", "text_hash", "updated_at"],
            )
        done += len(rows)
    return done


@dataclass
class _Matrix:
    version: tuple[object, ...] = ()
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # dims → normalised rows
    rows: dict[int, np.ndarray] = field(default_factory=dict)  # dims → segment ids


_lock = threading.Lock()
_matrix = _Matrix()


def _load() -> _Matrix:
    global _matrix
    stats = SegmentEmbedding.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    version = (stats["n"], stats["last"])
    if version == _matrix.version:
        return _matrix
    with _lock:
        if version != _matrix.version:
            by_dims: dict[int, tuple[list[int], list[np.ndarray]]] = {}
            for seg_id, dims, blob in SegmentEmbedding.objects.values_list(
                "segment_id", "dims", "vector"
            ).iterator(chunk_size=2000):
                ids, rows = by_dims.setdefault(dims, ([], []))
                ids.append(seg_id)
                rows.append(np.frombuffer(bytes(blob), dtype="<f4"))
            matrix = _Matrix(version=version)
            for dims, (ids, rows) in by_dims.items():
                stacked = np.vstack(rows)
                norms = np.linalg.norm(stacked, axis=1, keepdims=True)
                matrix.vectors[dims] = stacked / np.where(norms == 0, 1, norms)
                matrix.rows[dims] = np.asarray(ids, dtype=np.int64)
            _matrix = matrix
    return _matrix


def preload() -> None:
    """Load the segment vectors now, when there are any (warm start)."""
    if SegmentEmbedding.objects.exists():
        _load()


def nearest(question: str, limit: int = 20, *, user: User | None = None) -> dict[int, float]:
    """Segment id → cosine similarity of the closest segments. Empty when no model is
    configured or the model fails: keyword retrieval then answers alone."""
    if not versions.read().embeddings or not available():
        return {}
    try:
        query = np.asarray(ai.embed([question], user=user)[0], dtype="<f4")
    except ai.AIError as exc:
        # Once the breaker has opened, portal.ai has said why; every question need not repeat it.
        log = logger.debug if isinstance(exc, CircuitOpen) else logger.warning
        log("embedding retrieval skipped: %s", exc.detail or exc.message)
        return {}
    matrix = _load()
    vectors = matrix.vectors.get(len(query))
    if vectors is None:
        return {}
    norm = float(np.linalg.norm(query)) or 1.0
    sims = vectors @ (query / norm)
    top = np.argsort(-sims)[:limit]
    published = set(
        Segment.objects.filter(
            id__in=[int(matrix.rows[len(query)][i]) for i in top],
            enabled=True,
            document__status=DocumentStatus.PUBLISHED,
        ).values_list("id", flat=True)
    )
    return {
        int(matrix.rows[len(query)][i]): float(sims[i])
        for i in top
        if int(matrix.rows[len(query)][i]) in published
    }
