"""Knowledge curation: the only place that changes documents, segments, FAQ and the lexicon.

Every change that affects what can be found re-indexes the touched segments in the same
transaction, so a published change is answerable at once in every process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge import indexing, ingest, precedence, tasks
from knowledge.errors import KnowledgeErrorCode
from knowledge.models import (
    Category,
    Document,
    DocumentKind,
    DocumentRevision,
    DocumentStatus,
    FaqCitation,
    FaqEntry,
    FaqStatus,
    LexiconEntry,
    LexiconKind,
    Segment,
)
from knowledge.text import normalise
from portal import ai, audit, permissions
from portal.audit import AuditOrigin
from portal.errors import NotFound, PortalError
from portal.models import AuditAction, User
from portal.permissions import Perm

# Which status an editor may move a document to from each status.
TRANSITIONS: dict[str, set[str]] = {
    DocumentStatus.DRAFT: {
        DocumentStatus.REVIEW,
        DocumentStatus.PUBLISHED,
        DocumentStatus.ARCHIVED,
    },
    DocumentStatus.REVIEW: {
        DocumentStatus.DRAFT,
        DocumentStatus.PUBLISHED,
        DocumentStatus.ARCHIVED,
    },
    DocumentStatus.PUBLISHED: {DocumentStatus.DRAFT, DocumentStatus.ARCHIVED},
    DocumentStatus.ARCHIVED: {DocumentStatus.DRAFT},
}


class KnowledgeError(PortalError):
    code = KnowledgeErrorCode.KNOWLEDGE_ERROR


class DuplicateDocument(KnowledgeError):
    code = KnowledgeErrorCode.DUPLICATE_DOCUMENT

    def __init__(self, existing: Document) -> None:
        super().__init__(_("内容相同的文档已经存在：《%(title)s》。") % {"title": existing.title})
        self.existing = existing


@dataclass
class DocumentFields:
    title: str
    category: Category
    body: str
    kind: str = DocumentKind.OTHER
    source: str = ""
    origin: str = ""
    original_name: str = ""
    tags: tuple[str, ...] = ()
    effective_from: date | None = None
    expires_on: date | None = None
    # Blank / None: guessed from the title and the text's header (knowledge/precedence.py).
    authority: str = ""
    promulgated_on: date | None = None


def _standing(fields: DocumentFields, title: str, body: str) -> tuple[str, date | None]:
    """The document's authority level and date: the editor's, or guessed from the text."""
    authority = fields.authority or precedence.guess_authority(title, body, fields.kind)
    return authority, fields.promulgated_on or precedence.guess_date(body)


def _check_actor(actor: User | None) -> None:
    """An admin action, a command or a job may call these services too: whoever acts must be
    an editor (None is the system itself: a command or a job)."""
    if actor is not None:
        permissions.require(actor, Perm.CURATE_KNOWLEDGE)


def _check(fields: DocumentFields) -> str:
    title = fields.title.strip()
    if not title:
        raise KnowledgeError(_("请填写文档标题。"), code=KnowledgeErrorCode.NO_TITLE)
    if len(title) > 200:
        raise KnowledgeError(_("标题不能超过200字。"), code=KnowledgeErrorCode.TITLE_TOO_LONG)
    if not fields.body.strip():
        raise KnowledgeError(_("文档内容是空的。"), code=KnowledgeErrorCode.EMPTY)
    if fields.effective_from and fields.expires_on and fields.expires_on <= fields.effective_from:
        raise KnowledgeError(_("失效日期必须晚于生效日期。"), code=KnowledgeErrorCode.BAD_DATES)
    return title


def _write_segments(document: Document) -> None:
    """Split the document's text into new segments. What editors attached to the old segments
    follows the article (same heading and context): FAQ citations and the disabled flag."""
    drafts = ingest.split(document.body, document.title)
    if not drafts:
        raise KnowledgeError(_("文档里没有可以检索的内容。"), code=KnowledgeErrorCode.NO_SEGMENTS)
    old = list(document.segments.only("id", "heading", "context", "enabled"))
    citations = list(
        FaqCitation.objects.filter(segment__document=document).values(
            "faq_id", "position", "segment__heading", "segment__context"
        )
    )
    disabled = {(s.heading, s.context) for s in old if not s.enabled and s.heading}
    if old:
        indexing.unindex(s.id for s in old)
        Segment.objects.filter(id__in=[s.id for s in old]).delete()
    created = Segment.objects.bulk_create(
        Segment(
            document=document,
            position=i,
            heading=d.heading[:100],
            context=d.context[:300],
            text=d.text,
            enabled=(d.heading[:100], d.context[:300]) not in disabled,
        )
        for i, d in enumerate(drafts)
    )
    first_with: dict[tuple[str, str], Segment] = {}
    for segment in created:
        if segment.heading:
            first_with.setdefault((segment.heading, segment.context), segment)
    kept = []
    for c in citations:
        match = first_with.get((c["segment__heading"], c["segment__context"]))
        if match is not None:
            kept.append(FaqCitation(faq_id=c["faq_id"], segment=match, position=c["position"]))
    FaqCitation.objects.bulk_create(kept, ignore_conflicts=True)


def _revise(document: Document, author: User | None, note: str) -> None:
    DocumentRevision.objects.create(
        document=document,
        version=document.version,
        title=document.title,
        body=document.body,
        status=document.status,
        author=author,
        note=note[:200],
    )


def _reindex(segment_ids: Iterable[int]) -> None:
    """Re-index in the current transaction; embeddings follow in a job once it commits."""
    schedule_embeddings(indexing.reindex(segment_ids))


def _reindex_document(document: Document) -> None:
    _reindex(document.segments.values_list("id", flat=True))


def schedule_embeddings(segment_ids: list[int]) -> None:
    """Vectors for these segments, computed by a job after the commit (with an embedding
    model only: keyword retrieval needs none)."""
    if not segment_ids or not ai.has_models("embedding"):
        return
    for start in range(0, len(segment_ids), indexing.BATCH):
        batch = segment_ids[start : start + indexing.BATCH]
        transaction.on_commit(partial(tasks.embed_segments.delay, batch))


def rebuild_index() -> int:
    """Re-segment and re-index everything (after the lexicon's words changed); returns the
    number of segments indexed."""
    with transaction.atomic():
        count = indexing.reindex_all()
        schedule_embeddings(list(Segment.objects.order_by("id").values_list("id", flat=True)))
    indexing.vacuum()
    return count


def create_document(
    fields: DocumentFields, *, author: User | None, status: str = DocumentStatus.DRAFT
) -> Document:
    """A new document with its segments and first revision; indexed when published."""
    _check_actor(author)
    title = _check(fields)
    body = ingest.clean_body(fields.body)
    digest = ingest.content_hash(body)
    existing = Document.objects.filter(content_hash=digest).first()
    if existing is not None:
        raise DuplicateDocument(existing)
    authority, promulgated_on = _standing(fields, title, body)
    try:
        with transaction.atomic():
            indexing.lock()
            document = Document.objects.create(
                title=title,
                category=fields.category,
                kind=fields.kind,
                source=fields.source[:300],
                origin=fields.origin[:300],
                original_name=fields.original_name[:255],
                tags=list(fields.tags),
                effective_from=fields.effective_from,
                expires_on=fields.expires_on,
                authority=authority,
                promulgated_on=promulgated_on,
                body=body,
                content_hash=digest,
                status=status,
                created_by=author,
                published_at=timezone.now() if status == DocumentStatus.PUBLISHED else None,
            )
            _write_segments(document)
            _revise(document, author, _("创建"))
            _reindex_document(document)
    except IntegrityError as exc:  # a concurrent upload of the same text won the race
        existing = Document.objects.filter(content_hash=digest).first()
        if existing is None:
            raise
        raise DuplicateDocument(existing) from exc
    return document


def update_document(document: Document, fields: DocumentFields, *, author: User | None) -> Document:
    """New text or metadata: a new revision; new text is split again (editors' segment edits
    are replaced by the new text)."""
    _check_actor(author)
    title = _check(fields)
    body = ingest.clean_body(fields.body)
    digest = ingest.content_hash(body)
    with transaction.atomic():
        indexing.lock()  # the index first, then content rows: one lock order for all writers
        document = Document.objects.select_for_update().get(pk=document.pk)
        clash = Document.objects.filter(content_hash=digest).exclude(pk=document.pk).first()
        if clash is not None:
            raise DuplicateDocument(clash)
        text_changed = digest != document.content_hash or title != document.title
        document.title = title
        document.category = fields.category
        document.kind = fields.kind
        document.source = fields.source[:300]
        document.tags = list(fields.tags)
        document.effective_from = fields.effective_from
        document.expires_on = fields.expires_on
        document.authority, document.promulgated_on = _standing(fields, title, body)
        document.body = body
        document.content_hash = digest
        document.version += 1
        document.save(
            update_fields=[
                "title",
                "category",
                "kind",
                "source",
                "tags",
                "effective_from",
                "expires_on",
                "authority",
                "promulgated_on",
                "body",
                "content_hash",
                "version",
                "updated_at",
            ]
        )
        if text_changed:
            _write_segments(document)
        _revise(document, author, _("修改"))
        _reindex_document(document)
    return document


def set_status(document: Document, status: str, *, author: User | None) -> Document:
    _check_actor(author)
    with transaction.atomic():
        indexing.lock()
        document = Document.objects.select_for_update().get(pk=document.pk)
        if status == document.status:
            return document
        if status not in TRANSITIONS.get(document.status, set()):
            raise KnowledgeError(
                _("文档不能从“%(old)s”改为“%(new)s”。")
                % {
                    "old": DocumentStatus(document.status).label,
                    "new": DocumentStatus(status).label
                    if status in DocumentStatus.values
                    else status,
                },
                code=KnowledgeErrorCode.BAD_TRANSITION,
            )
        document.status = status
        document.version += 1
        fields = ["status", "version", "updated_at"]
        if status == DocumentStatus.PUBLISHED:
            document.published_at = timezone.now()
            fields.append("published_at")
        document.save(update_fields=fields)
        _revise(document, author, str(DocumentStatus(status).label))
        _reindex_document(document)
    return document


def delete_documents(
    ids: Iterable[int], *, actor: User | None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Delete documents with their revisions, segments and the FAQ citations of those segments,
    each document recorded in the audit log.

    The index lock comes first, before Django's Collector lists the rows the delete cascades
    to: a lock taken later (in a pre_delete signal) would let an FAQ save commit a citation
    of a listed segment in between, which the delete would leave behind (an IntegrityError)."""
    _check_actor(actor)
    with transaction.atomic():
        indexing.lock()  # the index first, then content rows: one lock order for all writers
        documents = list(
            Document.objects.filter(pk__in=list(ids))
            .only("id", "title", "status", "version")
            .order_by("id")
        )
        for document in documents:
            audit.record(
                AuditAction.DOCUMENT_DELETED,
                actor=actor,
                target=document.title,
                detail={"id": document.pk, "status": document.status, "version": document.version},
                origin=origin,
            )
        # One pass over the index for all their segments, rather than one per segment in the
        # signal (which then finds them unindexed).
        indexing.unindex(
            Segment.objects.filter(document__in=documents).values_list("id", flat=True)
        )
        Document.objects.filter(pk__in=[d.pk for d in documents]).delete()


def edit_segment(
    segment: Segment, *, text: str | None = None, enabled: bool | None = None, author: User | None
) -> Segment:
    _check_actor(author)
    with transaction.atomic():
        indexing.lock()
        segment = Segment.objects.select_for_update().select_related("document").get(pk=segment.pk)
        fields = ["edited_by", "edited_at"]
        notes = []
        name = segment.heading or _("第%(n)d段") % {"n": segment.position + 1}
        if text is not None:
            text = text.strip()
            if not text:
                raise KnowledgeError(_("片段内容不能为空。"), code=KnowledgeErrorCode.EMPTY_SEGMENT)
            if len(text) > ingest.MAX_SEGMENT_CHARS:
                raise KnowledgeError(
                    _("片段不能超过 %(max)d 字。") % {"max": ingest.MAX_SEGMENT_CHARS},
                    code=KnowledgeErrorCode.SEGMENT_TOO_LONG,
                )
            if text != segment.text:
                _patch_body(segment.document, segment.text, text)
                notes.append(_("修改片段“%(name)s”") % {"name": name})
            segment.text = text
            fields.append("text")
        if enabled is not None:
            if enabled != segment.enabled:
                notes.append(
                    (_("启用片段“%(name)s”") if enabled else _("停用片段“%(name)s”"))
                    % {"name": name}
                )
            segment.enabled = enabled
            fields.append("enabled")
        segment.edited_by = author
        segment.edited_at = timezone.now()
        segment.save(update_fields=fields)
        if notes:  # a change of the document like any other: a revision with its author
            document = segment.document
            document.version += 1
            document.save(update_fields=["body", "content_hash", "version", "updated_at"])
            _revise(document, author, "；".join(notes))
        _reindex([segment.pk])
    return segment


def _patch_body(document: Document, old: str, new: str) -> None:
    """The document's text with the segment's old text replaced by its new one, when the old
    text stands in it once as it was cut (the revision then keeps the text as edited); else the
    text stays, and the revision's note says what changed."""
    if document.body.count(old) != 1:
        return
    body = document.body.replace(old, new)
    digest = ingest.content_hash(body)
    if not Document.objects.filter(content_hash=digest).exclude(pk=document.pk).exists():
        document.body, document.content_hash = body, digest


def save_faq(
    *,
    question: str,
    answer: str,
    category: Category,
    variants: Iterable[str] = (),
    segments: Iterable[Segment] = (),
    tags: Iterable[str] = (),
    status: str = FaqStatus.PUBLISHED,
    author: User | None,
    faq: FaqEntry | None = None,
) -> FaqEntry:
    """Create or change an FAQ entry; `segments` in order, the first being the one that
    answers the question."""
    _check_actor(author)
    question = question.strip()
    if not question or not answer.strip():
        raise KnowledgeError(
            _("常见问题需要填写问题和解答。"), code=KnowledgeErrorCode.INCOMPLETE_FAQ
        )
    clean_variants = list(
        dict.fromkeys(v.strip() for v in variants if v.strip() and v.strip() != question)
    )
    with transaction.atomic():
        indexing.lock()
        clash = FaqEntry.objects.filter(question=question)
        if faq is not None:
            clash = clash.exclude(pk=faq.pk)
        if clash.exists():
            raise KnowledgeError(_("这个问题已经有了。"), code=KnowledgeErrorCode.DUPLICATE_FAQ)
        # Checked under the lock: whoever deletes an entry or a segment holds it too.
        segment_list = list(dict.fromkeys(segments))
        present = Segment.objects.filter(pk__in=[s.pk for s in segment_list]).count()
        if present < len(segment_list):
            raise KnowledgeError(
                _("引用的片段已不存在，请重新选择。"), code=KnowledgeErrorCode.UNKNOWN_SEGMENT
            )
        before: set[int] = set()
        if faq is None:
            faq = FaqEntry(question=question)
        else:
            locked = FaqEntry.objects.select_for_update().filter(pk=faq.pk).first()
            if locked is None:
                raise NotFound(_("这条常见问题已被删除。"))
            faq = locked
            before |= set(faq.segments.values_list("id", flat=True))
        faq.question = question
        faq.answer = answer.strip()
        faq.variants = clean_variants
        faq.category = category
        faq.tags = list(tags)
        faq.status = status
        faq.updated_by = author
        faq.save()
        FaqCitation.objects.filter(faq=faq).delete()
        FaqCitation.objects.bulk_create(
            FaqCitation(faq=faq, segment=segment, position=i)
            for i, segment in enumerate(segment_list)
        )
        _reindex(before | {s.pk for s in segment_list})
    return faq


def delete_faq(
    faq: FaqEntry, *, actor: User | None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    delete_faqs([faq.pk], actor=actor, origin=origin)


def delete_faqs(
    ids: Iterable[int], *, actor: User | None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Delete entries, each recorded in the audit log; the segments they cited lose their
    wording in the index."""
    _check_actor(actor)
    with transaction.atomic():
        indexing.lock()  # the index first, then content rows: one lock order for all writers
        entries = list(FaqEntry.objects.filter(pk__in=list(ids)).only("id", "question", "answer"))
        cited = FaqCitation.objects.filter(faq__in=entries).values_list("segment_id", flat=True)
        segment_ids = list(cited)
        for entry in entries:
            audit.record(
                AuditAction.FAQ_DELETED,
                actor=actor,
                target=entry.question,
                detail={"id": entry.pk, "answer": entry.answer[:500]},
                origin=origin,
            )
        FaqEntry.objects.filter(pk__in=[e.pk for e in entries]).delete()
        _reindex(segment_ids)


def save_lexicon_entry(
    *,
    kind: str,
    phrase: str,
    targets: Iterable[str] = (),
    author: User | None,
    entry: LexiconEntry | None = None,
) -> LexiconEntry:
    _check_actor(author)
    phrase = normalise(phrase)
    clean = [normalise(t) for t in targets if normalise(t)]
    if kind not in LexiconKind.values:
        raise KnowledgeError(_("未知的词条类型。"), code=KnowledgeErrorCode.BAD_KIND)
    if not phrase or len(phrase) > 60 or " " in phrase:
        raise KnowledgeError(
            _("词语不能为空、不能含空格，且不超过60字。"), code=KnowledgeErrorCode.BAD_PHRASE
        )
    if kind != LexiconKind.TERM and not clean:
        raise KnowledgeError(
            _("同义词和口语对应需要至少一个对应词。"), code=KnowledgeErrorCode.NO_TARGETS
        )
    with transaction.atomic():
        clash = LexiconEntry.objects.filter(kind=kind, phrase=phrase)
        if entry is not None:
            clash = clash.exclude(pk=entry.pk)
        if clash.exists():
            raise KnowledgeError(
                _("词库里已经有“%(p)s”。") % {"p": phrase}, code=KnowledgeErrorCode.DUPLICATE_TERM
            )
        entry = entry or LexiconEntry(kind=kind)
        entry.kind = kind
        entry.phrase = phrase
        entry.targets = [] if kind == LexiconKind.TERM else clean
        entry.updated_by = author
        entry.save()
        _after_lexicon_change()
    return entry


def delete_lexicon_entry(
    entry: LexiconEntry, *, actor: User | None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    delete_lexicon_entries([entry.pk], actor=actor, origin=origin)


def delete_lexicon_entries(
    ids: Iterable[int], *, actor: User | None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Delete entries; one re-index job for all of them."""
    _check_actor(actor)
    with transaction.atomic():
        entries = LexiconEntry.objects.filter(pk__in=list(ids))
        for entry in entries:
            audit.record(
                AuditAction.LEXICON_DELETED,
                actor=actor,
                target=entry.phrase,
                detail={"id": entry.pk, "kind": entry.kind, "targets": entry.targets},
                origin=origin,
            )
        entries.delete()
        _after_lexicon_change()


def _after_lexicon_change() -> None:
    # Query expansion reads the lexicon on every search; segmentation of indexed text changes
    # only with the words kept whole, and re-segmenting everything is a background job.
    transaction.on_commit(tasks.reindex_all.delay)


_CITE_LINE = re.compile(
    r"^《?(?P<title>[^》]+?)》?\s*(?P<article>第[^条]+条(?:之[一二三四五六七八九十]+)?)$"
)
_CITE_ID = re.compile(r"^片段\s*#\s*(?P<id>\d+)$")


def cite_label(segment: Segment) -> str:
    """How the FAQ form names a cited segment; resolve_cites reads it back."""
    if segment.heading and _CITE_LINE.match(f"《{segment.document.title}》{segment.heading}"):
        return f"《{segment.document.title}》{segment.heading}"
    return f"片段#{segment.pk}"


def resolve_cites(lines: Iterable[str]) -> list[Segment]:
    """Segments named like 《劳动法》第四十四条 (the title may be the short name)."""
    found: list[Segment] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        by_id = _CITE_ID.match(line)
        if by_id:
            segment = Segment.objects.filter(pk=int(by_id["id"])).first()
            if segment is None:
                raise KnowledgeError(
                    _("找不到“%(line)s”。") % {"line": line}, code=KnowledgeErrorCode.UNKNOWN_CITE
                )
            found.append(segment)
            continue
        match = _CITE_LINE.match(line)
        if not match:
            raise KnowledgeError(
                _("看不懂依据条款“%(line)s”，请写成《劳动法》第四十四条的形式。") % {"line": line},
                code=KnowledgeErrorCode.BAD_CITE,
            )
        title = match["title"].strip()
        candidates = Segment.objects.filter(heading=match["article"]).select_related("document")
        exact = [s for s in candidates if s.document.title in (title, f"中华人民共和国{title}")]
        matches = exact or [s for s in candidates if title in s.document.title]
        documents = {s.document_id for s in matches}
        if len(documents) > 1:  # of two documents of one name, the one members can read
            published = [s for s in matches if s.document.status == DocumentStatus.PUBLISHED]
            if len({s.document_id for s in published}) == 1:
                matches, documents = published, {published[0].document_id}
        if not matches:
            raise KnowledgeError(
                _("找不到“%(line)s”。") % {"line": line}, code=KnowledgeErrorCode.UNKNOWN_CITE
            )
        if len(documents) > 1:
            titles = "、".join(sorted({s.document.title for s in matches}))
            raise KnowledgeError(
                _("“%(line)s”对应多部文档（%(titles)s），请写全名。")
                % {"line": line, "titles": titles},
                code=KnowledgeErrorCode.AMBIGUOUS_CITE,
            )
        found.extend(matches)
    return found
