"""`manage.py reindex_knowledge [--now]`: rebuild the retrieval index (as a job, or here)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from knowledge import tasks
from knowledge.services import curation


class Command(BaseCommand):
    help = "Re-segment and re-index every segment: queued for the worker, or at once with --now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", action="store_true", help="run here instead of queueing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["now"]:
            count = curation.rebuild_index()
            self.stdout.write(f"indexed {count} segments")
        else:
            tasks.reindex_all.delay()
            self.stdout.write("re-index queued")
