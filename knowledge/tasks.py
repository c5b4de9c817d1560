"""Background jobs of the knowledge base (queue `llm`, see portal/celery.py)."""

from __future__ import annotations

from celery import shared_task

from knowledge import indexing


@shared_task(name="knowledge.tasks.reindex_all")
def reindex_all() -> int:
    """Re-segment and re-index every segment (after the lexicon's words changed). Idempotent."""
    return indexing.reindex_all()
