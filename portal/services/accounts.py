"""Registration, real-name verification and role changes."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import audit, idcard, permissions
from portal.errors import NotPermitted, PortalError
from portal.models import (
    AuditAction,
    MemberProfile,
    Role,
    UnionUnit,
    User,
    VerificationSource,
)


@dataclass(frozen=True)
class Registration:
    username: str
    password: str
    real_name: str
    id_number: str
    member_no: str
    union_unit: UnionUnit
    phone: str = ""


def register_member(data: Registration, *, request: HttpRequest | None = None) -> User:
    """A new, not yet verified member account with its real-name profile."""
    number = idcard.normalise(data.id_number)
    digest = idcard.id_hash(number)
    if MemberProfile.objects.filter(id_hash=digest).exists():
        raise ValidationError(
            {"id_number": _("该身份证号已登记过账户，请直接登录或联系所在工会。")}
        )
    if MemberProfile.objects.filter(member_no=data.member_no).exists():
        raise ValidationError({"member_no": _("该会员证号已登记过账户。")})
    user = User(username=data.username, role=Role.MEMBER, union_unit=data.union_unit)
    validate_password(data.password, user)
    try:
        with transaction.atomic():
            user.set_password(data.password)
            user.save()
            MemberProfile.objects.create(
                user=user,
                real_name=data.real_name,
                member_no=data.member_no,
                phone=data.phone,
                id_hash=digest,
                id_masked=idcard.mask(number),
            )
            audit.record(AuditAction.REGISTERED, actor=user, target=user.username, request=request)
    except IntegrityError:
        # Someone registered the same user name, ID or membership number a moment earlier.
        raise ValidationError(_("该账户信息刚刚已被登记，请换一个用户名或联系所在工会。")) from None
    return user


def verify_member(
    actor: User, member: User, *, request: HttpRequest | None = None
) -> MemberProfile:
    """A staff decision: this member's real-name data has been checked."""
    if not permissions.may_verify(actor, member):
        raise NotPermitted(_("您无权认证该会员：只能认证本单位及下级工会的会员。"))
    with transaction.atomic():
        profile = MemberProfile.objects.select_for_update().get(user=member)
        if profile.verified_at is not None:
            return profile
        profile.verified_at = timezone.now()
        profile.verified_by = actor
        profile.verification_source = VerificationSource.STAFF
        profile.save(
            update_fields=["verified_at", "verified_by", "verification_source", "updated_at"]
        )
        audit.record(
            AuditAction.VERIFIED,
            actor=actor,
            target=member.username,
            detail={"source": VerificationSource.STAFF},
            request=request,
        )
    return profile


def change_role(
    actor: User | None, user: User, role: str, *, request: HttpRequest | None = None
) -> None:
    if actor is not None and not permissions.has_perm(actor, permissions.Perm.MANAGE_USERS):
        raise NotPermitted(_("只有管理员可以调整角色。"))
    if role not in Role.values:
        raise PortalError(_("未知角色：%(role)s") % {"role": role}, code="unknown_role")
    old = User.objects.filter(pk=user.pk).values_list("role", flat=True).first()
    if old == role:
        return
    with transaction.atomic():
        user.role = role
        user.save(update_fields=["role"])
        audit.record(
            AuditAction.ROLE_CHANGED,
            actor=actor,
            actor_name="system" if actor is None else "",
            target=user.username,
            detail={"from": old, "to": role},
            request=request,
        )
