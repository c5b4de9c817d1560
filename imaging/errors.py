"""The error codes of Draw: requests, refinement, the gallery, brand kits and presets."""

from __future__ import annotations

from portal.errors import ErrorCode, PortalError


class ImagingErrorCode(ErrorCode):
    IMAGING_ERROR = "imaging_error"
    # A request
    EMPTY_PROMPT = "empty_prompt"
    PROMPT_TOO_LONG = "prompt_too_long"
    UNKNOWN_PURPOSE = "unknown_purpose"
    UNSUPPORTED_SIZE = "unsupported_size"
    SIZE_NOT_SUPPORTED_BY_MODEL = "size_not_supported_by_model"
    UNKNOWN_STYLE = "unknown_style"
    BAD_VARIATIONS = "bad_variations"
    TEXT_TOO_LONG = "text_too_long"
    TEXT_DOES_NOT_FIT = "text_does_not_fit"
    TITLE_REQUIRED = "title_required"
    QUOTA_EXCEEDED = "quota_exceeded"
    LAYOUT_LIMIT_EXCEEDED = "layout_limit_exceeded"
    # A request's life
    IMAGE_NOT_FOUND = "image_not_found"
    NOT_CANCELLABLE = "not_cancellable"
    NOT_REFINABLE = "not_refinable"
    TAKEN_DOWN = "taken_down"
    REASON_REQUIRED = "reason_required"
    # Brand kits and presets
    BAD_COLOUR = "bad_colour"
    BAD_LOGO = "bad_logo"
    NOT_YOUR_UNIT = "not_your_unit"
    PRESET_NOT_FOUND = "preset_not_found"
    BAD_PRESET = "bad_preset"


class ImagingError(PortalError):
    code = ImagingErrorCode.IMAGING_ERROR


class QuotaExceeded(ImagingError):
    """Over the day's images: 429, with the instant the quota resets."""

    code = ImagingErrorCode.QUOTA_EXCEEDED
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LayoutLimitExceeded(QuotaExceeded):
    """Over the day's template layouts (made without a model; apart from the AI quota): 429."""

    code = ImagingErrorCode.LAYOUT_LIMIT_EXCEEDED


class ImageNotFound(ImagingError):
    """Missing, or someone else's: the same answer."""

    code = ImagingErrorCode.IMAGE_NOT_FOUND
    status = 404


class Conflict(ImagingError):
    status = 409
