"""POST /api/v1/writer/tools/<tool>/: the quick tools on selected text.

规范检查 (`check`) answers JSON findings at once. The model tools stream Server-Sent Events
(`delta` {text}…, then `done` {text} or `error` {detail, code}); this is a plain async view, as
Ask's is, because DRF cannot stream from the event loop. Naming a `draft` gives its forbidden
phrasings; a model tool on a draft then needs the right to edit it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from portal import ai, permissions
from portal.errors import PortalError, PortalErrorCode
from portal.models import User
from portal.permissions import Perm
from portal.streaming import Refused, authenticate, error_response, sse
from writer.errors import WriterErrorCode
from writer.models import WriterAction
from writer.services import metering, tools

log = logging.getLogger("writer")


def _prepare(request: HttpRequest, tool: str) -> tuple[User, str, list[str]]:
    """Who (token or session with its CSRF token), may they, what text, which style guide."""
    user, drf = authenticate(request)
    permissions.require(user, Perm.DRAFT_MATERIALS)
    try:
        data = drf.data
    except exceptions.ParseError as exc:
        raise PortalError(str(exc.detail), code=PortalErrorCode.PARSE_ERROR) from exc
    if not isinstance(data, dict):
        raise PortalError(_("请求应为 JSON 对象。"), code=PortalErrorCode.PARSE_ERROR)
    text = tools.check_selection(tool, data.get("text"))
    forbidden: list[str] = []
    if isinstance(data.get("draft"), int):
        forbidden = tools.forbidden_of(user, tool, data["draft"])
    return user, text, forbidden


async def _events(
    tool: str, text: str, user: User, checker: ai.TextChecker
) -> AsyncIterator[bytes]:
    parts: list[str] = []
    try:
        async for delta in tools.run(tool, text, user):
            parts.append(delta)
            if not checker.check("".join(parts)).allowed:  # before the words go out
                yield sse(
                    "error",
                    {
                        "detail": _("生成的内容未通过内容安全检查，请调整后重试。"),
                        "code": WriterErrorCode.UNSAFE_TEXT,
                    },
                )
                return
            yield sse("delta", {"text": delta})
    except ai.AIError as exc:
        yield sse("error", {"detail": exc.message, "code": exc.code})
        return
    except Exception:
        log.exception("writer: tool %s failed", tool)
        yield sse("error", {"detail": _("处理失败，请重试。"), "code": "writer_error"})
        return
    yield sse("done", {"text": "".join(parts)})


@csrf_exempt  # a session's CSRF token is checked by DRF's SessionAuthentication above
async def tool_view(request: HttpRequest, tool: str) -> HttpResponseBase:
    if request.method != "POST":
        return error_response(405, _("请用 POST。"), PortalErrorCode.METHOD_NOT_ALLOWED)
    try:
        user, text, forbidden = await sync_to_async(_prepare)(request, tool)
        findings = None
        if tool == tools.CHECK:
            findings = await sync_to_async(tools.conventions)(text, forbidden)
        else:
            await tools.require_model()
    except Refused as refused:
        return error_response(refused.status_code, refused.detail, refused.code, **refused.headers)
    except PortalError as exc:
        return error_response(exc.status, exc.message, exc.code)
    await sync_to_async(metering.count)(user, WriterAction.TOOL, detail=tool)
    if findings is not None:
        return JsonResponse({"findings": findings}, json_dumps_params={"ensure_ascii": False})
    checker = await sync_to_async(ai.text_checker)(where="writer.answer")
    response = StreamingHttpResponse(
        _events(tool, text, user, checker), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
