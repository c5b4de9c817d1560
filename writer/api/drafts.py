"""REST API of Write under /api/v1/: templates, drafts, sections, export."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import files, permissions
from portal.audit import AuditOrigin
from portal.jobs import JobStatus
from portal.permissions import Perm
from portal.serializers import ErrorSerializer
from writer.errors import Unavailable, WriterError, WriterErrorCode
from writer.models import Draft, WritingTemplate
from writer.serializers import (
    DraftCreatedSerializer,
    DraftRequestSerializer,
    DraftSerializer,
    ExportStatusSerializer,
    RegenerateSerializer,
    SectionSaveSerializer,
    SectionSerializer,
    TemplateSerializer,
)
from writer.services import drafting, editing, exporting
from writer.services import templates as template_service
from writer.services.access import access_draft

MayDraft = permissions.RequirePerm(Perm.DRAFT_MATERIALS)
MayManage = permissions.RequirePerm(Perm.MANAGE_TEMPLATES)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def draft_detail(draft: Draft) -> dict[str, Any]:
    fresh = Draft.objects.prefetch_related("sections").get(pk=draft.pk)
    return dict(DraftSerializer(fresh).data)


class TemplateListView(APIView):
    permission_classes = [MayDraft]

    @extend_schema(responses={200: TemplateSerializer(many=True)}, summary="Writing templates")
    def get(self, request: Request) -> Response:
        templates = WritingTemplate.objects.filter(enabled=True)
        return Response(TemplateSerializer(templates, many=True).data)

    @extend_schema(
        request=dict[str, Any],
        responses={201: TemplateSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        summary="Import a template (its JSON export); editors",
    )
    def post(self, request: Request) -> Response:
        user = permissions.require_user(request, Perm.MANAGE_TEMPLATES)
        template = template_service.import_json(
            user, request.data, origin=AuditOrigin.of(request._request)
        )
        return Response(TemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateExportView(APIView):
    permission_classes = [MayManage]

    @extend_schema(
        responses={200: dict[str, Any], 404: ErrorSerializer}, summary="Export a template as JSON"
    )
    def get(self, request: Request, slug: str) -> Response:
        template = WritingTemplate.objects.filter(slug=slug).first()
        if template is None:
            raise WriterError(_("没有这个模板。"), code=WriterErrorCode.TEMPLATE_NOT_FOUND)
        response = Response(template_service.export_json(template))
        response["Content-Disposition"] = f'attachment; filename="{slug}.json"'
        return response


class DraftListView(APIView):
    permission_classes = [MayDraft]

    @extend_schema(
        request=DraftRequestSerializer,
        responses={202: DraftCreatedSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        summary="Start a draft: its sections are written in the background",
    )
    def post(self, request: Request) -> Response:
        user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
        data = request.data if isinstance(request.data, dict) else {}
        draft = drafting.create_draft(user, data.get("template", ""), data.get("fields"))
        return Response({"id": draft.pk, "status": draft.status}, status=status.HTTP_202_ACCEPTED)


class DraftDetailView(APIView):
    permission_classes = [MayDraft]

    @extend_schema(responses={200: DraftSerializer, 404: ErrorSerializer}, summary="A draft")
    def get(self, request: Request, pk: int) -> Response:
        user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
        return Response(draft_detail(access_draft(user, pk)))


class SectionView(APIView):
    permission_classes = [MayDraft]

    @extend_schema(
        request=SectionSaveSerializer,
        responses={200: SectionSerializer, 409: ErrorSerializer, 404: ErrorSerializer},
        summary="Save a section (refused with 409 edit_conflict when it changed meanwhile)",
    )
    def put(self, request: Request, pk: int, n: int) -> Response:
        user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
        form = SectionSaveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        section = editing.save_section(user, pk, n, **form.validated_data)
        return Response(SectionSerializer(section).data)


class RegenerateView(APIView):
    permission_classes = [MayDraft]

    @extend_schema(
        request=RegenerateSerializer,
        responses={
            202: SectionSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
        summary="Write one section again (a failed one: retry), with an extra instruction "
        "(503 instruction_needs_model when no model is configured)",
    )
    def post(self, request: Request, pk: int, n: int) -> Response:
        user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
        form = RegenerateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        section = drafting.requeue_section(
            user, pk, n, extra_instruction=form.validated_data.get("instruction")
        )
        return Response(SectionSerializer(section).data, status=status.HTTP_202_ACCEPTED)


def export_response(request: Request | Any, user: Any, pk: int, fmt: str) -> HttpResponseBase:
    """The page and the API alike: .docx at once; PDF when rendered, else 202 (ask again)."""
    if fmt == "docx":
        data, name = exporting.export_docx(user, pk)
        response = HttpResponse(data, content_type=DOCX)
        files.private_headers(response, name)
        return response
    if fmt != "pdf":
        raise WriterError(_("导出格式只能是 docx 或 pdf。"), code=WriterErrorCode.BAD_FORMAT)
    export = exporting.request_pdf(user, pk)
    if export.status == JobStatus.SUCCEEDED:
        return files.private_file(
            export.file, filename=f"{export.draft.title}.pdf", content_type="application/pdf"
        )
    if export.status == JobStatus.FAILED:
        raise Unavailable(
            export.error,
            code=WriterErrorCode.PDF_UNAVAILABLE
            if export.error_detail == "pdf_unavailable"
            else WriterErrorCode.PDF_FAILED,
        )
    return Response(
        {"status": "pending", "detail": _("PDF 正在生成，请稍候再试。")},
        status=status.HTTP_202_ACCEPTED,
        headers={"Retry-After": "2"},
    )


class ExportView(APIView):
    permission_classes = [MayDraft]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # `?format=docx|pdf` names the file's format here, not DRF's renderer (its
        # URL_FORMAT_OVERRIDE would answer 404 for a format it has no renderer for).
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["docx", "pdf"], required=True)],
        responses={
            (200, "application/octet-stream"): bytes,
            202: ExportStatusSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            503: ErrorSerializer,
        },
        summary="Export a draft as .docx or PDF (202 while the PDF is being rendered)",
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
        return export_response(request, user, pk, request.query_params.get("format", ""))
