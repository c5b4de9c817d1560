"""Plain BM25 beside our search(): haystack's InMemoryBM25Retriever over the same retrievable
segments (from the database of DATABASE_URL) and the same JSONL question sets.

    DATABASE_URL=sqlite:///var/demo.sqlite3 .venv/bin/python bench/baseline_bm25.py \
        ../shared/eval/dev.jsonl bench/questions/heldout-a.jsonl

Each segment is one haystack document holding the segment's own words (law title and chapter,
heading, text: `indexing.own_text`, no FAQ wording), tokenised by haystack's default BM25
tokeniser (one token per Chinese character, words of letters and digits). A question counts
as in the first k when a passage among its first k contains the question's answer key, spaces
aside, as `manage.py evaluate_retrieval` counts it. Plain BM25 never abstains.

One line per file, then `RESULT {json}` with the figures of every file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def retrievable_segments() -> list[tuple[int, str, str]]:
    """(id, indexed text, passage text) of every segment search() may return today."""
    from django.db.models import Q
    from django.utils import timezone

    from knowledge.indexing import own_text
    from knowledge.models import DocumentStatus, Segment

    today = timezone.localdate()
    rows = (
        Segment.objects.filter(enabled=True, document__status=DocumentStatus.PUBLISHED)
        .filter(Q(document__effective_from__isnull=True) | Q(document__effective_from__lte=today))
        .filter(Q(document__expires_on__isnull=True) | Q(document__expires_on__gt=today))
        .only("id", "context", "heading", "text")
        .order_by("id")
    )
    return [(s.id, own_text(s), s.text) for s in rows]


def evaluate(path: Path, retriever: object, k: int = 3) -> dict[str, object]:
    answerable = hit1 = hitk = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if not (item.get("answerable", item.get("answer_key")) and item.get("answer_key")):
            continue
        answerable += 1
        key = _squash(item["answer_key"])
        documents = retriever.run(query=item["question"], top_k=k)["documents"]  # type: ignore[attr-defined]
        ranks = [i for i, d in enumerate(documents, start=1) if key in _squash(d.meta["text"])]
        hit1 += bool(ranks) and ranks[0] == 1
        hitk += bool(ranks)
    return {
        "file": path.name,
        "answerable": answerable,
        "hit_at_1": round(hit1 / answerable, 3) if answerable else None,
        "hit_at_3": round(hitk / answerable, 3) if answerable else None,
    }


def main() -> None:
    import django

    django.setup()
    from haystack import Document as HaystackDocument
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        sys.exit("usage: baseline_bm25.py QUESTIONS.jsonl …")
    store = InMemoryDocumentStore()
    store.write_documents(
        [
            HaystackDocument(id=str(seg_id), content=indexed, meta={"text": text})
            for seg_id, indexed, text in retrievable_segments()
        ]
    )
    retriever = InMemoryBM25Retriever(document_store=store)
    results = []
    for path in paths:
        row = evaluate(path, retriever)
        print(json.dumps(row, ensure_ascii=False))
        results.append(row)
    print("RESULT " + json.dumps({"segments": store.count_documents(), "sets": results}))


if __name__ == "__main__":
    main()
