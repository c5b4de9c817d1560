"""Django admin for the knowledge base. Changes go through the services, so the index stays
in step with what the admin saves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from knowledge.forms import FaqForm
from knowledge.models import (
    Category,
    Document,
    DocumentRevision,
    DocumentStatus,
    FaqEntry,
    LexiconEntry,
    Segment,
)
from knowledge.services import curation
from portal import permissions
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.models import User

M = TypeVar("M", bound=Model)


class ServiceForm(forms.ModelForm[M]):
    """An admin form whose object a curation service saves, as the last step of validation
    (inside the admin's transaction). A domain error becomes an error on the form and the
    service's own transaction, a savepoint, rolls back: nothing is saved."""

    author: User | None = None  # who saves: set for each request by ServiceAdmin.get_form

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or self.errors:
            return
        try:
            self.instance = self.save_through_service()
        except PortalError as exc:
            self.add_error(None, exc.message)

    @property
    def adding(self) -> bool:
        return self.instance._state.adding

    def save_through_service(self) -> M:
        """Save `self.instance` (which holds the cleaned values) through the service."""
        raise NotImplementedError


class ServiceAdmin(admin.ModelAdmin[M]):
    """An admin whose form (a ServiceForm) has saved the object by the time the admin would:
    the admin saves nothing itself, and keeps no state of a request anywhere.

    A trap with inlines: on "add", Django builds the inline formsets around the form's new,
    unsaved object before it validates the form, and the service then replaces the form's
    object with the one it saved. The formsets keep the unsaved one, so an inline that saves
    on add would save rows pointing at no object (or fail). An admin using ServiceAdmin must
    not add inlines that save on add: read-only ones with no add permission, like
    RevisionInline, are fine. (On "change" the formsets hold the same row as the service.)"""

    form: type[ServiceForm[M]]

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[M]]:
        with_author = type(
            self.form.__name__, (self.form,), {"author": permissions.user_or_none(request)}
        )
        return super().get_form(request, obj, change, form=with_author, **kwargs)

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        pass  # saved by the form's service while the form was validated

    # Deletes go through the service too (the index lock first, an audit entry each): it
    # takes the ids, the actor and the audit origin. Without one (segments, which a document's
    # delete cascades to) the ORM deletes, and knowledge.signals keeps the index right.
    delete_service: Callable[..., None] | None = None

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        self.delete_queryset(request, self.model._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[M]) -> None:
        delete = type(self).delete_service
        if delete is None:
            super().delete_queryset(request, queryset)
            return
        delete(
            queryset.values_list("pk", flat=True),
            actor=permissions.user_or_none(request),
            origin=AuditOrigin.of(request),
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: M | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            # A POST shown again failed somewhere after the form (an inline, say): what the
            # form's service saved is rolled back with the admin's transaction.
            transaction.set_rollback(True, using=router.db_for_write(self.model))
        return super().render_change_form(request, context, add, change, form_url, obj)


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


class DocumentAdminForm(ServiceForm[Document]):
    def save_through_service(self) -> Document:
        obj = self.instance
        fields = curation.DocumentFields(
            title=obj.title,
            category=obj.category,
            body=obj.body,
            kind=obj.kind,
            source=obj.source,
            tags=tuple(obj.tags or ()),
            effective_from=obj.effective_from,
            expires_on=obj.expires_on,
            authority=obj.authority,
            promulgated_on=obj.promulgated_on,
        )
        if self.adding:
            return curation.create_document(fields, author=self.author)
        return curation.update_document(obj, fields, author=self.author)


@admin.register(Document)
class DocumentAdmin(ServiceAdmin[Document]):
    form = DocumentAdminForm
    list_display = ("title", "category", "kind", "authority", "status", "version", "updated_at")
    list_filter = ("status", "kind", "authority", "category")
    search_fields = ("title", "source")
    readonly_fields = ("status", "content_hash", "version", "created_by", "published_at", "origin")
    inlines = [RevisionInline]
    actions = ["publish", "archive"]

    def _move(self, request: HttpRequest, queryset: QuerySet[Document], status: str) -> None:
        for document in queryset:
            try:
                curation.set_status(document, status, author=permissions.user_or_none(request))
            except PortalError as exc:
                self.message_user(request, f"{document.title}：{exc.message}", messages.ERROR)

    delete_service = staticmethod(curation.delete_documents)

    @admin.action(description="发布所选文档")
    def publish(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._move(request, queryset, DocumentStatus.PUBLISHED)

    @admin.action(description="归档所选文档")
    def archive(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        self._move(request, queryset, DocumentStatus.ARCHIVED)


class SegmentAdminForm(ServiceForm[Segment]):
    def save_through_service(self) -> Segment:
        obj = self.instance
        return curation.edit_segment(obj, text=obj.text, enabled=obj.enabled, author=self.author)


@admin.register(Segment)
class SegmentAdmin(ServiceAdmin[Segment]):
    form = SegmentAdminForm
    list_display = ("__str__", "enabled", "edited_at")
    list_filter = ("enabled", "document__category")
    search_fields = ("text", "heading", "document__title")
    fields = ("document", "heading", "context", "text", "enabled")
    readonly_fields = ("document", "heading", "context")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # segments come from splitting a document


class FaqAdminForm(ServiceForm[FaqEntry]):
    """The cited segments as the editor pages write them (《劳动法》第四十四条, one a line, the
    first answering the question), so that the service saves the entry and its citations in
    one go."""

    cites = FaqForm.base_fields["cites"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.adding:
            self.initial.setdefault(
                "cites",
                "\n".join(
                    curation.cite_label(c.segment)
                    for c in self.instance.citations.select_related("segment__document")
                ),
            )

    def save_through_service(self) -> FaqEntry:
        obj = self.instance
        return curation.save_faq(
            question=obj.question,
            answer=obj.answer,
            category=obj.category,
            variants=obj.variants or [],
            segments=curation.resolve_cites(self.cleaned_data["cites"].splitlines()),
            tags=obj.tags or [],
            status=obj.status,
            author=self.author,
            faq=None if self.adding else obj,
        )


@admin.register(FaqEntry)
class FaqAdmin(ServiceAdmin[FaqEntry]):
    form = FaqAdminForm
    list_display = ("question", "category", "status", "updated_at")
    list_filter = ("status", "category")
    search_fields = ("question", "answer")
    fields = ("question", "variants", "answer", "category", "cites", "tags", "status")
    readonly_fields = ("updated_by", "updated_at")

    delete_service = staticmethod(curation.delete_faqs)


class LexiconAdminForm(ServiceForm[LexiconEntry]):
    def save_through_service(self) -> LexiconEntry:
        obj = self.instance
        return curation.save_lexicon_entry(
            kind=obj.kind,
            phrase=obj.phrase,
            targets=obj.targets or [],
            author=self.author,
            entry=None if self.adding else obj,
        )


@admin.register(LexiconEntry)
class LexiconAdmin(ServiceAdmin[LexiconEntry]):
    form = LexiconAdminForm
    list_display = ("phrase", "kind", "targets", "updated_at")
    list_filter = ("kind",)
    search_fields = ("phrase",)
    readonly_fields = ("updated_by",)

    delete_service = staticmethod(curation.delete_lexicon_entries)
