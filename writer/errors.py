"""The error codes of Write: templates, drafts, editing, sharing, export and the quick tools."""

from __future__ import annotations

from portal.errors import ErrorCode, PortalError


class WriterErrorCode(ErrorCode):
    WRITER_ERROR = "writer_error"
    # Templates
    BAD_TEMPLATE = "bad_template"
    UNKNOWN_PLACEHOLDER = "unknown_placeholder"
    BAD_PLACEHOLDER = "bad_placeholder"
    DUPLICATE_TEMPLATE = "duplicate_template"
    TEMPLATE_NOT_FOUND = "template_not_found"
    # The form a drafter fills
    BAD_FIELDS = "bad_fields"
    # Drafts and sections
    DRAFT_NOT_FOUND = "draft_not_found"
    SECTION_NOT_FOUND = "section_not_found"
    SECTION_BUSY = "section_busy"
    INSTRUCTION_NEEDS_MODEL = "instruction_needs_model"  # 补充要求 with no model to follow it
    EDIT_CONFLICT = "edit_conflict"
    CONTENT_TOO_LONG = "content_too_long"
    REVISION_NOT_FOUND = "revision_not_found"
    # Sharing
    BAD_SHARE = "bad_share"
    # Export
    DRAFT_NOT_READY = "draft_not_ready"
    DRAFT_EMPTY = "draft_empty"  # every section failed: nothing to export yet
    BAD_FORMAT = "bad_format"
    PDF_UNAVAILABLE = "pdf_unavailable"
    PDF_FAILED = "pdf_failed"
    EXPORT_PENDING = "export_pending"
    # Quick tools
    UNKNOWN_TOOL = "unknown_tool"
    TOOL_UNAVAILABLE = "tool_unavailable"
    BAD_SELECTION = "bad_selection"
    UNSAFE_TEXT = "unsafe_text"  # the sensitive-word list refused a selection or instruction


class WriterError(PortalError):
    code = WriterErrorCode.WRITER_ERROR


class Conflict(WriterError):
    """The state changed under the request: a section being written, edited meanwhile."""

    status = 409


class Unavailable(WriterError):
    """A part that is not there: no model for the tools or for an extra instruction, no
    LibreOffice for PDF."""

    status = 503


class FieldErrors(WriterError):
    """A form (or a template) with errors per field: the API answers 400 with `fields`."""

    code = WriterErrorCode.BAD_FIELDS

    def __init__(
        self, message: str, errors: dict[str, list[str]], *, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.errors = errors
