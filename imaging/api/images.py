"""REST API of Draw under /api/v1/images/: submit, follow, refine, cancel, list, delete; the
files (owner only); editors' take-down."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imaging.errors import ImageNotFound
from imaging.models import ImageResult
from imaging.serializers import (
    ImageRequestCreateSerializer,
    ImageRequestSerializer,
    RefineSerializer,
    TakeDownSerializer,
)
from imaging.services import requests
from portal.audit import AuditOrigin
from portal.files import private_file
from portal.permissions import Perm, RequirePerm, require_user
from portal.serializers import ErrorSerializer

LIST_LIMIT = 100
_ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


def _shown(user: Any, request_id: int) -> dict[str, Any]:
    return dict(ImageRequestSerializer(requests.detail(user, request_id)).data)


class ImageListView(APIView):
    permission_classes = [RequirePerm(Perm.USE_AI)]

    @extend_schema(
        responses={200: ImageRequestSerializer(many=True), 403: ErrorSerializer},
        summary="My image requests, newest first (at most 100)",
    )
    def get(self, request: Request) -> Response:
        user = require_user(request, Perm.USE_AI)
        found = requests.my_requests(user)[:LIST_LIMIT]
        return Response(ImageRequestSerializer(found, many=True).data)

    @extend_schema(
        request=ImageRequestCreateSerializer,
        responses={202: ImageRequestSerializer, 429: ErrorSerializer, **_ERRORS},
        summary="Ask for an image: queued (or blocked, with the reason)",
    )
    def post(self, request: Request) -> Response:
        user = require_user(request, Perm.USE_AI)
        form = ImageRequestCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        made = requests.submit(
            user,
            prompt=data["prompt"],
            purpose=data["purpose"],
            size=data.get("size"),
            style=data.get("style", ""),
            texts=data.get("texts"),
            seed=data.get("seed"),
            variations=data["variations"],
            preset_id=data.get("preset"),
        )
        return Response(_shown(user, made.pk), status=status.HTTP_202_ACCEPTED)


class ImageDetailView(APIView):
    permission_classes = [RequirePerm(Perm.USE_AI)]

    @extend_schema(responses={200: ImageRequestSerializer, **_ERRORS}, summary="One of my images")
    def get(self, request: Request, pk: int) -> Response:
        return Response(_shown(require_user(request, Perm.USE_AI), pk))

    @extend_schema(responses={204: None, **_ERRORS}, summary="Delete one of my images")
    def delete(self, request: Request, pk: int) -> Response:
        requests.delete(require_user(request, Perm.USE_AI), pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RefineView(APIView):
    permission_classes = [RequirePerm(Perm.USE_AI)]

    @extend_schema(
        request=RefineSerializer,
        responses={
            202: ImageRequestSerializer,
            409: ErrorSerializer,
            410: ErrorSerializer,
            429: ErrorSerializer,
            **_ERRORS,
        },
        summary="Refine a finished image: new description, same or new seed, variations",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = require_user(request, Perm.USE_AI)
        form = RefineSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        made = requests.refine(
            user,
            pk,
            prompt=data.get("prompt"),
            keep_seed=data["keep_seed"],
            variations=data["variations"],
        )
        return Response(_shown(user, made.pk), status=status.HTTP_202_ACCEPTED)


class CancelView(APIView):
    permission_classes = [RequirePerm(Perm.USE_AI)]

    @extend_schema(
        request=None,
        responses={200: ImageRequestSerializer, 409: ErrorSerializer, **_ERRORS},
        summary="Cancel a queued request",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = require_user(request, Perm.USE_AI)
        requests.cancel(user, pk)
        return Response(_shown(user, pk))


class TakeDownView(APIView):
    permission_classes = [RequirePerm(Perm.MODERATE_IMAGES)]

    @extend_schema(
        request=TakeDownSerializer,
        responses={200: None, **_ERRORS},
        summary="Editors: take an image down, with a reason (audited)",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = require_user(request, Perm.MODERATE_IMAGES)
        form = TakeDownSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        done = requests.take_down(
            user, pk, form.validated_data["reason"], origin=AuditOrigin.of(request._request)
        )
        return Response({"id": done.pk, "taken_down": done.takedown_reason})


def _file(request: Request, pk: int, *, thumbnail: bool) -> Any:
    user = require_user(request)
    result = requests.access_result(user, pk)
    try:
        return _respond(request, result, thumbnail=thumbnail)
    except FileNotFoundError:
        raise ImageNotFound(_("图片文件已不存在。")) from None


def _respond(request: Request, result: ImageResult, *, thumbnail: bool) -> Any:
    stem = f"image-{result.request_id}-{result.index + 1}"
    if thumbnail:
        ext = "webp" if result.thumbnail_mime == "image/webp" else "jpg"
        return private_file(
            result.thumbnail,
            filename=f"{stem}-thumb.{ext}",
            content_type=result.thumbnail_mime,
            inline=True,
        )
    inline = request.query_params.get("inline") == "1"
    return private_file(
        result.file, filename=f"{stem}.png", content_type=result.mime, inline=inline
    )


class ImageFileView(APIView):
    @extend_schema(responses={(200, "image/png"): bytes, **_ERRORS}, summary="The labelled file")
    def get(self, request: Request, pk: int) -> Any:
        return _file(request, pk, thumbnail=False)


class ImageThumbnailView(APIView):
    @extend_schema(responses={(200, "image/jpeg"): bytes, **_ERRORS}, summary="The thumbnail")
    def get(self, request: Request, pk: int) -> Any:
        return _file(request, pk, thumbnail=True)
