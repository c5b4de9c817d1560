"""Loading knowledge from files: a corpus folder, the shipped demo knowledge, the seed lexicon."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from knowledge import ingest, lexicon
from knowledge.models import (
    SEED_CATEGORIES,
    Category,
    Document,
    DocumentKind,
    DocumentStatus,
    FaqEntry,
    LexiconEntry,
    Segment,
)
from knowledge.services import curation
from portal.errors import PortalError
from portal.models import User

SEED_DIR = Path(__file__).resolve().parent / "seed"
# A corpus document's category when none is given, from words of its title.
TITLE_CATEGORIES = (
    ("女职工", "women-workers"),
    ("安全生产", "safety-health"),
    ("工会法", "organisation"),
    ("仲裁", "legal-aid"),
    ("新闻", "culture"),
)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _title_of(text: str, path: Path) -> str:
    lines = [line.strip().lstrip("#").strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return path.stem
    title = lines[0]
    if len(title) < 4 and len(lines) > 1:  # a page header such as "工会" above the headline
        title = f"{title} · {lines[1]}"
    return title[:200]


def ensure_categories() -> dict[str, Category]:
    """The seed categories (made by a migration; editors may have removed unused ones)."""
    for position, (slug, name) in enumerate(SEED_CATEGORIES):
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "position": position})
    return {c.slug: c for c in Category.objects.all()}


def _category_for(title: str, kind: str, given: Category | None) -> Category:
    if given is not None:
        return given
    slug = "rights"
    for word, candidate in TITLE_CATEGORIES:
        if word in title:
            slug = candidate
            break
    if kind == DocumentKind.NEWS:
        slug = "culture"
    return Category.objects.get(slug=slug)


def import_corpus(
    folder: Path, *, category: Category | None = None, author: User | None = None
) -> ImportReport:
    """Every .md/.txt under `folder` as a published document. Idempotent: a file already
    imported with the same text is left alone, a changed file gets a new revision."""
    report = ImportReport()
    ensure_categories()
    files = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in (".md", ".txt") and p.is_file()
    )
    files = [p for p in files if p.name.lower() != "readme.md"]
    for path in files:
        relative = path.relative_to(folder).as_posix()
        origin = f"corpus:{relative}"
        text = ingest.clean_body(ingest.decode(path.read_bytes()))
        title = _title_of(text, path)
        kind = (
            DocumentKind.LAW
            if ingest.is_law(text)
            else DocumentKind.NEWS
            if "news" in relative
            else DocumentKind.OTHER
        )
        if kind != DocumentKind.LAW:
            text = ingest.join_broken_lines(text)
        fields = curation.DocumentFields(
            title=title,
            category=_category_for(title, kind, category),
            body=text,
            kind=kind,
            source=relative,
            origin=origin,
            original_name=path.name,
        )
        existing = Document.objects.filter(origin=origin).first()
        digest = ingest.content_hash(ingest.clean_body(text))
        if existing is not None:
            if existing.content_hash == digest:
                report.unchanged.append(relative)
                continue
            fields.category = existing.category if category is None else category
            try:
                curation.update_document(existing, fields, author=author)
            except PortalError as exc:
                report.skipped.append(f"{relative}: {exc.message}")
                continue
            # An editor's decision stands: a document taken back to draft or archived stays so.
            report.updated.append(relative)
            continue
        try:
            curation.create_document(fields, author=author, status=DocumentStatus.PUBLISHED)
        except PortalError as exc:
            report.skipped.append(f"{relative}: {exc.message}")
            continue
        report.created.append(relative)
    return report


def load_lexicon(path: Path, *, author: User | None = None) -> int:
    """Add the file's entries that the lexicon lacks (editors' changes are kept); re-index
    once if anything was added."""
    entries = lexicon.parse_file(path)
    with transaction.atomic():
        have = set(LexiconEntry.objects.values_list("kind", "phrase"))
        new = []
        for kind, phrase, targets in entries:
            key = (kind, phrase)
            if key in have:
                continue
            have.add(key)
            new.append(LexiconEntry(kind=kind, phrase=phrase, targets=targets, updated_by=author))
        LexiconEntry.objects.bulk_create(new)
        if new:
            curation.rebuild_index()
    return len(new)


_CITE = re.compile(r"^(?P<file>[^#]+)#(?P<article>第.+条)$")


class SeedError(ValueError):
    pass


def load_faq(folder: Path, *, author: User | None = None) -> int:
    """The shipped FAQ entries, linked to the law articles they cite (those must be imported
    first). Entries already present, by question, are left as editors made them, except that
    one loaded before its laws were imported (as the seed left it: its answer, no citations)
    is linked to them once they are."""
    by_origin = {
        Path(d.origin.removeprefix("corpus:")).name: d.id
        for d in Document.objects.exclude(origin="").only("origin")
    }
    categories = ensure_categories()
    have = set(FaqEntry.objects.values_list("question", flat=True))
    # Entries as the seed left them when their laws were not there (no citations).
    unlinked = {
        faq.question: faq
        for faq in FaqEntry.objects.filter(citations__isnull=True).select_related("category")
    }
    created = 0
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            item = json.loads(line)
            existing = unlinked.get(item["question"])
            if item["question"] in have and (existing is None or existing.answer != item["answer"]):
                continue
            segments: list[Segment] = []
            for cite in item.get("cites", []):
                match = _CITE.match(cite)
                if not match:
                    raise SeedError(f"{path.name}:{number}: bad cite {cite!r}")
                document_id = by_origin.get(match["file"])
                if document_id is None:
                    continue  # that law is not in this knowledge base
                segments.extend(
                    Segment.objects.filter(document_id=document_id, heading=match["article"])
                )
            if existing is not None:
                if segments:  # its laws are here now
                    curation.save_faq(
                        question=existing.question,
                        answer=existing.answer,
                        variants=existing.variants,
                        category=existing.category,
                        segments=segments,
                        tags=existing.tags,
                        status=existing.status,
                        author=author,
                        faq=existing,
                    )
                continue
            category = categories.get(item.get("category", "")) or categories["rights"]
            curation.save_faq(
                question=item["question"],
                answer=item["answer"],
                variants=item.get("variants", []),
                category=category,
                segments=segments,
                tags=item.get("tags", []),
                author=author,
            )
            have.add(item["question"])
            created += 1
    return created


def load_guides(folder: Path, *, author: User | None = None) -> int:
    """The shipped short guides as published documents (idempotent by origin)."""
    created = 0
    categories = ensure_categories()
    for path in sorted(folder.glob("*.md")):
        origin = f"seed:guides/{path.name}"
        if Document.objects.filter(origin=origin).exists():
            continue
        text = path.read_text(encoding="utf-8")
        meta = dict(re.findall(r"^(分类|标签)[:：]\s*(.+)$", text, re.M))
        body = re.sub(r"^(分类|标签)[:：].*\n?", "", text, flags=re.M)
        title = _title_of(body, path)
        category = categories.get(meta.get("分类", "").strip()) or categories["member-services"]
        tags = tuple(t.strip() for t in re.split(r"[,，、]", meta.get("标签", "")) if t.strip())
        try:
            curation.create_document(
                curation.DocumentFields(
                    title=title,
                    category=category,
                    body=body,
                    kind=DocumentKind.GUIDE,
                    source=_("工会AI门户示例知识库"),
                    origin=origin,
                    original_name=path.name,
                    tags=tags,
                ),
                author=author,
                status=DocumentStatus.PUBLISHED,
            )
        except curation.DuplicateDocument:
            continue
        created += 1
    return created


def default_corpus_dir() -> Path | None:
    from django.conf import settings

    if settings.KNOWLEDGE_CORPUS_DIR:
        return Path(settings.KNOWLEDGE_CORPUS_DIR)
    shared = Path(settings.BASE_DIR).parent / "shared" / "corpus"
    return shared if shared.is_dir() else None


def seed_demo_knowledge(corpus: Path | None) -> dict[str, int]:
    """The demo knowledge base: lexicon, the corpus (when there is one), guides, FAQ."""
    counts = {"lexicon": load_lexicon(SEED_DIR / "lexicon.txt")}
    counts["corpus"] = len(import_corpus(corpus).created) if corpus and corpus.is_dir() else 0
    counts["guides"] = load_guides(SEED_DIR / "guides")
    counts["faq"] = load_faq(SEED_DIR / "faq")
    return counts
