"""Export: the draft as an official document (.docx built here, PDF rendered by a worker and
cached per state of the draft), with the AI labels when a model wrote any of it.

The layout itself is `writer.export` (python-docx, LibreOffice); this module decides what goes
in: the sections as they stand, and `ai_label` (None for a draft written with no model)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal import aigc, jobs
from portal.jobs import ACTIVE, JobStatus
from portal.models import User
from portal.permissions import Perm
from writer.errors import Conflict, WriterErrorCode
from writer.export.document import ExportSection, OfficialDocument
from writer.export.docx import build_docx
from writer.export.pdf import PdfFailed, PdfUnavailable, docx_to_pdf
from writer.markdown import CITE
from writer.models import Draft, DraftExport, DraftSection, ExportFormat, WriterAction
from writer.services import metering
from writer.services.access import access_draft

log = logging.getLogger("writer")


def _sections(draft: Draft) -> list[DraftSection]:
    sections = list(draft.sections.order_by("position"))
    if any(s.status in ACTIVE for s in sections):
        raise Conflict(
            _("草稿还在生成中，请等所有段落完成后再导出。"), code=WriterErrorCode.DRAFT_NOT_READY
        )
    if not any(s.content.strip() for s in sections):
        # A document of a title and a signature only is nobody's draft.
        raise Conflict(
            _("草稿还没有写出任何内容，请重试失败的段落后再导出。"),
            code=WriterErrorCode.DRAFT_EMPTY,
        )
    return sections


def revision_key(draft: Draft, sections: list[DraftSection]) -> str:
    """Changes whenever anything exported changes: each section's version, the head fields."""
    parts = [str(draft.pk), draft.title, draft.issuer, draft.recipient, draft.doc_date.isoformat()]
    parts += [f"{s.pk}:{s.version}:{s.status}" for s in sections]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def ai_label(draft: Draft, sections: list[DraftSection], key: str) -> dict[str, str] | None:
    if not any(s.by_model for s in sections):
        return None
    return aigc.implicit_label(f"writer-draft-{draft.pk}-{key[:16]}")


def _document(draft: Draft, sections: list[DraftSection], key: str) -> OfficialDocument:
    return OfficialDocument(
        title=draft.title,
        issuer=draft.issuer,
        date=draft.doc_date,
        recipient=draft.recipient,
        sections=tuple(
            ExportSection(s.heading, *numbered(s.content, s.citations))
            for s in sections
            if s.status == JobStatus.SUCCEEDED or s.content
        ),
        ai_label=ai_label(draft, sections, key),
    )


def numbered(text: str, citations: list[dict[str, Any]]) -> tuple[str, tuple[str, ...]]:
    """The text with its markers renumbered 1, 2, … in the order of the citations kept (a
    section citing passages [1] and [3] of the four it was given exports them as [1] and [2]:
    in the document, [n] is the n-th source listed under the section)."""
    ordered = sorted(citations, key=lambda c: int(c["n"]))
    new = {int(c["n"]): i for i, c in enumerate(ordered, start=1)}
    text = CITE.sub(lambda m: f"[{new[int(m[1])]}]" if int(m[1]) in new else m[0], text)
    return text, tuple(str(c["label"]) for c in ordered)


def docx_bytes(draft: Draft) -> bytes:
    sections = _sections(draft)
    return build_docx(_document(draft, sections, revision_key(draft, sections)))


def export_docx(user: User, draft_id: int) -> tuple[bytes, str]:
    draft = access_draft(user, draft_id)
    data = docx_bytes(draft)
    metering.count(user, WriterAction.EXPORT_DOCX, draft)
    return data, f"{draft.title}.docx"


def _pdf_task() -> Any:
    from writer.tasks import render_pdf

    return render_pdf


def request_pdf(user: User, draft_id: int) -> DraftExport:
    """The PDF of the draft as it stands: the cached one, or a job rendering it."""
    draft = access_draft(user, draft_id)
    sections = _sections(draft)
    key = revision_key(draft, sections)
    with transaction.atomic():
        export = DraftExport.objects.filter(draft=draft, format=ExportFormat.PDF, revision_key=key)
        found = export.select_for_update().first()
        if found is not None and found.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            if found.status != JobStatus.SUCCEEDED or default_storage.exists(found.file):
                return found
            log.warning("export %s: its PDF is gone from the store; rendering again", found.pk)
        if found is None:
            try:
                with transaction.atomic():
                    found = DraftExport.objects.create(
                        draft=draft, format=ExportFormat.PDF, revision_key=key, requested_by=user
                    )
            except IntegrityError:  # asked twice at once: the other request sends the job
                return DraftExport.objects.get(
                    draft=draft, format=ExportFormat.PDF, revision_key=key
                )
        else:  # failed before (LibreOffice missing then): try again
            found.status, found.attempts, found.error, found.error_detail = (
                JobStatus.QUEUED,
                0,
                "",
                "",
            )
            found.save(update_fields=["status", "attempts", "error", "error_detail"])
        jobs.enqueue(_pdf_task(), found.pk)
        metering.count(user, WriterAction.EXPORT_PDF, draft)
    return found


def pdf_name(export: DraftExport) -> str:
    return f"writer/exports/{export.draft_id}/{export.revision_key}-{uuid.uuid4().hex[:12]}.pdf"


def run_pdf(export_id: int) -> None:
    """Render one PDF (the body of the `render_pdf` job; safe to run twice)."""
    token = jobs.claim(DraftExport, export_id)
    if token is None:
        return
    export = DraftExport.objects.select_related("draft__owner", "requested_by").get(pk=export_id)
    draft = export.draft
    if refused := jobs.refusal(export.requested_by or draft.owner, Perm.DRAFT_MATERIALS):
        jobs.fail(DraftExport, export_id, token, refused, "refused: may no longer draft")
        return
    with jobs.heartbeat(DraftExport, export_id, token, 5.0):
        sections = list(draft.sections.order_by("position"))
        key = revision_key(draft, sections)
        if key != export.revision_key:
            jobs.fail(DraftExport, export_id, token, _("草稿已经修改，请重新导出。"))
            return
        document = _document(draft, sections, key)
        try:
            pdf = docx_to_pdf(build_docx(document), ai_label=document.ai_label)
        except PdfUnavailable as exc:
            jobs.fail(DraftExport, export_id, token, str(exc), "pdf_unavailable")
            return
        except PdfFailed as exc:
            jobs.fail(DraftExport, export_id, token, _("PDF 生成失败，请稍后重试。"), str(exc))
            return
    # A name of its own per run: a run the sweep took over must not delete (or overwrite) the
    # file of the run that finished; a run that lost its claim deletes only its own file.
    saved = default_storage.save(pdf_name(export), ContentFile(pdf))
    if not jobs.finish(DraftExport, export_id, token, file=saved):
        default_storage.delete(saved)


def sweep_exports() -> jobs.Swept:
    return jobs.sweep(
        DraftExport,
        _pdf_task(),
        stale_after=timedelta(seconds=120),
        unclaimed_after=timedelta(seconds=300),
        max_attempts=2,
        give_up=_("PDF 生成中断，请重新导出。"),
    )
