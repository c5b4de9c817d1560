"""Domain errors: a stable code for API clients and a Chinese message for people."""

from __future__ import annotations

import logging
from enum import StrEnum

from django.core.exceptions import PermissionDenied


class ErrorCode(StrEnum):
    """The base of every domain's error codes (PortalErrorCode, KnowledgeErrorCode,
    AIErrorCode): each code is one value of one of them, and the API schema lists them all."""


class PortalErrorCode(ErrorCode):
    ERROR = "error"
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"
    # What the API answers by itself (portal.api.exception_handler passes DRF's codes on).
    INVALID = "invalid"
    PARSE_ERROR = "parse_error"
    AUTHENTICATION_FAILED = "authentication_failed"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    CSRF_FAILED = "csrf_failed"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"
    NUL_CHARACTER = "nul_character"  # portal.middleware.RefuseNulMiddleware
    REQUEST_TOO_LARGE = "request_too_large"  # over DATA_UPLOAD_MAX_MEMORY_SIZE (the same)
    BUSY = "busy"  # overload: 503 with Retry-After, "人多，请稍后再试" (portal/overload.py)
    # Signing in and tokens
    INVALID_CREDENTIALS = "invalid_credentials"
    LOCKED_OUT = "locked_out"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105  (a code, not a password)
    # Accounts
    ACTIVATION_REFUSED = "activation_refused"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    UNKNOWN_ROLE = "unknown_role"
    # The beta
    ENROLMENT_REFUSED = "enrolment_refused"
    NOT_VERIFIED = "not_verified"
    NOT_OPEN_YET = "not_open_yet"
    CLOSED = "closed"
    # The roster
    ROSTER_INVALID = "roster_invalid"


class PortalError(Exception):
    code: ErrorCode = PortalErrorCode.ERROR
    status = 400

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotPermitted(PortalError, PermissionDenied):
    """A refusal of the permission policy: the API answers it as 403 not_permitted, and, being
    Django's PermissionDenied too, a page as its 403 page."""

    code = PortalErrorCode.NOT_PERMITTED
    status = 403

    def __init__(
        self, message: str, *, code: ErrorCode | None = None, perm: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.perm = perm  # the permission the policy refused, when it was one (the 403 page)


class NotFound(PortalError):
    code = PortalErrorCode.NOT_FOUND
    status = 404


class RefusalWithoutTraceback(logging.Filter):
    """On `django.request`: a request refused with a 4xx (403 permission denied, 404, 400) is one
    WARNING line, as Django words it, without the traceback of the exception that refused it. A
    refusal is the policy at work, not a bug; the traceback made every 403 look like one."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
