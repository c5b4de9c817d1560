"""Write's jobs (queue `llm`, a thread pool: they wait on model calls): thin, by primary key,
safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def write_section(section_id: int) -> None:
    from writer.services.drafting import run_section

    run_section(section_id)


@shared_task
def sweep_sections() -> None:
    from writer.services.drafting import sweep_sections as sweep

    sweep()


@shared_task(acks_late=True)
def render_pdf(export_id: int) -> None:
    from writer.services.exporting import run_pdf

    run_pdf(export_id)


@shared_task
def sweep_exports() -> None:
    from writer.services.exporting import sweep_exports as sweep

    sweep()
