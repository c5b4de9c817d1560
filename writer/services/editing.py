"""Editing a section: every save is a revision; a save made from an outdated version is
refused (two people editing one section never overwrite each other silently)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from portal.errors import NotFound
from portal.jobs import ACTIVE
from portal.models import User
from writer.errors import Conflict, WriterError, WriterErrorCode
from writer.models import DraftSection, RevisionKind, SectionRevision
from writer.services.access import access_draft

MAX_CONTENT = 20_000


def section_of(user: User, draft_id: int, position: int, *, edit: bool = False) -> DraftSection:
    draft = access_draft(user, draft_id, edit=edit)
    section = draft.sections.filter(position=position).first()
    if section is None:
        raise NotFound(_("没有这个段落。"), code=WriterErrorCode.SECTION_NOT_FOUND)
    return section


def _write(
    user: User,
    section: DraftSection,
    *,
    version: int,
    content: str,
    kind: RevisionKind,
    citations: list[object],
    by_model: bool,
) -> DraftSection:
    if len(content) > MAX_CONTENT:
        raise WriterError(
            _("内容太长了（%(n)d 字），每段最多 %(max)d 字。")
            % {"n": len(content), "max": MAX_CONTENT},
            code=WriterErrorCode.CONTENT_TOO_LONG,
        )
    with transaction.atomic():
        saved = (
            DraftSection.objects.filter(pk=section.pk, version=version)
            .exclude(status__in=ACTIVE)
            .update(
                content=content, citations=citations, by_model=by_model, version=F("version") + 1
            )
        )
        if not saved:
            section.refresh_from_db()
            if section.status in ACTIVE:
                raise Conflict(
                    _("这一段正在生成，请等它完成后再修改。"), code=WriterErrorCode.SECTION_BUSY
                )
            raise Conflict(
                _(
                    "这一段已被他人修改（现为第 %(v)d 版）。"
                    "请刷新查看最新内容，再把您的修改合并进去。"
                )
                % {"v": section.version},
                code=WriterErrorCode.EDIT_CONFLICT,
            )
        section.refresh_from_db()
        SectionRevision.objects.create(
            section=section,
            version=section.version,
            kind=kind,
            content=content,
            citations=citations,
            by_model=by_model,
            author=user,
        )
    return section


def save_section(
    user: User, draft_id: int, position: int, *, content: str, version: int
) -> DraftSection:
    """Save the drafter's text, made from `version` of the section."""
    section = section_of(user, draft_id, position, edit=True)
    return _write(
        user,
        section,
        version=version,
        content=content.replace("\r\n", "\n"),
        kind=RevisionKind.EDITED,
        citations=section.citations,
        by_model=section.by_model,
    )


def restore_revision(
    user: User, draft_id: int, position: int, *, revision: int, version: int
) -> DraftSection:
    section = section_of(user, draft_id, position, edit=True)
    old = section.revisions.filter(version=revision).first()
    if old is None:
        raise NotFound(_("没有这个修订版本。"), code=WriterErrorCode.REVISION_NOT_FOUND)
    return _write(
        user,
        section,
        version=version,
        content=old.content,
        kind=RevisionKind.RESTORED,
        citations=old.citations,
        by_model=old.by_model,
    )


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed"
    text: str


def diff(old: str, new: str) -> list[DiffLine]:
    """Line by line, what changed from `old` to `new`."""
    out = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        tag, text = line[:2], line[2:]
        if tag == "? ":
            continue
        out.append(DiffLine({"+ ": "added", "- ": "removed"}.get(tag, "same"), text))
    return out
