"""Background jobs of the knowledge base (queues in portal/celery.py)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="knowledge.tasks.reindex_all")
def reindex_all() -> int:
    """Re-segment and re-index every segment (after the lexicon's words changed). Idempotent."""
    from knowledge.services import curation

    return curation.rebuild_index()


@shared_task(name="knowledge.tasks.embed_segments")
def embed_segments(segment_ids: list[int]) -> int:
    """Vectors for changed retrievable segments (when an embedding model is configured)."""
    from knowledge import embedding
    from portal import ai

    try:
        return embedding.embed_segments(segment_ids)
    except ai.AIError as exc:  # keyword retrieval still answers; the next change retries
        logger.warning("embedding %d segments failed: %s", len(segment_ids), exc.detail)
        return 0


@shared_task(name="knowledge.tasks.refresh_question_analytics")
def refresh_question_analytics() -> int:
    """Question topics and weekly figures, rebuilt (daily, and when an editor asks). Safe to
    run twice: the same questions give the same topics."""
    from knowledge.services import analytics

    summary = analytics.refresh_question_analytics()
    logger.info(
        "question analytics: %d questions in %d topics, %d weekly rows, %.1f s",
        summary.questions,
        summary.topics,
        summary.weeks,
        summary.seconds,
    )
    return summary.topics


@shared_task(name="knowledge.tasks.close_stale_answers")
def close_stale_answers() -> int:
    """Answers left pending by a web process that died mid-answer become interrupted."""
    from knowledge.services import asking

    return asking.close_stale_answers()


@shared_task(
    name="knowledge.tasks.run_accuracy",
    soft_time_limit=3600,  # accuracy.RUN_TIME_LIMIT: up to 10,000 questions
    time_limit=3660,
)
def run_accuracy(run_id: int) -> bool:
    """Score a question set (the accuracy page's 运行). Safe to run twice: claimed once."""
    from knowledge.services import accuracy

    return accuracy.execute_run(run_id)


@shared_task(name="knowledge.tasks.sweep_accuracy_runs")
def sweep_accuracy_runs() -> int:
    """Put back runs whose worker died; re-send runs nobody claimed."""
    from knowledge.services import accuracy

    swept = accuracy.sweep_runs()
    return swept.requeued + swept.resent + swept.failed
