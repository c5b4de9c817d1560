"""REST API of the knowledge base under /api/v1/knowledge/ (editors; search for AI users)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from knowledge import ingest
from knowledge.errors import KnowledgeErrorCode
from knowledge.models import Document, FaqEntry, LexiconEntry, Segment
from knowledge.retrieval import search
from knowledge.serializers import (
    DocumentDetailSerializer,
    DocumentInputSerializer,
    DocumentSerializer,
    FaqSerializer,
    LexiconSerializer,
    SearchRequestSerializer,
    SearchResultSerializer,
    SegmentSerializer,
    SegmentUpdateSerializer,
    StatusSerializer,
)
from knowledge.services import curation
from portal import permissions
from portal.audit import AuditOrigin
from portal.errors import NotFound, PortalErrorCode
from portal.models import User
from portal.permissions import Perm
from portal.serializers import ErrorSerializer

IsEditor = permissions.RequirePerm(Perm.CURATE_KNOWLEDGE, PortalErrorCode.PERMISSION_DENIED)


def _get(model: Any, pk: int) -> Any:
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound(_("没有找到。"))
    return obj


class DocumentListView(APIView):
    permission_classes = [IsEditor]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses={200: DocumentSerializer(many=True)}, summary="Documents")
    def get(self, request: Request) -> Response:
        # The segments counted, not loaded; the bodies are not shown.
        qs = (
            Document.objects.select_related("category")
            .defer("body")
            .annotate(n_segments=Count("segments"))
        )
        status_filter = request.query_params.get("status")
        if status_filter:
            qs = qs.filter(status=status_filter)
        return Response(DocumentSerializer(qs[:500], many=True).data)

    @extend_schema(
        request=DocumentInputSerializer,
        responses={201: DocumentDetailSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
        summary="Create a document from pasted text or an uploaded file",
    )
    def post(self, request: Request) -> Response:
        data_in = DocumentInputSerializer(data=request.data)
        if getattr(request._request, "upload_too_large", False):
            raise ingest.too_large()
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        upload = data.get("file")
        body = data.get("body") or ""
        title = (data.get("title") or "").strip()
        original_name = ""
        if upload is not None:
            extracted = ingest.from_upload(upload)
            body, title = extracted.text, title or extracted.title
            original_name = upload.name or ""
        elif not body.strip():
            raise curation.KnowledgeError(
                _("请上传文件或提供正文。"), code=KnowledgeErrorCode.EMPTY
            )
        try:
            document = curation.create_document(
                curation.DocumentFields(
                    title=title,
                    category=data["category"],
                    body=body,
                    kind=data["kind"],
                    source=data["source"],
                    original_name=original_name,
                    tags=tuple(data["tags"]),
                    effective_from=data["effective_from"],
                    expires_on=data["expires_on"],
                    authority=data["authority"],
                    promulgated_on=data["promulgated_on"],
                ),
                author=permissions.require_user(request),
                status=data["status"],
            )
        except curation.DuplicateDocument as exc:
            return Response(
                {"detail": exc.message, "code": exc.code, "existing_id": exc.existing.pk},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(DocumentDetailSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailView(APIView):
    permission_classes = [IsEditor]

    @extend_schema(responses={200: DocumentDetailSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(DocumentDetailSerializer(_get(Document, pk)).data)


class DocumentStatusView(APIView):
    permission_classes = [IsEditor]

    @extend_schema(
        request=StatusSerializer,
        responses={200: DocumentSerializer, 400: ErrorSerializer},
        summary="Move a document to another editorial state",
    )
    def post(self, request: Request, pk: int) -> Response:
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = curation.set_status(
            _get(Document, pk),
            data.validated_data["status"],
            author=permissions.require_user(request),
        )
        return Response(DocumentSerializer(document).data)


class SegmentView(APIView):
    permission_classes = [IsEditor]

    @extend_schema(request=SegmentUpdateSerializer, responses={200: SegmentSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        data = SegmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = curation.edit_segment(
            _get(Segment, pk),
            text=data.validated_data.get("text"),
            enabled=data.validated_data.get("enabled"),
            author=permissions.require_user(request),
        )
        return Response(SegmentSerializer(segment).data)


def _save_faq(serializer: FaqSerializer, author: User, faq: FaqEntry | None = None) -> None:
    data = serializer.validated_data
    serializer.instance = curation.save_faq(
        question=data["question"],
        answer=data["answer"],
        category=data["category"],
        variants=data.get("variants", []),
        segments=data.get("segments", []),
        tags=data.get("tags", []),
        status=data.get("status", "published"),
        author=author,
        faq=faq,
    )


class FaqListView(generics.ListCreateAPIView[FaqEntry]):
    permission_classes = [IsEditor]
    serializer_class = FaqSerializer

    def get_queryset(self) -> QuerySet[FaqEntry]:
        return FaqEntry.objects.select_related("category").prefetch_related(
            Prefetch("segments", queryset=Segment.objects.only("id"))  # their ids are shown
        )

    def perform_create(self, serializer: FaqSerializer) -> None:  # type: ignore[override]
        _save_faq(serializer, permissions.require_user(self.request))


class FaqDetailView(generics.RetrieveUpdateDestroyAPIView[FaqEntry]):
    permission_classes = [IsEditor]
    serializer_class = FaqSerializer
    queryset = FaqEntry.objects.all()
    http_method_names = ["get", "put", "delete"]

    def perform_update(self, serializer: FaqSerializer) -> None:  # type: ignore[override]
        _save_faq(serializer, permissions.require_user(self.request), faq=serializer.instance)

    def perform_destroy(self, instance: FaqEntry) -> None:
        curation.delete_faq(
            instance,
            actor=permissions.require_user(self.request),
            origin=AuditOrigin.of(self.request._request),
        )


class LexiconListView(generics.ListCreateAPIView[LexiconEntry]):
    permission_classes = [IsEditor]
    serializer_class = LexiconSerializer
    queryset = LexiconEntry.objects.all()

    def perform_create(self, serializer: LexiconSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = curation.save_lexicon_entry(
            kind=data["kind"],
            phrase=data["phrase"],
            targets=data.get("targets", []),
            author=permissions.require_user(self.request),
        )


class LexiconDetailView(generics.DestroyAPIView[LexiconEntry]):
    permission_classes = [IsEditor]
    serializer_class = LexiconSerializer
    queryset = LexiconEntry.objects.all()

    def perform_destroy(self, instance: LexiconEntry) -> None:
        curation.delete_lexicon_entry(
            instance,
            actor=permissions.require_user(self.request),
            origin=AuditOrigin.of(self.request._request),
        )


class SearchView(APIView):
    permission_classes = [
        permissions.RequirePerm(Perm.READ_KNOWLEDGE, PortalErrorCode.PERMISSION_DENIED)
    ]
    throttle_scope = "knowledge_search"

    @extend_schema(
        request=SearchRequestSerializer,
        responses={200: SearchResultSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        summary="Search the knowledge base (the retrieval Ask uses)",
    )
    def post(self, request: Request) -> Response:
        data = SearchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = search(
            data.validated_data["question"],
            k=data.validated_data["k"],
            user=permissions.require_user(request),
        )
        return Response(SearchResultSerializer(result).data)
