"""Registration, real-name verification and role changes."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import audit, idcard, permissions
from portal.audit import AuditOrigin
from portal.errors import NotPermitted, PortalError, PortalErrorCode
from portal.models import (
    AuditAction,
    MemberProfile,
    Role,
    UnionUnit,
    User,
    VerificationSource,
)
from portal.permissions import Perm


@dataclass(frozen=True)
class Registration:
    username: str
    password: str
    real_name: str
    id_number: str
    member_no: str
    union_unit: UnionUnit
    phone: str = ""


# A registration refused because its ID or membership number has an account says so (the
# person should sign in or ask their union); from one address, only this many times in the
# lock's time, so the form is no free oracle for whose ID numbers have accounts.
REGISTRATION_TAKEN_LIMIT = 5
REGISTRATION_LOCK_SECONDS = 15 * 60


def register_member(data: Registration, *, origin: AuditOrigin = AuditOrigin.SYSTEM) -> User:
    """A new, not yet verified member account with its real-name profile."""
    number = idcard.normalise(data.id_number)
    digest = idcard.id_hash(number)
    user = User(username=data.username, role=Role.MEMBER, union_unit=data.union_unit)
    validate_password(data.password, user)  # a whole, valid form before anything is looked up
    taken_key = f"registration-taken:{origin.address}"
    if origin.address and (cache.get(taken_key) or 0) >= REGISTRATION_TAKEN_LIMIT:
        raise ValidationError(_("尝试次数过多，请15分钟后再试，或联系所在工会。"))
    taken = None
    if MemberProfile.objects.filter(id_hash=digest).exists():
        taken = {"id_number": _("该身份证号已登记过账户，请直接登录或联系所在工会。")}
    elif MemberProfile.objects.filter(member_no=data.member_no).exists():
        taken = {"member_no": _("该会员证号已登记过账户。")}
    if taken is not None:
        if origin.address:
            cache.add(taken_key, 0, REGISTRATION_LOCK_SECONDS)
            cache.incr(taken_key)
        raise ValidationError(taken)
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
            audit.record(AuditAction.REGISTERED, actor=user, target=user.username, origin=origin)
    except IntegrityError:
        # Someone registered the same user name, ID or membership number a moment earlier.
        raise ValidationError(_("该账户信息刚刚已被登记，请换一个用户名或联系所在工会。")) from None
    return user


ACTIVATION_FAILURE_LIMIT = 5
ACTIVATION_LOCK_SECONDS = 15 * 60


class ActivationRefused(PortalError):
    code = PortalErrorCode.ACTIVATION_REFUSED


def activate_account(
    member_no: str, id_number: str, password: str, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> User:
    """A member imported from the roster sets a password, proving who they are with their ID."""
    member_no = member_no.strip()
    failures_key = f"activation-failures:{member_no.upper()}"
    if (cache.get(failures_key) or 0) >= ACTIVATION_FAILURE_LIMIT:
        raise ActivationRefused(
            _("尝试次数过多，请15分钟后再试，或联系所在工会。"),
            code=PortalErrorCode.TOO_MANY_ATTEMPTS,
        )
    profile = MemberProfile.objects.select_related("user").filter(member_no=member_no).first()
    digest = idcard.id_hash(idcard.normalise(id_number))
    if (
        profile is None
        or not hmac.compare_digest(profile.id_hash, digest)
        or profile.user.has_usable_password()
        or not profile.user.is_active
    ):
        cache.add(failures_key, 0, ACTIVATION_LOCK_SECONDS)
        cache.incr(failures_key)
        audit.record(AuditAction.ACTIVATION_FAILED, actor_name="", target=member_no, origin=origin)
        # One message for every case, so the page does not tell who has an account.
        raise ActivationRefused(
            _("会员证号与身份证号不匹配，或该账户已经激活（已激活请直接登录）。")
        )
    user = profile.user
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(AuditAction.ACTIVATED, actor=user, target=user.username, origin=origin)
    cache.delete(failures_key)
    return user


def verify_member(
    actor: User, member: User, *, origin: AuditOrigin = AuditOrigin.SYSTEM
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
            origin=origin,
        )
    return profile


def change_role(
    actor: User | None, user: User, role: str, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    if actor is not None:
        permissions.require(actor, Perm.MANAGE_USERS, _("只有管理员可以调整角色。"))
    if role not in Role.values:
        raise PortalError(
            _("未知角色：%(role)s") % {"role": role}, code=PortalErrorCode.UNKNOWN_ROLE
        )
    old = User.objects.filter(pk=user.pk).values_list("role", flat=True).first()
    if old == role:
        return
    with transaction.atomic():
        user.role = role
        user.save(update_fields=["role"])
        audit.record(
            AuditAction.ROLE_CHANGED,
            actor=actor,
            target=user.username,
            detail={"from": old, "to": role},
            origin=origin,
        )


def set_active(
    actor: User | None, user: User, active: bool, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Enable or disable an account (a disabled one cannot sign in or use a token)."""
    if actor is not None:
        permissions.require(actor, Perm.MANAGE_USERS, _("只有管理员可以启用或停用账户。"))
    if User.objects.filter(pk=user.pk, is_active=active).exists():
        return
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit.record(
            AuditAction.ACCOUNT_STATUS,
            actor=actor,
            target=user.username,
            detail={"active": active},
            origin=origin,
        )


def account_created(
    actor: User | None, user: User, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Record an account an admin created by hand, with the role it was given."""
    if actor is not None:
        permissions.require(actor, Perm.MANAGE_USERS)
    audit.record(
        AuditAction.ROLE_CHANGED,
        actor=actor,
        target=user.username,
        detail={"from": None, "to": user.role},
        origin=origin,
    )
