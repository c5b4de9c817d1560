"""Editor pages for the knowledge base: documents, segments, FAQ, lexicon, retrieval testing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from knowledge import ingest
from knowledge.forms import (
    DocumentForm,
    FaqForm,
    LexiconForm,
    RetrievalTestForm,
    SegmentForm,
    split_words,
)
from knowledge.models import (
    Category,
    Document,
    DocumentStatus,
    FaqCitation,
    FaqEntry,
    LexiconEntry,
    LexiconKind,
    Segment,
)
from knowledge.retrieval import QueryError, search
from knowledge.services import curation
from portal import permissions
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.permissions import Perm


@login_required
def documents(request: HttpRequest) -> HttpResponse:
    permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    qs = (
        Document.objects.select_related("category")
        .defer("body")
        .annotate(n_segments=Count("segments"))
        .order_by("-updated_at", "-id")
    )
    status = request.GET.get("status", "")
    category = request.GET.get("category", "")
    query = request.GET.get("q", "").strip()
    if status in DocumentStatus.values:
        qs = qs.filter(status=status)
    if category.isdigit():
        qs = qs.filter(category_id=int(category))
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(source__icontains=query))
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "knowledge/documents.html",
        {
            "page": page,
            "statuses": DocumentStatus.choices,
            "categories": Category.objects.all(),
            "filters": {"status": status, "category": category, "q": query},
        },
    )


def _fields(form: DocumentForm, request: HttpRequest) -> curation.DocumentFields:
    data = form.cleaned_data
    upload = data.get("file")
    title = data.get("title", "").strip()
    body = data.get("body") or ""
    original_name = ""
    if upload is not None:
        extracted = ingest.from_upload(upload)
        body, title = extracted.text, title or extracted.title
        original_name = upload.name or ""
    return curation.DocumentFields(
        title=title,
        category=data["category"],
        body=body,
        kind=data["kind"],
        source=data.get("source", ""),
        original_name=original_name,
        tags=tuple(split_words(data.get("tags", ""))),
        effective_from=data.get("effective_from"),
        expires_on=data.get("expires_on"),
        authority=data.get("authority", ""),
        promulgated_on=data.get("promulgated_on"),
    )


@login_required
def document_new(request: HttpRequest) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    form = DocumentForm(request.POST or None, request.FILES or None)
    if getattr(request, "upload_too_large", False):  # cut off by SizeLimitedUploadHandler
        form = DocumentForm(request.POST)
        form.add_error(None, ingest.too_large().message)
    elif request.method == "POST" and form.is_valid():
        try:
            document = curation.create_document(
                _fields(form, request), author=editor, status=form.cleaned_data["status"]
            )
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("已保存《%(title)s》，共 %(n)d 个片段。")
                % {"title": document.title, "n": document.segments.count()},
            )
            return redirect("knowledge_document", pk=document.pk)
    return render(request, "knowledge/document_form.html", {"form": form, "document": None})


@login_required
def document_edit(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    document = get_object_or_404(Document, pk=pk)
    initial = {
        "title": document.title,
        "category": document.category_id,
        "kind": document.kind,
        "source": document.source,
        "tags": "，".join(document.tags),
        "effective_from": document.effective_from,
        "expires_on": document.expires_on,
        "authority": document.authority,
        "promulgated_on": document.promulgated_on,
        "body": document.body,
    }
    form = DocumentForm(request.POST or None, request.FILES or None, initial=initial, editing=True)
    if getattr(request, "upload_too_large", False):
        form = DocumentForm(request.POST, initial=initial, editing=True)
        form.add_error(None, ingest.too_large().message)
    elif request.method == "POST" and form.is_valid():
        try:
            curation.update_document(document, _fields(form, request), author=editor)
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已保存修改。"))
            return redirect("knowledge_document", pk=document.pk)
    return render(request, "knowledge/document_form.html", {"form": form, "document": document})


@login_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    document = get_object_or_404(Document.objects.select_related("category", "created_by"), pk=pk)
    segments = Paginator(document.segments.all(), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "knowledge/document.html",
        {
            "document": document,
            "segments": segments,
            "revisions": document.revisions.select_related("author")[:20],
            "transitions": [
                (s, DocumentStatus(s).label)
                for s in DocumentStatus.values
                if s in curation.TRANSITIONS.get(document.status, set())
            ],
            "in_force": document.in_force(timezone.localdate()),
        },
    )


@login_required
@require_POST
def document_status(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    document = get_object_or_404(Document, pk=pk)
    try:
        curation.set_status(document, request.POST.get("status", ""), author=editor)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("状态已更新。"))
    return redirect("knowledge_document", pk=pk)


@login_required
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    segment = get_object_or_404(Segment.objects.select_related("document"), pk=pk)
    form = SegmentForm(
        request.POST or None, initial={"text": segment.text, "enabled": segment.enabled}
    )
    if request.method == "POST" and form.is_valid():
        try:
            curation.edit_segment(
                segment,
                text=form.cleaned_data["text"],
                enabled=form.cleaned_data["enabled"],
                author=editor,
            )
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("片段已保存。"))
            return redirect("knowledge_document", pk=segment.document_id)
    return render(request, "knowledge/segment_form.html", {"form": form, "segment": segment})


@login_required
def faq_list(request: HttpRequest) -> HttpResponse:
    permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    # What the list shows of the cited segments: their labels (no texts, no documents' bodies).
    citations = FaqCitation.objects.select_related("segment__document").only(
        "faq", "position", "segment__heading", "segment__document__title"
    )
    qs = FaqEntry.objects.select_related("category").prefetch_related(
        Prefetch("citations", queryset=citations)
    )
    query = request.GET.get("q", "").strip()
    if query:
        qs = qs.filter(Q(question__icontains=query) | Q(answer__icontains=query))
    # The latest changed first: an entry just saved is at the top of the first page.
    page = Paginator(qs.order_by("-updated_at", "-id"), 30).get_page(request.GET.get("page"))
    return render(request, "knowledge/faq_list.html", {"page": page, "q": query})


@login_required
def faq_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    faq = get_object_or_404(FaqEntry, pk=pk) if pk else None
    initial = {}
    if faq is not None:
        initial = {
            "question": faq.question,
            "variants": "\n".join(faq.variants),
            "answer": faq.answer,
            "category": faq.category_id,
            "cites": "\n".join(
                curation.cite_label(c.segment)
                for c in faq.citations.select_related("segment__document")
            ),
            "tags": "，".join(faq.tags),
            "status": faq.status,
        }
    form = FaqForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            curation.save_faq(
                question=data["question"],
                answer=data["answer"],
                variants=data["variants"].splitlines(),
                category=data["category"],
                segments=curation.resolve_cites(data["cites"].splitlines()),
                tags=split_words(data["tags"]),
                status=data["status"],
                author=editor,
                faq=faq,
            )
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("常见问题已保存。"))
            return redirect("knowledge_faq")
    return render(request, "knowledge/faq_form.html", {"form": form, "faq": faq})


@login_required
@require_POST
def faq_delete(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    curation.delete_faq(
        get_object_or_404(FaqEntry, pk=pk), actor=editor, origin=AuditOrigin.of(request)
    )
    messages.success(request, _("已删除。"))
    return redirect("knowledge_faq")


@login_required
def lexicon(request: HttpRequest) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    form = LexiconForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            curation.save_lexicon_entry(
                kind=data["kind"],
                phrase=data["phrase"],
                targets=split_words(data["targets"]),
                author=editor,
            )
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("词条已保存，检索立即生效；分词索引将在后台更新。"))
            return redirect("knowledge_lexicon")
    kind = request.GET.get("kind", "")
    query = request.GET.get("q", "").strip()
    qs = LexiconEntry.objects.all()
    if kind in LexiconKind.values:
        qs = qs.filter(kind=kind)
    if query:
        qs = qs.filter(Q(phrase__icontains=query) | Q(targets__icontains=query))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "knowledge/lexicon.html",
        {"form": form, "page": page, "kinds": LexiconKind.choices, "kind": kind, "q": query},
    )


@login_required
@require_POST
def lexicon_delete(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    curation.delete_lexicon_entry(
        get_object_or_404(LexiconEntry, pk=pk), actor=editor, origin=AuditOrigin.of(request)
    )
    messages.success(request, _("已删除。"))
    return redirect("knowledge_lexicon")


@login_required
def retrieval_test(request: HttpRequest) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    form = RetrievalTestForm(request.GET or None)
    result = faq = None
    if form.is_valid():
        try:
            result = search(form.cleaned_data["question"], k=10, user=editor)
        except QueryError as exc:
            form.add_error("question", exc.message)
        else:
            faq = result.faq  # what Ask would answer with, before the passages
    return render(
        request, "knowledge/retrieval_test.html", {"form": form, "result": result, "faq": faq}
    )
