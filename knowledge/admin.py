"""Django admin for the knowledge base. Changes go through the services, so the index stays
in step with what the admin saves."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from knowledge.models import (
    Category,
    Document,
    DocumentRevision,
    DocumentStatus,
    FaqCitation,
    FaqEntry,
    LexiconEntry,
    Segment,
)
from knowledge.services import curation
from portal import permissions
from portal.audit import AuditOrigin
from portal.errors import PortalError


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)


class RevisionInline(admin.TabularInline[DocumentRevision, Document]):
    model = DocumentRevision
    fields = ("version", "status", "note", "author", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin[Document]):
    list_display = ("title", "category", "kind", "status", "version", "updated_at")
    list_filter = ("status", "kind", "category")
    search_fields = ("title", "source")
    readonly_fields = ("status", "content_hash", "version", "created_by", "published_at", "origin")
    inlines = [RevisionInline]
    actions = ["publish", "archive"]

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        fields = curation.DocumentFields(
            title=obj.title,
            category=obj.category,
            body=obj.body,
            kind=obj.kind,
            source=obj.source,
            tags=tuple(obj.tags or ()),
            effective_from=obj.effective_from,
            expires_on=obj.expires_on,
        )
        if change:
            curation.update_document(obj, fields, author=permissions.user_or_none(request))
        else:
            created = curation.create_document(fields, author=permissions.user_or_none(request))
            obj.pk = created.pk

    def _move(self, request: HttpRequest, queryset: QuerySet[Document], status: str) -> None:
        for document in queryset:
            try:
                curation.set_status(document, status, author=permissions.user_or_none(request))
            except PortalError as exc:
                self.message_user(request, f"{document.title}：{exc.message}", messages.ERROR)

    @admin.action(description="发布所选文档")
    def publish(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._move(request, queryset, DocumentStatus.PUBLISHED)

    @admin.action(description="归档所选文档")
    def archive(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._move(request, queryset, DocumentStatus.ARCHIVED)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin[Segment]):
    list_display = ("__str__", "enabled", "edited_at")
    list_filter = ("enabled", "document__category")
    search_fields = ("text", "heading", "document__title")
    fields = ("document", "heading", "context", "text", "enabled")
    readonly_fields = ("document", "heading", "context")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # segments come from splitting a document

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        curation.edit_segment(
            obj, text=obj.text, enabled=obj.enabled, author=permissions.user_or_none(request)
        )


class CitationInline(admin.TabularInline[FaqCitation, FaqEntry]):
    model = FaqCitation
    fields = ("position", "segment")
    autocomplete_fields = ("segment",)
    extra = 1


@admin.register(FaqEntry)
class FaqAdmin(admin.ModelAdmin[FaqEntry]):
    list_display = ("question", "category", "status", "updated_at")
    list_filter = ("status", "category")
    search_fields = ("question", "answer")
    inlines = [CitationInline]

    def save_model(self, request: HttpRequest, obj: FaqEntry, form: Any, change: bool) -> None:
        # Segments that lose this FAQ must be re-indexed too: note them before the inline saves.
        before = list(obj.segments.values_list("id", flat=True)) if change else []
        setattr(request, "_faq_cited_before", before)  # noqa: B010
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        faq = form.instance
        curation.save_faq(
            question=faq.question,
            answer=faq.answer,
            category=faq.category,
            variants=faq.variants or [],
            segments=[c.segment for c in faq.citations.select_related("segment")],
            tags=faq.tags or [],
            status=faq.status,
            author=permissions.user_or_none(request),
            faq=faq,
            also_reindex=getattr(request, "_faq_cited_before", []),
        )

    def delete_model(self, request: HttpRequest, obj: FaqEntry) -> None:
        # Through the service: the cited segments lose the entry's words, and it is audited.
        curation.delete_faq(
            obj, actor=permissions.user_or_none(request), origin=AuditOrigin.of(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FaqEntry]) -> None:
        for faq in queryset:
            self.delete_model(request, faq)


@admin.register(LexiconEntry)
class LexiconAdmin(admin.ModelAdmin[LexiconEntry]):
    list_display = ("phrase", "kind", "targets", "updated_at")
    list_filter = ("kind",)
    search_fields = ("phrase",)

    def save_model(self, request: HttpRequest, obj: LexiconEntry, form: Any, change: bool) -> None:
        saved = curation.save_lexicon_entry(
            kind=obj.kind,
            phrase=obj.phrase,
            targets=obj.targets or [],
            author=permissions.user_or_none(request),
            entry=obj if change else None,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: LexiconEntry) -> None:
        curation.delete_lexicon_entry(
            obj, actor=permissions.user_or_none(request), origin=AuditOrigin.of(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[LexiconEntry]) -> None:
        curation.delete_lexicon_entries(
            queryset.values_list("pk", flat=True),
            actor=permissions.user_or_none(request),
            origin=AuditOrigin.of(request),
        )
