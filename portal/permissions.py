"""The permission policy: the one place that answers "may this user do this"."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from portal.models import BetaEnrolment, BetaProgramme, EnrolmentStatus, Role, User


class Perm(StrEnum):
    USE_AI = "use_ai"
    DRAFT_MATERIALS = "draft_materials"
    VERIFY_MEMBERS = "verify_members"
    CURATE_KNOWLEDGE = "curate_knowledge"
    VIEW_ANALYTICS = "view_analytics"
    IMPORT_ROSTER = "import_roster"
    MANAGE_PROVIDERS = "manage_providers"
    MANAGE_BETA = "manage_beta"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT_LOG = "view_audit_log"


_MEMBER = {Perm.USE_AI}
_STAFF = _MEMBER | {Perm.DRAFT_MATERIALS, Perm.VERIFY_MEMBERS}
_EDITOR = _MEMBER | {Perm.CURATE_KNOWLEDGE, Perm.VIEW_ANALYTICS}
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.MEMBER: frozenset(_MEMBER),
    Role.STAFF: frozenset(_STAFF),
    Role.EDITOR: frozenset(_EDITOR),
    Role.ADMIN: frozenset(Perm),
}

AnyUser = User | AnonymousUser


def _active(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def has_perm(user: AnyUser, perm: Perm) -> bool:
    """Whether the user's role carries the permission (before any per-object rule)."""
    return _active(user) and isinstance(user, User) and perm in ROLE_PERMS[user.role]


def may_use_ai(user: AnyUser) -> bool:
    """Ask and Draw (Write also needs DRAFT_MATERIALS). While a beta gates them, members need a
    place in a gating programme."""
    if not has_perm(user, Perm.USE_AI) or not isinstance(user, User):
        return False
    if user.role != Role.MEMBER:
        return True
    if not user.is_verified_member:
        return False
    gating = BetaProgramme.objects.filter(gates_ai=True)
    if not gating.exists():
        return True
    return BetaEnrolment.objects.filter(
        user=user, programme__in=gating, status=EnrolmentStatus.ACCEPTED
    ).exists()


def may_enrol_in_beta(user: AnyUser) -> bool:
    return _active(user) and isinstance(user, User) and user.is_verified_member


def verifiable_members(actor: AnyUser) -> QuerySet[User]:
    """The members whose real-name data this actor may see and verify."""
    if not has_perm(actor, Perm.VERIFY_MEMBERS) or not isinstance(actor, User):
        return User.objects.none()
    members = User.objects.filter(role=Role.MEMBER, member_profile__isnull=False)
    if actor.role == Role.ADMIN:
        return members
    if actor.union_unit is None:
        return User.objects.none()
    return members.filter(union_unit__in=actor.union_unit.subtree())


def may_verify(actor: AnyUser, member: User) -> bool:
    return verifiable_members(actor).filter(pk=member.pk).exists()


def may_manage_providers(user: AnyUser) -> bool:
    """Model providers, their keys, routes and the meter are for admins."""
    return has_perm(user, Perm.MANAGE_PROVIDERS)
