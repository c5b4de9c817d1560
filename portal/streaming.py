"""Plain async views that stream Server-Sent Events (Ask's answers, Write's quick tools).

DRF views cannot stream from the event loop, so these views authenticate with DRF's own classes
here (an API token, or a session with its CSRF token) and answer refusals in the API's shape:
`{"detail": …, "code": …}` with the right status and headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

from portal import permissions
from portal.auth import ExpiringTokenAuthentication
from portal.errors import ErrorCode, PortalErrorCode
from portal.models import User


class Refused(Exception):
    """A request the view answers with an error before it streams anything."""

    def __init__(self, status_code: int, detail: str, code: ErrorCode, **headers: str) -> None:
        super().__init__(detail)
        self.status_code, self.detail, self.code, self.headers = status_code, detail, code, headers


def error_response(status_code: int, detail: str, code: ErrorCode, **headers: str) -> JsonResponse:
    """The API's error body; `Retry_After="3"` becomes the header `Retry-After: 3`."""
    response = JsonResponse(
        {"detail": detail, "code": code},
        status=status_code,
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def authenticate(
    request: HttpRequest, tokens: Mapping[str, Token | None] | None = None
) -> tuple[User, Request]:
    """Who calls (API token or session with its CSRF token), with the DRF request that reads
    the JSON body; Refused (401, 403) otherwise. `tokens`: the tokens of a batch of requests,
    read together (portal.auth.tokens_named)."""
    drf = Request(
        request,
        parsers=[JSONParser()],  # the CSRF check of a session reads the form fields
        authenticators=[ExpiringTokenAuthentication(tokens), SessionAuthentication()],
    )
    try:
        user = permissions.user_or_none(drf)
    except exceptions.AuthenticationFailed as exc:
        # Our own code when the refusal names one (token_expired), as the DRF views answer.
        given = getattr(exc.detail, "code", None)
        code = PortalErrorCode(given) if given in set(PortalErrorCode) else None
        raise Refused(
            401,
            str(exc.detail),
            code or PortalErrorCode.AUTHENTICATION_FAILED,
            WWW_Authenticate="Token",
        ) from exc
    except exceptions.PermissionDenied as exc:  # a session without its CSRF token
        raise Refused(403, str(exc.detail), PortalErrorCode.CSRF_FAILED) from exc
    if user is None:
        raise Refused(
            401, _("请先登录。"), PortalErrorCode.NOT_AUTHENTICATED, WWW_Authenticate="Token"
        )
    return user, drf


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(…, ensure_ascii=False) makes one per call
_text = json.encoder.encode_basestring  # a str as _JSON writes it


def sse(name: str, data: Any) -> bytes:
    """One Server-Sent Event. Every delta of a streamed answer is one: its {"text": …} is
    written directly, as json.dumps(…, ensure_ascii=False) writes it."""
    if type(data) is dict and len(data) == 1 and type(text := data.get("text")) is str:
        return f'event: {name}\ndata: {{"text": {_text(text)}}}\n\n'.encode()
    return f"event: {name}\ndata: {_JSON.encode(data)}\n\n".encode()
