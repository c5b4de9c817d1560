"""Django admin for admins: users, units, member data, beta programmes, the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal import permissions
from portal.audit import AuditOrigin
from portal.models import (
    AuditEvent,
    BetaEnrolment,
    BetaProgramme,
    MemberProfile,
    RosterImport,
    UnionUnit,
    User,
)
from portal.services import accounts, beta

admin.site.site_header = _("工会AI门户 管理后台")
admin.site.site_title = _("工会AI门户")


class MemberProfileInline(admin.StackedInline[MemberProfile, User]):
    model = MemberProfile
    fk_name = "user"
    can_delete = False
    readonly_fields = ("id_masked", "verified_at", "verified_by", "verification_source")
    fields = ("real_name", "member_no", "phone", *readonly_fields)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # profiles come from registration or the roster, with a checked ID number


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ("username", "name", "role", "union_unit", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "member_profile__real_name", "member_profile__member_no")
    inlines = [MemberProfileInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("角色与单位"), {"fields": ("role", "union_unit", "is_active")}),
        (_("个人信息"), {"fields": ("first_name", "last_name", "email")}),
        (_("时间"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2", "role", "union_unit")}),
    )
    readonly_fields = ("last_login", "date_joined")

    @admin.display(description=_("姓名"))
    def name(self, obj: User) -> str:
        return obj.display_name

    def save_model(
        self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool
    ) -> None:
        # Role and active flag change through the services, which write the audit log.
        actor = permissions.user_or_none(request)
        origin = AuditOrigin.of(request)
        new_role, new_active = obj.role, obj.is_active
        if change:
            obj.role = form.initial.get("role", obj.role)
            obj.is_active = form.initial.get("is_active", obj.is_active)
        super().save_model(request, obj, form, change)
        if not change:
            accounts.account_created(actor, obj, origin=origin)
        accounts.change_role(actor, obj, new_role, origin=origin)
        accounts.set_active(actor, obj, new_active, origin=origin)


@admin.register(UnionUnit)
class UnionUnitAdmin(admin.ModelAdmin[UnionUnit]):
    list_display = ("path", "depth")
    search_fields = ("name", "path")
    autocomplete_fields = ("parent",)


@admin.register(MemberProfile)
class MemberProfileAdmin(admin.ModelAdmin[MemberProfile]):
    list_display = (
        "real_name",
        "user",
        "member_no",
        "id_masked",
        "verified_at",
        "verification_source",
    )
    list_filter = ("verification_source",)
    search_fields = ("real_name", "member_no", "user__username")
    readonly_fields = ("user", "id_masked", "verified_at", "verified_by", "verification_source")
    exclude = ("id_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(_ReadOnly, admin.ModelAdmin[AuditEvent]):
    list_display = ("created_at", "actor_name", "action", "target", "ip_address")
    list_filter = ("action", "created_at")
    search_fields = ("actor_name", "target", "ip_address")
    date_hierarchy = "created_at"


@admin.register(BetaProgramme)
class BetaProgrammeAdmin(admin.ModelAdmin[BetaProgramme]):
    list_display = (
        "name",
        "slug",
        "capacity",
        "accepted",
        "waitlisted",
        "opens_at",
        "closes_at",
        "gates_ai",
    )
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[BetaProgramme]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_accepted=Count("enrolments", filter=Q(enrolments__status="accepted")),
                n_waitlisted=Count("enrolments", filter=Q(enrolments__status="waitlisted")),
            )
        )

    def save_model(
        self, request: HttpRequest, obj: BetaProgramme, form: ModelForm[BetaProgramme], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and "capacity" in form.changed_data:
            actor = permissions.user_or_none(request)
            promoted = beta.promote_waitlist(obj, actor=actor, origin=AuditOrigin.of(request))
            if promoted:
                self.message_user(
                    request, _("已有 %(n)d 位候补会员递补获得资格。") % {"n": len(promoted)}
                )

    @admin.display(description=_("已获资格"))
    def accepted(self, obj: Any) -> int:
        return int(obj.n_accepted)

    @admin.display(description=_("候补"))
    def waitlisted(self, obj: Any) -> int:
        return int(obj.n_waitlisted)


@admin.register(BetaEnrolment)
class BetaEnrolmentAdmin(_ReadOnly, admin.ModelAdmin[BetaEnrolment]):
    list_display = ("programme", "user", "status", "created_at")
    list_filter = ("programme", "status")
    search_fields = ("user__username",)


@admin.register(RosterImport)
class RosterImportAdmin(_ReadOnly, admin.ModelAdmin[RosterImport]):
    list_display = (
        "file_name",
        "uploaded_by",
        "status",
        "created_count",
        "updated_count",
        "created_at",
    )
    exclude = ("rows",)
