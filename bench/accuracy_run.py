"""A full-size run of the accuracy page: N questions (the shipped question files, repeated)
imported as one set and scored by the job's own code (`accuracy.execute_run`), as a worker
would, against the seeded demo knowledge base of DATABASE_URL (`make run` seeds one).

    DATABASE_URL=postgres://…/mydb .venv/bin/python bench/accuracy_run.py --questions 10000

Prints the import time, the run's time and questions per second, and the progress updates the
page saw; last line: RESULT {"questions":…,"import_s":…,"run_s":…,"per_second":…}
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
FILES = [
    ROOT.parent / "shared" / "eval" / "dev.jsonl",
    *sorted((ROOT / "bench" / "questions").glob("*.jsonl")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import close_old_connections

    from knowledge.models import AccuracyRun, QuestionSet
    from knowledge.services import accuracy
    from portal.models import Role, User

    lines = [
        line
        for path in FILES
        if path.exists()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not lines:
        raise SystemExit("no question files found")
    text = "\n".join(itertools.islice(itertools.cycle(lines), args.questions))
    editor = (
        User.objects.filter(role=Role.EDITOR).first()
        or User.objects.filter(role=Role.ADMIN).first()
    )
    if editor is None:
        raise SystemExit("no editor in the database: run `manage.py seed_demo` first")
    name = f"bench-{args.questions}-{int(time.time())}"

    started = time.perf_counter()
    chosen = accuracy.import_questions(editor, text=text, name=name).question_set
    import_s = time.perf_counter() - started
    run = AccuracyRun.objects.create(question_set=chosen, started_by=editor, total=args.questions)

    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:  # what the page's polling sees
        while not stop.wait(1.0):
            seen.append(AccuracyRun.objects.get(pk=run.pk).done)
        close_old_connections()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    accuracy.execute_run(run.pk)
    run_s = time.perf_counter() - started
    stop.set()
    watcher.join()
    run.refresh_from_db()
    print(f"imported {args.questions} questions in {import_s:.1f} s")
    print(f"run: {run.status}, {run.done}/{run.total} in {run_s:.1f} s")
    print(f"progress seen by polling each second: {len(set(seen))} distinct values")
    print("figures:", json.dumps(run.figures, ensure_ascii=False))
    QuestionSet.objects.filter(pk=chosen.pk).delete()
    result = {
        "questions": args.questions,
        "import_s": round(import_s, 2),
        "run_s": round(run_s, 1),
        "per_second": round(run.done / run_s, 1) if run_s else None,
        "status": run.status,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
