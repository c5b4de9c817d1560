"""`manage.py import_corpus DIR [--category NAME]`: every .md/.txt under DIR, published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from knowledge.models import Category
from knowledge.seed import import_corpus


class Command(BaseCommand):
    help = "Import every .md/.txt file under DIR as a published document (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--category", help="category name or slug for every document")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["directory"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a directory")
        category = None
        if options["category"]:
            category = Category.objects.filter(
                Q(name=options["category"]) | Q(slug=options["category"])
            ).first()
            if category is None:
                names = ", ".join(Category.objects.values_list("name", flat=True))
                raise CommandError(f"no category {options['category']!r}; there are: {names}")
        report = import_corpus(folder, category=category)
        for name in report.skipped:
            self.stderr.write(f"skipped {name}")
        self.stdout.write(
            f"created {len(report.created)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}, skipped {len(report.skipped)}"
        )
