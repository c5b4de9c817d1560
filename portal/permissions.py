"""The permission policy: the one place that answers "may this user do this".

`has_perm(user, perm)` answers it and `require(user, perm)` insists on it (NotPermitted,
which is also Django's PermissionDenied: a 403 page or API answer). A page or API view takes
its user with `require_user(request, perm)`, a DRF view can name `RequirePerm(perm)` among its
permission classes, and a service checks its `actor` with `require()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from portal.errors import NotPermitted, PortalErrorCode
from portal.models import BetaEnrolment, BetaProgramme, EnrolmentStatus, Role, User


class Perm(StrEnum):
    USE_AI = "use_ai"
    READ_KNOWLEDGE = "read_knowledge"
    DRAFT_MATERIALS = "draft_materials"
    VERIFY_MEMBERS = "verify_members"
    CURATE_KNOWLEDGE = "curate_knowledge"
    MANAGE_TEMPLATES = "manage_templates"
    VIEW_ANALYTICS = "view_analytics"
    IMPORT_ROSTER = "import_roster"
    MANAGE_PROVIDERS = "manage_providers"
    MANAGE_BETA = "manage_beta"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_BRAND_KIT = "manage_brand_kit"
    MODERATE_IMAGES = "moderate_images"


# What each role carries. USE_AI and READ_KNOWLEDGE are rules beyond the role (_RULES below).
_MEMBER = {Perm.USE_AI}
_STAFF = _MEMBER | {Perm.DRAFT_MATERIALS, Perm.VERIFY_MEMBERS, Perm.MANAGE_BRAND_KIT}
_EDITOR = _MEMBER | {
    Perm.CURATE_KNOWLEDGE,
    Perm.VIEW_ANALYTICS,
    Perm.DRAFT_MATERIALS,
    Perm.MANAGE_TEMPLATES,
    Perm.MODERATE_IMAGES,
}
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.MEMBER: frozenset(_MEMBER),
    Role.STAFF: frozenset(_STAFF),
    Role.EDITOR: frozenset(_EDITOR),
    Role.ADMIN: frozenset(Perm),
}

AnyUser = User | AnonymousUser

# What a refused user is told, per permission.
REFUSALS: dict[Perm, str | Promise] = {
    Perm.USE_AI: _("您还不能使用AI服务：需要完成会员认证（内测期间还需获得内测名额）。"),
    Perm.READ_KNOWLEDGE: _("完成会员认证后才能查看知识库（内测期间还需获得内测名额）。"),
    Perm.DRAFT_MATERIALS: _("只有工会干部可以起草材料。"),
    Perm.VERIFY_MEMBERS: _("只有工会干部可以认证会员。"),
    Perm.CURATE_KNOWLEDGE: _("只有知识库编辑可以使用此功能。"),
    Perm.MANAGE_TEMPLATES: _("只有编辑可以维护写作模板。"),
    Perm.VIEW_ANALYTICS: _("只有知识库编辑可以查看提问分析。"),
    Perm.IMPORT_ROSTER: _("只有管理员可以导入会员名册。"),
    Perm.MANAGE_PROVIDERS: _("只有管理员可以管理模型服务。"),
    Perm.MANAGE_BETA: _("只有管理员可以管理内测计划。"),
    Perm.MANAGE_USERS: _("只有管理员可以管理账户和角色。"),
    Perm.VIEW_AUDIT_LOG: _("只有管理员可以查看审计日志。"),
    Perm.MANAGE_BRAND_KIT: _("只有工会干部可以管理本单位的品牌套件。"),
    Perm.MODERATE_IMAGES: _("只有编辑可以下架图片。"),
}


class Verification(StrEnum):
    """Where a user's real-name verification stands."""

    UNREGISTERED = "unregistered"  # no real-name data on file
    PENDING = "pending"  # submitted; the union has not reviewed it yet
    VERIFIED = "verified"


# What a user whose verification is not done can do about it: every page that explains why
# something waits for verification (the beta, the AI services) says it in these words.
VERIFICATION_STEPS: dict[Verification, str | Promise] = {
    Verification.UNREGISTERED: _("您还没有登记实名信息，请联系所在工会办理会员认证。"),
    Verification.PENDING: _("您的实名信息已提交，正在等待所在工会审核，审核通过前无需重复提交。"),
    Verification.VERIFIED: "",
}


def verification_of(user: AnyUser) -> Verification:
    profile = getattr(user, "member_profile", None) if isinstance(user, User) else None
    if profile is None:
        return Verification.UNREGISTERED
    return Verification.VERIFIED if profile.verified_at is not None else Verification.PENDING


def _active(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _role_has(user: AnyUser, perm: Perm) -> bool:
    return _active(user) and isinstance(user, User) and perm in ROLE_PERMS[user.role]


def may_use_ai(user: AnyUser) -> bool:
    """Ask and Draw (Write also needs DRAFT_MATERIALS). While a beta gates them, members need a
    place in a gating programme."""
    if not _role_has(user, Perm.USE_AI) or not isinstance(user, User):
        return False
    if user.role != Role.MEMBER:
        return True
    if not user.is_verified_member:
        return False
    return not _beta_shuts_out(user.pk)


@cache
def _beta_gate_sql() -> str:
    # The models' own table names; the values are parameters.
    programme, enrolment = BetaProgramme._meta.db_table, BetaEnrolment._meta.db_table
    exists = f"EXISTS (SELECT 1 FROM {programme} WHERE gates_ai)"  # noqa: S608
    placed = (
        f"EXISTS (SELECT 1 FROM {enrolment} e JOIN {programme} p ON p.id = e.programme_id"  # noqa: S608
        " WHERE e.user_id = %s AND e.status = %s AND p.gates_ai)"
    )
    return f"SELECT {exists} AND NOT {placed}"


def _beta_shuts_out(user_id: int) -> bool:
    """Whether a beta gates the AI services and has not accepted the member: while any
    programme gates them, a place in a gating programme is needed. One query, in SQL (Ask
    checks it on every question; the ORM's compilation of it cost more than running it)."""
    with connection.cursor() as cursor:
        cursor.execute(_beta_gate_sql(), [user_id, EnrolmentStatus.ACCEPTED.value])
        row = cursor.fetchone()
    return bool(row[0])


@dataclass(frozen=True)
class AIRefusal:
    """Why a signed-in user may not use the AI services, for the pages that say so."""

    reason: str
    verification: Verification
    needs_place: bool  # a beta gates the services and has given this member no place yet


def ai_refusal(user: AnyUser) -> AIRefusal | None:
    """None when the user may use the AI services; else what stands in the way."""
    if may_use_ai(user):
        return None
    verification = verification_of(user)
    if verification is Verification.VERIFIED:
        # A verified, active member is refused only by the beta's gate.
        return AIRefusal(str(_("内测期间需要获得内测名额才能使用AI服务。")), verification, True)
    gated = BetaProgramme.objects.filter(gates_ai=True).exists()
    reason = str(_("完成会员认证后即可使用AI服务。"))
    if gated:
        reason += str(_("内测期间还需获得内测名额。"))
    return AIRefusal(reason + str(VERIFICATION_STEPS[verification]), verification, False)


def refusal_reason(user: AnyUser, perm: Perm) -> str:
    """Why the policy refuses `user` `perm`: for the AI services, what stands in the way
    (`ai_refusal`, as their pages say it); else the permission's refusal."""
    refusal = ai_refusal(user) if perm is Perm.USE_AI else None
    return refusal.reason if refusal is not None else str(REFUSALS[perm])


def may_read_knowledge(user: AnyUser) -> bool:
    """The published knowledge base as search and the cited documents show it: whoever may use
    the AI services, and the editors who curate it."""
    return _role_has(user, Perm.CURATE_KNOWLEDGE) or may_use_ai(user)


_RULES: dict[Perm, Callable[[AnyUser], bool]] = {
    Perm.USE_AI: may_use_ai,
    Perm.READ_KNOWLEDGE: may_read_knowledge,
}


def has_perm(user: AnyUser, perm: Perm) -> bool:
    """Whether the user may: their role's permissions, and for USE_AI and READ_KNOWLEDGE the
    rules above (before any per-object rule)."""
    rule = _RULES.get(perm)
    return rule(user) if rule is not None else _role_has(user, perm)


def require(user: AnyUser, perm: Perm, message: str | None = None) -> User:
    """The user, when they may; else NotPermitted with `message` or the permission's refusal."""
    if not has_perm(user, perm) or not isinstance(user, User):
        raise NotPermitted(message or str(REFUSALS[perm]), perm=perm)
    return user


def user_or_none(request: HttpRequest | Request) -> User | None:
    """The signed-in user of a request, or None for an anonymous visitor."""
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def require_user(request: HttpRequest | Request, *perms: Perm) -> User:
    """The signed-in user of a page or API request, holding every one of `perms`. An anonymous
    API caller is NotAuthenticated (401); pages send visitors to sign in first (login_required)."""
    user = user_or_none(request)
    if user is None:
        if isinstance(request, Request):
            raise NotAuthenticated()
        raise NotPermitted(str(_("请先登录。")))
    for perm in perms:
        require(user, perm)
    return user


@cache
def RequirePerm(
    perm: Perm, refusal_code: PortalErrorCode = PortalErrorCode.NOT_PERMITTED
) -> type[BasePermission]:
    """A DRF permission class: the caller holds `perm` (a refusal is 403 with `refusal_code`,
    an anonymous caller 401). The knowledge API keeps DRF's `permission_denied`, its code since
    it was published; new endpoints answer `not_permitted`, as the services do."""

    class Required(BasePermission):
        code = refusal_code  # DRF's check_permissions reads it for the refusal
        user: AnyUser | None = None  # the caller (an instance serves one request)

        @property
        def message(self) -> str:
            return refusal_reason(self.user, perm) if self.user else str(REFUSALS[perm])

        def has_permission(self, request: Request, view: Any) -> bool:
            self.user = request.user
            return has_perm(request.user, perm)

    Required.__name__ = Required.__qualname__ = f"RequirePerm_{perm}_{refusal_code}"
    return Required


def may_enrol_in_beta(user: AnyUser) -> bool:
    return _active(user) and isinstance(user, User) and user.is_verified_member


def enrol_refusal(user: AnyUser) -> str | None:
    """None when the user may enrol in the beta; else why not and what to do about it (the
    beta's refusal, which the profile repeats instead of offering to enrol)."""
    if may_enrol_in_beta(user):
        return None
    return str(_("只有完成实名认证的会员才能报名内测。")) + str(
        VERIFICATION_STEPS[verification_of(user)]
    )


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
