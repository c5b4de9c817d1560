"""Admin of Write: templates are edited on the editor pages (each save a validated version),
so the admin shows them and deletes them through the service; drafts and the meter are read
only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from portal import permissions
from portal.audit import AuditOrigin
from portal.permissions import Perm
from writer.models import Draft, WriterUsage, WritingTemplate
from writer.services import templates as service


class ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WritingTemplate)
class WritingTemplateAdmin(ReadOnly):
    list_display = ["title", "kind", "version", "enabled", "updated_at", "edit_link"]
    list_filter = ["kind", "enabled"]
    search_fields = ["title", "slug"]
    readonly_fields = ["slug", "kind", "title", "description", "version", "definition"]

    @admin.display(description=_("编辑"))
    def edit_link(self, template: WritingTemplate) -> SafeString:
        url = reverse("writer_template_edit", args=[template.slug])
        return format_html('<a href="{}">{}</a>', url, _("在模板页编辑"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.has_perm(request.user, Perm.MANAGE_TEMPLATES)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return permissions.has_perm(request.user, Perm.MANAGE_TEMPLATES)

    def delete_model(self, request: HttpRequest, obj: WritingTemplate) -> None:
        service.delete_template(
            permissions.user_or_none(request), obj, origin=AuditOrigin.of(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WritingTemplate]) -> None:
        for template in queryset:
            self.delete_model(request, template)


@admin.register(Draft)
class DraftAdmin(ReadOnly):
    """What exists, for the admins (the text itself stays on the owner's pages)."""

    list_display = ["title", "owner", "union_unit", "template_title", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["owner", "union_unit"]
    fields = ["title", "owner", "union_unit", "template_title", "version_number", "created_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WriterUsage)
class WriterUsageAdmin(ReadOnly):
    list_display = ["created_at", "user", "action", "detail"]
    list_filter = ["action"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
