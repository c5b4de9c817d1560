"""REST API of Ask: POST /api/v1/ask/ (whole or streamed as Server-Sent Events), a member's
own conversations, and feedback on an answer.

The ask endpoint is a plain async Django view, because DRF views cannot stream from the event
loop; it still authenticates, throttles and reports errors exactly like the DRF views."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from knowledge.errors import KnowledgeErrorCode
from knowledge.models import Conversation
from knowledge.retrieval import MAX_QUESTION_CHARS
from knowledge.serializers import (
    AskRequestSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    FeedbackSerializer,
    MessageSerializer,
)
from knowledge.services import asking
from portal import ai, overload, permissions
from portal.ai.threads import pooled
from portal.errors import NotPermitted, PortalError, PortalErrorCode
from portal.middleware import NUL_REFUSED
from portal.models import User
from portal.permissions import Perm
from portal.serializers import ErrorSerializer
from portal.streaming import Refused, authenticate, error_response, sse

log = logging.getLogger("knowledge.ask")


class AskThrottle(UserRateThrottle):
    scope = "ask"

    def get_rate(self) -> str | None:
        return str(settings.ASK_RATE)


def _authorise(request: HttpRequest) -> tuple[User, Request]:
    """Who asks, and whether they may."""
    user, drf = authenticate(request)
    try:
        permissions.require(user, Perm.USE_AI)
    except NotPermitted as exc:
        # What stands in the way, in the words Ask's page shows (read only on a refusal).
        reason = permissions.refusal_reason(user, Perm.USE_AI)
        raise Refused(exc.status, reason, exc.code) from exc
    return user, drf


def _throttle(drf: Request) -> None:
    throttle = AskThrottle()
    if not throttle.allow_request(drf, None):  # type: ignore[arg-type]  # unused by it
        wait = max(1, round(throttle.wait() or 1))
        raise Refused(
            429,
            _("提问太频繁了，请 %(n)d 秒后再试。") % {"n": wait},
            PortalErrorCode.THROTTLED,
            Retry_After=str(wait),
        )


def prepare(request: HttpRequest) -> tuple[asking.Turn, bool]:
    """Everything before the answer, in the request's thread: who, what, whether, the turn.
    A refused question does not count against the member's rate."""
    try:
        user, drf = _authorise(request)
        data = _parse(request)
        checker = ai.text_checker(where="ask.answer")  # the safety list, read once
        text = asking.check(data["question"], checker)
        _throttle(drf)
        turn = asking.start_turn(user, text, data.get("conversation"), checker=checker)
        return turn, data["stream"]
    finally:
        asking.release_connections()


async def _events(turn: asking.Turn) -> AsyncIterator[bytes]:
    try:
        async for event in asking.answer(turn):
            yield sse(event.name, event.data)
    except Exception as exc:
        busy = overload.is_overload(exc)
        if busy:
            overload.warn(None, exc)
        else:
            log.exception("ask: the answer to message %s failed", turn.reply.pk)
        yield sse(
            "error",
            {
                "message": overload.busy_message() if busy else _("回答出错了，请稍后再试。"),
                "code": PortalErrorCode.BUSY if busy else KnowledgeErrorCode.ANSWER_FAILED,
                "conversation": turn.conversation.pk,
            },
        )


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _parse(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, _("请求内容不是有效的 JSON。"), KnowledgeErrorCode.BAD_JSON) from None
    if _holds_nul(body):  # a body sent as text/plain is not seen by RefuseNulMiddleware
        raise Refused(400, str(NUL_REFUSED), PortalErrorCode.NUL_CHARACTER)
    data = AskRequestSerializer(data=body if isinstance(body, dict) else {})
    if not data.is_valid():
        field, problems = next(iter(data.errors.items()))
        if field == "question" and problems[0].code == "max_length":
            raise Refused(400, str(problems[0]), KnowledgeErrorCode.QUESTION_TOO_LONG)
        label = data.fields[field].label if field in data.fields else None
        raise Refused(400, f"{label or field}：{problems[0]}", PortalErrorCode.INVALID)
    return dict(data.validated_data)


# How many questions a web process prepares at once (the rest wait their turn, first come first
# served). Each prepare() holds the GIL for most of its ~10 ms: when 50 arrive together, a dozen
# threads taking turns on one process's GIL all finished as late as the last one; two at a time
# still overlap one's database round trips with the other's work (bench/ask_load.py --ramp-ms 0).
PREPARING_AT_ONCE = 2
# The others wait their turn in order, at most ASK_WAIT_SECONDS, then 503 busy.
PREPARING = overload.Gate(lambda: PREPARING_AT_ONCE, lambda: float(settings.ASK_WAIT_SECONDS))


_prepare = pooled(prepare)


@csrf_exempt
async def ask(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """POST {question, conversation?, stream?}: the answer, whole or as an event stream."""
    if request.method != "POST":
        return error_response(
            405, _("请用 POST 提问。"), PortalErrorCode.METHOD_NOT_ALLOWED, Allow="POST"
        )
    try:
        async with PREPARING.enter():
            turn, stream = await _prepare(request)
    except overload.Overloaded as busy:  # no turn within ASK_WAIT_SECONDS
        overload.warn(request, busy)
        return overload.json_response(busy)
    except Refused as refused:
        return error_response(refused.status_code, refused.detail, refused.code, **refused.headers)
    except PortalError as exc:
        return error_response(exc.status, exc.message, exc.code)
    except Exception as exc:
        if not overload.is_overload(exc):
            raise
        overload.warn(request, exc)  # the database pool is full: 503 busy, try again later
        return overload.json_response()
    if not stream:
        return JsonResponse(await asking.collect(turn), json_dumps_params={"ensure_ascii": False})
    response = StreamingHttpResponse(_events(turn), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the stream back
    return response


class ConversationListView(generics.ListAPIView[Conversation]):
    """The signed-in user's conversations, newest first; DELETE removes them all."""

    serializer_class = ConversationSerializer

    def get_queryset(self) -> Any:
        return asking.conversations_of(permissions.require_user(self.request))

    @extend_schema(
        operation_id="conversations_destroy_all",
        responses={204: None},
        summary="Delete all of my conversations",
    )
    def delete(self, request: Request) -> Response:
        asking.delete_history(permissions.require_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationDetailView(generics.RetrieveDestroyAPIView[Conversation]):
    serializer_class = ConversationDetailSerializer

    def get_object(self) -> Conversation:
        return asking.access_conversation(permissions.require_user(self.request), self.kwargs["pk"])

    def perform_destroy(self, instance: Conversation) -> None:
        asking.delete_conversation(permissions.require_user(self.request), instance.pk)


class FeedbackView(APIView):
    @extend_schema(
        request=FeedbackSerializer,
        responses={200: MessageSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        summary="Rate an answer up or down, with an optional reason",
    )
    def post(self, request: Request, pk: int) -> Response:
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = asking.give_feedback(
            permissions.require_user(request),
            pk,
            data.validated_data["rating"],
            data.validated_data["reason"],
        )
        return Response(MessageSerializer(message).data)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_SOURCE = {
    "type": "object",
    "description": "a law and article an FAQ answer rests on",
    "properties": {
        "document": {"type": "string", "description": "the law's title as the entry names it"},
        "article": {"type": "string", "description": "第三十八条"},
        "document_id": {"type": "integer", "nullable": True},
        "segment": {"type": "integer", "nullable": True},
        "url": {
            "type": "string",
            "nullable": True,
            "description": "the article in its document; null when it is not in the base",
        },
    },
    "required": ["document", "article", "url"],
}
_CITATION = {
    "type": "object",
    "description": (
        "a passage the answer rests on: a segment of a document (`kind` segment), or an "
        "editor's FAQ answer (`kind` faq: `document` is 常见问题, `article` the entry's question, "
        "`text` its answer, `sources` the articles it rests on). Answers stored before "
        "`kind` existed have none: read a missing `kind` as segment."
    ),
    "properties": {
        "n": {"type": "integer", "description": "the number the answer cites it by: [n]"},
        "kind": {"type": "string", "enum": ["segment", "faq"]},
        "segment": {"type": "integer", "nullable": True, "description": "null for an FAQ"},
        "faq": {"type": "integer", "nullable": True, "description": "the FAQ entry's id"},
        "document_id": {"type": "integer", "nullable": True},
        "document": {"type": "string", "description": "the document's title, or 常见问题"},
        "article": {
            "type": "string",
            "description": "第十九条, a section heading, or the FAQ entry's question",
        },
        "context": {"type": "string"},
        "text": {"type": "string", "description": "the passage as it was quoted"},
        "url": {
            "type": "string",
            "nullable": True,
            "description": "the passage in its document (an FAQ: its first linked source)",
        },
        "sources": {"type": "array", "items": _SOURCE, "description": "empty for a segment"},
    },
    "required": ["n", "kind", "segment", "document", "article", "text", "url", "sources"],
}
_ANSWER = {
    "type": "object",
    "properties": {
        "conversation": {"type": "integer"},
        "message": {"type": "integer", "description": "the answer's id, for feedback"},
        "question": {"type": "string"},
        "answer": {"type": "string"},
        "abstained": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["llm", "extractive"]},
        "fallback": {"type": "boolean", "description": "the model failed; passages quoted"},
        "withdrawn": {"type": "boolean", "description": "the safety check withdrew it"},
        "citations": {"type": "array", "items": _ref("AskCitation")},
        "timings": {
            "type": "object",
            "properties": {
                "retrieval_ms": {"type": "number"},
                "first_token_ms": {"type": "number", "nullable": True},
                "total_ms": {"type": "number"},
            },
        },
    },
    "required": ["conversation", "message", "answer", "abstained", "mode", "citations"],
}
_ASK_REQUEST = {
    "type": "object",
    "properties": {
        "question": {
            "type": "string",
            "maxLength": MAX_QUESTION_CHARS,
            "description": "counted as Ask counts it: white space made one, numbers masked",
        },
        "conversation": {"type": "integer", "nullable": True},
        "stream": {"type": "boolean", "default": False},
    },
    "required": ["question"],
}
_STREAM = (
    "With `stream: true`, `text/event-stream`: `event: citations` (data: the passages given "
    "to the model), `event: thinking` (data: {}; once, when a reasoning model begins to "
    "think: its thoughts are never sent), `event: delta` (data: {text}, the answer only) "
    "until the answer is complete, then "
    "`event: done` (data: the same object as without stream) or `event: error` "
    "(data: {message, code})."
)


def document_ask(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """drf-spectacular post-processing hook: the ask endpoint is not a DRF view, so its
    OpenAPI description is written out here."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update({"AskRequest": _ASK_REQUEST, "AskAnswer": _ANSWER, "AskCitation": _CITATION})
    error = {"application/json": {"schema": _ref("Error")}}
    result.setdefault("paths", {})["/api/v1/ask/"] = {
        "post": {
            "operationId": "ask_create",
            "summary": "Ask a question: a cited answer, whole or streamed",
            "description": _STREAM,
            "tags": ["ask"],
            "security": [{"tokenAuth": []}, {"cookieAuth": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("AskRequest")}},
            },
            "responses": {
                "200": {
                    "description": "the answer, or its event stream",
                    "content": {
                        "application/json": {"schema": _ref("AskAnswer")},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "400": {"description": "a bad question", "content": error},
                "401": {"description": "not signed in", "content": error},
                "403": {"description": "may not use Ask", "content": error},
                "404": {"description": "no such conversation of yours", "content": error},
                "429": {"description": "asked too often", "content": error},
            },
        }
    }
    return result
