"""Template context every page needs: the signed-in user's role and service access."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal import permissions


def portal(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "may_use_ai": lambda: permissions.may_use_ai(user),
        "may_verify_members": permissions.has_perm(user, permissions.Perm.VERIFY_MEMBERS),
        "may_import_roster": permissions.has_perm(user, permissions.Perm.IMPORT_ROSTER),
        "may_curate_knowledge": permissions.has_perm(user, permissions.Perm.CURATE_KNOWLEDGE),
        "may_draft": permissions.has_perm(user, permissions.Perm.DRAFT_MATERIALS),
        "may_manage_templates": permissions.has_perm(user, permissions.Perm.MANAGE_TEMPLATES),
        "may_manage_brand_kit": permissions.has_perm(user, permissions.Perm.MANAGE_BRAND_KIT),
        "may_moderate_images": permissions.has_perm(user, permissions.Perm.MODERATE_IMAGES),
    }
