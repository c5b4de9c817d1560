"""Write's models: templates ← drafts (sections, revisions, shares, exports, usage)."""

from writer.models.drafts import (
    Draft,
    DraftExport,
    DraftSection,
    DraftShare,
    DraftStatus,
    ExportFormat,
    RevisionKind,
    SectionRevision,
    WriterAction,
    WriterUsage,
)
from writer.models.templates import TemplateKind, TemplateVersion, WritingTemplate

__all__ = [
    "Draft",
    "DraftExport",
    "DraftSection",
    "DraftShare",
    "DraftStatus",
    "ExportFormat",
    "RevisionKind",
    "SectionRevision",
    "TemplateKind",
    "TemplateVersion",
    "WriterAction",
    "WriterUsage",
    "WritingTemplate",
]
