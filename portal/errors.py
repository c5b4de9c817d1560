"""Domain errors: a stable code for API clients and a Chinese message for people."""

from __future__ import annotations


class PortalError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotPermitted(PortalError):
    code = "not_permitted"
    status = 403


class NotFound(PortalError):
    code = "not_found"
    status = 404
