"""Middleware that stays on the event loop: WhiteNoise's static files, and the refusal of NUL
characters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from io import BytesIO
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.datastructures import MultiValueDict
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView
from whitenoise.middleware import WhiteNoiseMiddleware

from portal.errors import PortalErrorCode
from portal.hybrid import HybridMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise (6.x) is synchronous only, so under ASGI Django would run every request's
    whole middleware chain through a thread and back, the streamed answers of Ask included
    (bench/ask_load.py measured it). This one passes requests that are not for a static file
    straight on, on the event loop; serving a file still runs in a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], **kwargs: Any) -> None:
        super().__init__(get_response, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if path.startswith(self.static_prefix):
            if self.autorefresh:  # development: look on disk, off the event loop
                static_file = await sync_to_async(self.find_file)(path)
            else:
                static_file = self.files.get(path)
            if static_file is not None:
                response: HttpResponseBase = await sync_to_async(self.serve)(static_file, request)
                if isinstance(response, StreamingHttpResponse) and not response.is_async:
                    # Served as an async iterator: Django would otherwise read the whole file
                    # into a list in a thread and log a Warning for every static file.
                    blocks = cast(Iterator[bytes], response.streaming_content)
                    response.streaming_content = _blocks(blocks)
                return response
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)


async def _blocks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A static file's blocks (a local file, read 8 KB at a time: no wait worth a thread)."""
    for chunk in chunks:
        yield chunk


NUL = "\x00"
# The JSON escape of U+0000: \u0000 after an even number of backslashes (after an odd number,
# its backslash is itself escaped and the text is the six characters "\u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORMS = ("application/x-www-form-urlencoded",)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def carries_nul(request: HttpRequest) -> bool:
    """Whether any text the client sent holds U+0000: the path, the query string, a header or
    cookie, a JSON or form body, or a field of a multipart form (not the files' contents; not
    the form at all when the view refuses the request unread, see _refused_unread)."""
    query = request.META.get("QUERY_STRING", "")
    if NUL in request.path_info or NUL in query or "%00" in query:
        return True
    if any(k.startswith("HTTP_") and NUL in str(v) for k, v in request.META.items()):
        return True
    if any(NUL in k or NUL in v for k, v in request.COOKIES.items()):
        return True
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        if _refused_unread(request):
            return False
        fields, files = _multipart(request)  # MultiPartParserError: an unreadable form
        return any(NUL in k or any(NUL in v for v in vs) for k, vs in fields.lists()) or any(
            NUL in k or any(NUL in (f.name or "") for f in fs) for k, fs in files.lists()
        )
    json_body = _is_json(content_type)
    if not json_body and content_type not in _FORMS:
        return False  # no parser of ours reads other bodies as text
    body = request.body  # read once; the views and DRF read it from the request again
    if b"\x00" in body:
        return True
    return bool(_JSON_NUL.search(body)) if json_body else b"%00" in body


def _refused_unread(request: HttpRequest) -> bool:
    """Whether the view refuses this request before it reads the body: the request carries no
    credentials (neither a session cookie nor an Authorization header), and its view is an API
    view that lets no anonymous caller in (DRF authenticates and checks permissions before
    anything reads request.data). Its multipart form is then not parsed here: parsing writes the
    files to disk, up to 100 × 20 MB, for a request about to be answered 401.

    Every other view keeps the check, whoever calls: the sign-in, registration and activation
    forms, the admin's sign-in and the token exchange read anonymous forms (whatever enctype
    their pages give, a client may post them as multipart)."""
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "HTTP_AUTHORIZATION" in request.META:
        return False
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None)
    if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
        return False
    initkwargs = getattr(match.func, "view_initkwargs", None) or {}
    permission_classes = initkwargs.get("permission_classes", view_class.permission_classes)
    # Only plain permission classes are understood; a composed one (A | B) keeps the check.
    return bool(permission_classes) and all(
        isinstance(p, type) and not issubclass(p, AllowAny) for p in permission_classes
    )


def _multipart(request: HttpRequest) -> tuple[QueryDict, MultiValueDict[str, UploadedFile]]:
    """A multipart form's fields and files, for the check only."""
    if request.method == "POST":
        # Parsed now rather than in the view, with the upload handlers of FILE_UPLOAD_HANDLERS
        # (knowledge.uploads' size limit first), so a view must not replace
        # request.upload_handlers. The view and DRF then read the parsed form.
        return request.POST, request.FILES
    # Django parses the forms of POSTs only; DRF reads PUT and PATCH forms from the body, which
    # stays readable. Files are of no interest here: the small ones are kept in memory.
    handlers = [MemoryFileUploadHandler(request)]
    parser = MultiPartParser(request.META, BytesIO(request.body), handlers, request.encoding)
    return parser.parse()


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _api_error(message: str, code: PortalErrorCode, status: int) -> JsonResponse:
    return JsonResponse(
        {"detail": message, "code": code}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def _bad_request(request: HttpRequest, message: str, code: PortalErrorCode) -> HttpResponseBase:
    """400 with a code: JSON under /api/, a plain page elsewhere."""
    if _is_api(request):
        return _api_error(message, code, 400)
    title = _("请求有误")
    return HttpResponseBadRequest(
        format_html(
            '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">'
            "<title>{}</title></head><body><h1>{}</h1><p>{}</p></body></html>",
            title,
            title,
            message,
        )
    )


# Also the Ask endpoint's answer to a NUL in a body it reads as JSON whatever its type.
NUL_REFUSED = gettext_lazy("请求中含有空字符（U+0000），无法处理。请删除后重试。")


def nul_refusal(request: HttpRequest) -> HttpResponseBase:
    return _bad_request(request, str(NUL_REFUSED), PortalErrorCode.NUL_CHARACTER)


def unreadable_form(request: HttpRequest) -> HttpResponseBase:
    message = _("提交的表单数据格式有误，无法解析。请重新提交。")
    return _bad_request(request, message, PortalErrorCode.PARSE_ERROR)


def refusal(request: HttpRequest) -> HttpResponseBase | None:
    """The answer to a request that must not reach the views, or None."""
    try:
        if carries_nul(request):
            return nul_refusal(request)
    except MultiPartParserError:
        # Django would mark the form empty and carry on: the API would answer `invalid`, a
        # signed-in form post the CSRF refusal, and a page would render again as if unfilled.
        return unreadable_form(request)
    except RequestDataTooBig:
        if not _is_api(request):
            raise  # Django's own 400 page
        message = _("请求内容超过了允许的大小，无法处理。")
        return _api_error(message, PortalErrorCode.REQUEST_TOO_LARGE, 413)
    return None


class RefuseNulMiddleware(HybridMiddleware):
    """PostgreSQL can neither store nor compare U+0000 in text: a request that carries one
    anywhere would end in a database error wherever it met a query. Refused here, once for
    every text input and every lookup, with 400 and the code `nul_character` (JSON under
    /api/, a plain page elsewhere); a multipart form that cannot be parsed, with 400
    `parse_error`; under /api/, a body over DATA_UPLOAD_MAX_MEMORY_SIZE with 413
    `request_too_large` (Django's bare 400 page elsewhere). Early in the chain: the session
    and token lookups are client-supplied strings too."""

    def _call(self, request: HttpRequest) -> Any:
        refused = refusal(request)
        return refused if refused is not None else self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        if request.content_type == "multipart/form-data":
            refused = await sync_to_async(refusal)(request)  # files are written to disk
        else:
            refused = refusal(request)
        if refused is not None:
            return refused
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)
