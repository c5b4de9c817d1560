"""`manage.py evaluate_retrieval PATH [--k 3] [--json]`: retrieval figures on a question set.

The parsing and scoring are the accuracy page's (`knowledge.services.accuracy`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge import associations
from knowledge.services import accuracy


class Command(BaseCommand):
    help = "Run every question of a JSONL file through search() and print hit@1, hit@k, MRR…"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--k", type=int, default=3)
        parser.add_argument("--json", action="store_true", help="per-question lines as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        k: int = options["k"]
        if k < 1:
            raise CommandError("--k must be at least 1")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        parsed = accuracy.parse_questions(text)
        resolved = accuracy.resolve(parsed.lines)
        errors = sorted(parsed.errors + resolved.errors)
        if errors:
            number, reason = errors[0]
            raise CommandError(f"{path}:{number}: not a question line ({reason})")
        if not resolved.cases:
            raise CommandError(f"{path} holds no questions")
        if resolved.unknown:  # scored by answer_key alone; said once, not per line
            number, what = resolved.unknown[0]
            self.stderr.write(
                f"{path}: {len(resolved.unknown)} lines name documents or articles not in the "
                f"knowledge base (first, line {number}: {what})"
            )

        associations.settle()  # the FAQ as they stand now, from the first question on
        outcomes: list[tuple[str, int | None]] = []
        times: list[float] = []
        passage_chars: list[int] = []
        for _line, case in resolved.cases:
            outcome = accuracy.score(case, k)
            outcomes.append((outcome.verdict, outcome.rank))
            times.append(outcome.elapsed_ms)
            passage_chars.extend(outcome.passage_chars)
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "id": case.ident or None,
                            "answerable": case.answerable,
                            "abstained": outcome.abstained,
                            "rank": outcome.rank,
                            "top": outcome.top,
                            "ms": round(outcome.elapsed_ms, 1),
                        },
                        ensure_ascii=False,
                    )
                )
        summary = accuracy.figures(outcomes, k, times=times, passage_chars=passage_chars)
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
