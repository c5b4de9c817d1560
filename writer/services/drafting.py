"""Drafting: the form becomes a draft and its sections in one transaction, one job per section
(queue `llm`, sent on commit); each section job retrieves from its knowledge categories and
writes with the `writer` model, streamed into the row, or fills the template's text (the
passages found are then its citations, as a model's are).

A section ends in the same transaction as its revision and the draft's atomic counter
(`sections_done` or `sections_failed`): no chord, no lock on the draft. A job is claimed by
token (`portal.jobs`), so a redelivered message or a second worker finds nothing to do, and
`sweep_sections` puts back what a dead worker left."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from time import monotonic
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from knowledge.retrieval import Passage, QueryError, search
from portal import ai, jobs
from portal.errors import NotFound
from portal.jobs import ACTIVE, JobStatus, Swept
from portal.models import User
from portal.permissions import Perm, require
from writer import definition as defs
from writer import prompts
from writer.errors import Conflict, Unavailable, WriterError, WriterErrorCode
from writer.markdown import CITE
from writer.models import (
    Draft,
    DraftSection,
    RevisionKind,
    SectionRevision,
    TemplateKind,
    WriterAction,
    WritingTemplate,
)
from writer.services import metering, tools
from writer.services.access import access_draft

log = logging.getLogger("writer")

FEATURE = "writer"
PASSAGES = 4
QUERY_CHARS = 200
SAVE_EVERY = 0.25  # seconds between saves of the text arriving
HEARTBEAT_EVERY = 5.0
MAX_ATTEMPTS = 3
# Without a model a section is the template's text again: an extra instruction has nothing to
# follow it. The page says so before anyone types one; the service refuses one all the same.
INSTRUCTION_NEEDS_MODEL = gettext_lazy(
    "尚未配置写作模型，补充要求不会起作用。不填补充要求，可以按模板重新生成本段。"
)
REGENERATE_WITHOUT_MODEL = gettext_lazy(
    "尚未配置写作模型：重新生成会按模板文字重新填写本段、重新检索参考资料，"
    "不能按补充要求改写。本段现在的文字会被替换，可在“修订记录”中找回。"
)


def _task() -> Any:
    from writer.tasks import write_section  # the task module imports this one

    return write_section


def create_draft(user: User, template_slug: Any, raw_values: Any) -> Draft:
    """The draft and its sections, and one job per section sent when the transaction commits.
    Nothing is saved when the form has errors (FieldErrors, per field)."""
    require(user, Perm.DRAFT_MATERIALS)
    template = WritingTemplate.objects.filter(slug=str(template_slug), enabled=True).first()
    if template is None:
        raise WriterError(_("没有这个模板。"), code=WriterErrorCode.TEMPLATE_NOT_FOUND)
    definition = defs.load(template.definition)
    unit = user.union_unit
    filled = defs.clean_values(definition, raw_values, unit_name=unit.name if unit else "")
    verdict = ai.check_text(" ".join(filled.text.values()), where="writer.form")
    if not verdict.allowed:
        raise WriterError(_("填写的内容含有不宜出现的词语，请修改后再提交。"))
    values = filled.text
    with transaction.atomic():
        draft = Draft.objects.create(
            owner=user,
            union_unit=unit,
            template=template,
            template_version=template.versions.filter(number=template.version).first(),
            template_title=template.title,
            version_number=template.version,
            kind=template.kind,
            title=defs.fill_title(definition.doc_title, values)[:200],
            issuer=defs.fill(definition.issuer, values)[:200],
            recipient=defs.fill(definition.recipient, values)[:200],
            doc_date=filled.date or timezone.localdate(),
            # With their labels: the model reads them so, template or no template.
            values={
                f.name: {"label": f.label, "value": filled.raw[f.name]}
                for f in definition.fields
                if f.name in filled.raw
            },
            style_guide=definition.style_guide,
            forbidden=list(definition.forbidden),
            sections_total=len(definition.sections),
        )
        sections = DraftSection.objects.bulk_create(
            DraftSection(
                draft=draft,
                position=n,
                heading=defs.fill(s.heading, values)[:120],
                instruction=defs.fill(s.instruction, values),
                fixed_text=defs.fill(s.fixed_text, values),
                categories=list(s.categories),
                length_hint=s.length,
            )
            for n, s in enumerate(definition.sections, start=1)
        )
        for section in sections:
            jobs.enqueue(_task(), section.pk)
        metering.count(user, WriterAction.DRAFT, draft, template.slug)
    return draft


def _passages(section: DraftSection, draft: Draft) -> list[Passage]:
    query = f"{draft.title} {section.heading} {section.instruction}"[:QUERY_CHARS]
    try:
        return search(query, PASSAGES, user=draft.owner, categories=section.categories).passages
    except QueryError:
        return []


def _labels(draft: Draft) -> dict[str, str]:
    """The form's values as the model reads them: by label."""
    return {item["label"]: str(item["value"]) for item in draft.values.values()}


class _Lost(Exception):
    """The section is no longer this job's (regenerated, swept, deleted)."""


class _Blocked(Exception):
    """The model's text did not pass the sensitive-word list."""


def _stream(section: DraftSection, draft: Draft, passages: list[Passage], token: Any) -> str:
    brief = prompts.SectionBrief(
        doc_title=draft.title,
        kind=str(TemplateKind(draft.kind).label),
        heading=section.heading,
        instruction=section.instruction,
        extra_instruction=section.extra_instruction,
        length=section.length_hint,
        values=_labels(draft),
        style_guide=draft.style_guide,
        forbidden=draft.forbidden,
    )
    stream = ai.stream_chat(prompts.messages(brief, passages), feature=FEATURE, user=draft.owner)
    deltas: Iterator[str] = iter(stream)
    parts: list[str] = []
    saved = monotonic()
    # Text arriving is shown on the page as it is saved: it passes the word list first.
    checker = ai.text_checker(where="writer.answer")
    try:
        for delta in deltas:
            parts.append(delta)
            if monotonic() - saved >= SAVE_EVERY:
                arrived = "".join(parts)
                if not checker.check(arrived).allowed:
                    raise _Blocked
                if not jobs.touch(DraftSection, section.pk, token, content=arrived):
                    raise _Lost
                saved = monotonic()
    finally:
        close = getattr(deltas, "close", None)
        if close:
            close()
    # The result's text is the answer alone (a reasoning model's thinking is not part of it).
    return stream.result.text.strip() if stream.result else "".join(parts).strip()


def _cited(text: str, passages: list[Passage], *, by_model: bool) -> list[dict[str, object]]:
    """The passages the text cites as [n] (all it was given when it cites none)."""
    every = list(range(1, len(passages) + 1))
    used = {int(n) for n in CITE.findall(text)} if by_model else set()
    keep = [n for n in every if n in used] or every
    return [prompts.citation(n, passages[n - 1]) for n in keep]


def run_section(section_id: int) -> None:
    """Write one section (the body of the `write_section` job; safe to run twice)."""
    token = jobs.claim(DraftSection, section_id)
    if token is None:
        return
    section = DraftSection.objects.select_related("draft__owner").get(pk=section_id)
    draft = section.draft
    if refused := jobs.refusal(draft.owner, Perm.DRAFT_MATERIALS):
        _failed(section, token, refused, "refused: the owner may no longer draft")
        return
    with jobs.heartbeat(DraftSection, section_id, token, HEARTBEAT_EVERY):
        passages = _passages(section, draft)
        by_model = ai.has_models(FEATURE)
        try:
            if by_model:
                text = _stream(section, draft, passages, token)
                if not ai.check_text(text, where="writer.answer").allowed:
                    raise _Blocked
                if not text:
                    _failed(section, token, _("模型没有写出内容，请重试。"))
                    return
            else:
                # The template's text is the draft. The passages are its citations, listed
                # under the section and exported under 附：参考依据 (as a model's are), never
                # quoted into the text as well. They get no [n] marks: the template's words do
                # not draw on them, they are there for the drafter to work from.
                text = section.fixed_text.strip()
        except _Lost:
            return
        except _Blocked:
            # What was saved while arriving goes too: it did not pass as a whole.
            _failed(section, token, _("生成的内容未通过内容安全检查，请调整要求后重试。"))
            return
        except ai.AIError as exc:
            _failed(section, token, exc.message, exc.detail)
            return
        except Exception as exc:
            log.exception("writer: section %s failed", section_id)
            _failed(section, token, _("写作时出错了，请重试。"), repr(exc))
            return
    _done(section, token, text, _cited(text, passages, by_model=by_model), by_model)


def _done(
    section: DraftSection, token: Any, text: str, citations: list[Any], by_model: bool
) -> None:
    with transaction.atomic():
        if not jobs.finish(
            DraftSection,
            section.pk,
            token,
            content=text,
            citations=citations,
            by_model=by_model,
            version=F("version") + 1,
        ):
            return
        version = DraftSection.objects.values_list("version", flat=True).get(pk=section.pk)
        SectionRevision.objects.create(
            section_id=section.pk,
            version=version,
            kind=RevisionKind.GENERATED,
            content=text,
            citations=citations,
            by_model=by_model,
        )
        Draft.objects.filter(pk=section.draft_id).update(sections_done=F("sections_done") + 1)


def _last_saved(section_id: int) -> str:
    revision = SectionRevision.objects.filter(section_id=section_id).order_by("-version").first()
    return revision.content if revision else ""


def _failed(section: DraftSection, token: Any, message: str, detail: str = "") -> None:
    """The reason is kept; the text shown goes back to the last saved one."""
    with transaction.atomic():
        if not jobs.fail(DraftSection, section.pk, token, message, detail):
            return
        DraftSection.objects.filter(pk=section.pk).update(content=_last_saved(section.pk))
        Draft.objects.filter(pk=section.draft_id).update(sections_failed=F("sections_failed") + 1)


def requeue_section(
    user: User, draft_id: int, position: int, *, extra_instruction: str | None = None
) -> DraftSection:
    """Retry a failed section, or regenerate a finished one (with an extra instruction, which
    needs a model: without one it is refused, never silently ignored)."""
    draft = access_draft(user, draft_id, edit=True)
    if extra_instruction is not None and len(extra_instruction) > 500:
        raise WriterError(_("补充要求最多500字。"), code=WriterErrorCode.CONTENT_TOO_LONG)
    if extra_instruction and extra_instruction.strip() and not ai.has_models(FEATURE):
        raise Unavailable(
            str(INSTRUCTION_NEEDS_MODEL), code=WriterErrorCode.INSTRUCTION_NEEDS_MODEL
        )
    if extra_instruction:
        tools.refuse_unsafe(extra_instruction, "writer.prompt")
    with transaction.atomic():
        section = (
            DraftSection.objects.select_for_update().filter(draft=draft, position=position).first()
        )
        if section is None:
            raise NotFound(_("没有这个段落。"), code=WriterErrorCode.SECTION_NOT_FOUND)
        if section.status in ACTIVE:
            raise Conflict(_("这一段正在生成，请等它完成。"), code=WriterErrorCode.SECTION_BUSY)
        counters = (
            {"sections_done": F("sections_done") - 1}
            if section.status == JobStatus.SUCCEEDED
            else {"sections_failed": F("sections_failed") - 1}
        )
        section.status, section.enqueued_at, section.attempts = JobStatus.QUEUED, timezone.now(), 0
        section.error = section.error_detail = ""
        section.started_at = section.finished_at = None
        update = [
            "status",
            "enqueued_at",
            "attempts",
            "error",
            "error_detail",
            "started_at",
            "finished_at",
        ]
        if extra_instruction is not None:
            section.extra_instruction = extra_instruction.strip()
            update.append("extra_instruction")
        section.save(update_fields=update)
        Draft.objects.filter(pk=draft.pk).update(**counters)
        jobs.enqueue(_task(), section.pk)
        metering.count(user, WriterAction.REGENERATE, draft, str(position))
    return section


def _gave_up(section_ids: list[int]) -> None:
    for row in (
        DraftSection.objects.filter(pk__in=section_ids).values("draft_id").annotate(n=Count("id"))
    ):
        Draft.objects.filter(pk=row["draft_id"]).update(
            sections_failed=F("sections_failed") + row["n"]
        )
    for section_id in section_ids:
        DraftSection.objects.filter(pk=section_id).update(content=_last_saved(section_id))


def sweep_sections() -> Swept:
    """Put back sections whose worker stopped beating; re-send those nobody took."""
    return jobs.sweep(
        DraftSection,
        _task(),
        stale_after=timedelta(seconds=settings.WRITER_STALE_SECONDS),
        unclaimed_after=timedelta(seconds=settings.WRITER_UNCLAIMED_SECONDS),
        max_attempts=MAX_ATTEMPTS,
        give_up=_("这一段多次中断，请点“重试”。"),
        on_failed=_gave_up,
    )
