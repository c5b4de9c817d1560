"""REST API of the portal app under /api/v1/: tokens, the beta, the signed-in user."""

from __future__ import annotations

import asyncio
import contextvars
import math
import weakref
from typing import Any

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.contrib.auth import authenticate as authenticate_password
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from portal import audit, overload, permissions
from portal.audit import AuditOrigin
from portal.auth import ExpiringTokenAuthentication, issue_token, revoke_token, tokens_named
from portal.errors import NotFound, PortalError, PortalErrorCode
from portal.models import AuditAction, User
from portal.serializers import (
    ERROR_CODE_VALUES,
    BetaProgrammeSerializer,
    EnrolmentSerializer,
    ErrorSerializer,
    MeSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from portal.services import beta
from portal.streaming import Refused, authenticate, error_response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors and DRF's own as {"detail": message, "code": code}; an overload (the
    database pool full) as 503 busy with Retry-After."""
    if overload.is_overload(exc) and not isinstance(exc, overload.Overloaded):
        overload.warn(context["request"]._request if context.get("request") else None, exc)
        busy = overload.Overloaded()
        return overload.logged(
            Response(
                {"detail": busy.message, "code": busy.code},
                status=busy.status,
                headers={"Retry-After": str(busy.retry_after)},
            )
        )
    if isinstance(exc, PortalError):
        data: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if errors := getattr(exc, "errors", None):  # a form's errors, per field
            data["errors"] = errors
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:  # a quota or a busy service: when to try again
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return Response(data, status=exc.status, headers=headers)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, APIException):
        codes = exc.get_codes()
        if isinstance(response.data, dict) and "detail" in response.data:
            # Only codes the schema lists: DRF's own, and the ones our code gives its exceptions.
            known = isinstance(codes, str) and codes in ERROR_CODE_VALUES
            response.data["code"] = codes if known else PortalErrorCode.ERROR
        else:
            response.data = {
                "detail": _("请求参数有误。"),
                "code": PortalErrorCode.INVALID,
                "errors": response.data,
            }
    return response


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
        summary="Exchange a user name and password for an API token",
    )
    def post(self, request: Request) -> Response:
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        http_request = request._request
        user = authenticate_password(
            http_request,
            username=form.validated_data["username"],
            password=form.validated_data["password"],
        )
        if getattr(http_request, "axes_locked_out", False):
            # django-axes' middleware turns this into its lock-out answer.
            return Response(status=status.HTTP_429_TOO_MANY_REQUESTS)
        if user is None or not isinstance(user, User) or not user.is_active:
            return Response(
                {"detail": _("用户名或密码不正确。"), "code": PortalErrorCode.INVALID_CREDENTIALS},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token = issue_token(user)
        audit.record(
            AuditAction.TOKEN_ISSUED,
            actor=user,
            target=user.username,
            origin=AuditOrigin.of(http_request),
        )
        return Response({"token": token.key, "expires_at": token.created + settings.API_TOKEN_TTL})

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"  # revoking without a (valid) token is a 401, as everywhere else

    @extend_schema(
        request=None,
        responses={204: None, 401: ErrorSerializer},
        summary="Revoke the API token this request is signed with",
        auth=[{"tokenAuth": []}],  # type: ignore[list-item]
    )
    def delete(self, request: Request) -> Response:
        http_request = request._request
        signed = ExpiringTokenAuthentication().authenticate(http_request)  # type: ignore[arg-type]
        if signed is None:
            raise NotAuthenticated(_("请在 Authorization 头中给出要撤销的令牌。"))
        user, token = signed
        revoke_token(token)
        audit.record(
            AuditAction.TOKEN_REVOKED,
            actor=user,
            target=user.username,
            origin=AuditOrigin.of(http_request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _programme_data(state: beta.ProgrammeState) -> dict[str, Any]:
    p = state.programme
    return {
        "slug": p.slug,
        "name": p.name,
        "capacity": p.capacity,
        "accepted": state.accepted,
        "waitlisted": state.waitlisted,
        "places_left": state.places_left,
        "opens_at": p.opens_at,
        "closes_at": p.closes_at,
        "is_open": p.is_open(),
        "my_status": state.my_status,
        "my_waitlist_position": state.my_waitlist_position,
    }


class CurrentBetaView(APIView):
    @extend_schema(
        responses={200: BetaProgrammeSerializer, 404: ErrorSerializer},
        summary="The current beta programme and my place in it",
    )
    def get(self, request: Request) -> Response:
        programme = beta.current_programme()
        if programme is None:
            raise NotFound(_("目前没有内测计划。"))
        state = beta.programme_state(programme, permissions.require_user(request))
        return Response(BetaProgrammeSerializer(_programme_data(state)).data)


class EnrolView(APIView):
    """Only describes the endpoint for the schema: `enrol` below answers it."""

    @extend_schema(
        request=None,
        responses={
            201: EnrolmentSerializer,
            200: EnrolmentSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            503: ErrorSerializer,
        },
        summary="Enrol in a beta programme (a repeat returns the existing status)",
        description="503 `busy` with Retry-After when too many enrol at once: try again then.",
    )
    def post(self, request: Request, slug: str) -> Response:
        raise NotImplementedError  # pragma: no cover  (routed to enrol)


ENROL_GATE = overload.Gate(
    lambda: int(settings.ENROL_CONCURRENCY), lambda: float(settings.ENROL_WAIT_SECONDS)
)


def _enrol_batch(batch: list[tuple[HttpRequest, str]]) -> list[beta.Enrolment | Exception]:
    """Each caller's enrolment or refusal (a thread's work): who calls (the batch's tokens read
    in one query), then the places of all in one transaction (beta.enrol_together). One hand-off
    to a thread for the whole batch."""
    try:
        tokens = tokens_named(request for request, _slug in batch)
        callers: list[User | Refused] = []
        for request, _slug in batch:
            try:
                callers.append(authenticate(request, tokens)[0])
            except Refused as refused:
                callers.append(refused)
        members = [
            (user, slug, AuditOrigin.of(request))
            for user, (request, slug) in zip(callers, batch, strict=True)
            if isinstance(user, User)
        ]
        places = iter(beta.enrol_together(members))
        return [next(places) if isinstance(user, User) else user for user in callers]
    finally:
        overload.release_connections()


class EnrolmentBatches:
    """Enrolments of one event loop go to the database together: while one transaction writes
    a batch, the members arriving meanwhile wait on the loop and go in the next. A rush then
    waits for the disk once per batch rather than once per member (the programme row stays
    locked until each commit is written, so commits cannot overlap), and a batch costs a few
    round trips whatever its size (beta.enrol_together). At most ENROL_CONCURRENCY members in
    the batches (ENROL_GATE)."""

    def __init__(self) -> None:
        self._queues: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[tuple[HttpRequest, str, asyncio.Future[Any]]]
        ] = weakref.WeakKeyDictionary()
        self._draining: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()

    async def enrol(self, request: HttpRequest, slug: str) -> beta.Enrolment:
        """The caller's enrolment; Refused, a PortalError or the database's failure raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[beta.Enrolment] = loop.create_future()
        self._queues.setdefault(loop, []).append((request, slug, future))
        if loop not in self._draining:
            self._draining.add(loop)
            # Not in this request's context: the batches outlive it. Its synchronous work
            # then runs in the loop's thread for such work, not in this request's own thread.
            context = contextvars.copy_context()
            context.run(SyncToAsync.thread_sensitive_context.set, None)  # type: ignore[arg-type]
            task = loop.create_task(self._drain(loop), context=context)
            self._tasks.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        queue = self._queues[loop]
        try:
            while True:
                # Each batch takes in all the members let in meanwhile, not the first few: a
                # member answered leaves the gate on its next turn of the loop, and the member it
                # lets in joins the queue on the turn after (else the batches split for good,
                # the first few in one and the rest in the next).
                size = -1
                while len(queue) != size:
                    size = len(queue)
                    await asyncio.sleep(0)
                    await asyncio.sleep(0)
                if not queue:
                    break
                batch = queue[:]
                queue.clear()
                try:
                    requests = [(request, slug) for request, slug, _future in batch]
                    answers = await sync_to_async(_enrol_batch)(requests)
                except Exception as exc:  # the database failed: every member of the batch
                    answers = [exc] * len(batch)
                for (_request, _slug, future), answer in zip(batch, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._draining.discard(loop)


ENROL_BATCHES = EnrolmentBatches()


@csrf_exempt  # authenticate() checks a session's CSRF token, as DRF does
async def enrol(request: HttpRequest, slug: str) -> HttpResponseBase:
    """POST: enrol. A plain async view: a member waits for their turn on the event loop (at
    most ENROL_CONCURRENCY at work per process, no thread or connection held while waiting),
    then one statement takes the place (portal.services.beta.enrol). A request with an API token
    comes to answer_enrolment straight from the ASGI entrance (portal.entrance)."""
    if request.method != "POST":
        return error_response(
            405, _("请用 POST 报名。"), PortalErrorCode.METHOD_NOT_ALLOWED, Allow="POST"
        )
    return await answer_enrolment(request, slug)


async def answer_enrolment(request: HttpRequest, slug: str) -> HttpResponseBase:
    """The answer to an enrolment, refusals and overload included, in the API's shape."""
    try:
        async with ENROL_GATE.enter():
            result = await ENROL_BATCHES.enrol(request, slug)
        return JsonResponse(
            {"status": result.status, "waitlist_position": result.waitlist_position},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
    except Refused as refused:
        return error_response(refused.status_code, refused.detail, refused.code, **refused.headers)
    except overload.Overloaded as exc:
        overload.warn(request, exc)
        return overload.json_response(exc)
    except PortalError as exc:
        return error_response(exc.status, exc.message, exc.code)
    except Exception as exc:
        if not overload.is_overload(exc):
            raise
        overload.warn(request, exc)
        return overload.json_response()


enrol.cls = EnrolView  # type: ignore[attr-defined]  # drf-spectacular documents it from EnrolView
enrol.initkwargs = {}  # type: ignore[attr-defined]


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer}, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        user = permissions.require_user(request)
        profile = getattr(user, "member_profile", None)
        return Response(
            {
                "username": user.username,
                "role": user.role,
                "union_unit": user.union_unit.path if user.union_unit else None,
                "real_name": profile.real_name if profile else None,
                "id_number": profile.id_masked if profile else None,
                "verified": bool(profile and profile.is_verified),
                "may_use_ai": permissions.may_use_ai(user),
            }
        )
