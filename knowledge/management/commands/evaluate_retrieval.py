"""`manage.py evaluate_retrieval PATH [--k 3] [--json]`: retrieval figures on a question set."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge.retrieval import QueryError, search


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


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
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        questions = []
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    item = json.loads(line)
                    item["question"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise CommandError(f"{path}:{number}: not a question line ({exc})") from exc
                questions.append(item)
        if not questions:
            raise CommandError(f"{path} holds no questions")

        answerable = hit1 = hitk = abstained_right = abstained_wrong = 0
        reciprocal = 0.0
        times: list[float] = []
        passage_chars: list[int] = []
        for item in questions:
            is_answerable = bool(item.get("answerable", item.get("answer_key")))
            try:
                result = search(item["question"], k=k)
                passages, abstained, elapsed = result.passages, result.abstained, result.elapsed_ms
            except QueryError:
                passages, abstained, elapsed = [], True, 0.0
            times.append(elapsed)
            passage_chars.extend(len(p.text) for p in passages)
            rank = None
            if is_answerable:
                answerable += 1
                key = _squash(item.get("answer_key") or "")
                for i, passage in enumerate(passages, start=1):
                    if key and key in _squash(passage.text):
                        rank = i
                        break
                if abstained:
                    abstained_wrong += 1
                else:
                    hit1 += rank == 1
                    hitk += rank is not None
                    reciprocal += 1 / rank if rank else 0.0
            elif abstained:
                abstained_right += 1
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "id": item.get("id"),
                            "answerable": is_answerable,
                            "abstained": abstained,
                            "rank": rank,
                            "top": [p.label for p in passages],
                            "ms": round(elapsed, 1),
                        },
                        ensure_ascii=False,
                    )
                )
        unanswerable = len(questions) - answerable
        times.sort()
        summary = {
            "questions": len(questions),
            "answerable": answerable,
            "hit_at_1": round(hit1 / answerable, 3) if answerable else None,
            f"hit_at_{k}" if k != 3 else "hit_at_3": round(hitk / answerable, 3)
            if answerable
            else None,
            "mrr": round(reciprocal / answerable, 3) if answerable else None,
            "abstain_recall": round(abstained_right / unanswerable, 3) if unanswerable else None,
            "false_abstain": round(abstained_wrong / answerable, 3) if answerable else None,
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
            "mean_passage_chars": round(statistics.fmean(passage_chars), 1) if passage_chars else 0,
        }
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
