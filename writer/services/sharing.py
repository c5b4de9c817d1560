"""Sharing a draft with colleagues of the same union unit (view or edit)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from portal import audit
from portal.audit import AuditOrigin
from portal.models import AuditAction, User
from portal.permissions import Perm, has_perm
from writer.errors import WriterError, WriterErrorCode
from writer.models import DraftShare
from writer.services.access import access_draft


def share(
    owner: User,
    draft_id: int,
    username: str,
    *,
    can_edit: bool,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> DraftShare:
    draft = access_draft(owner, draft_id)
    if draft.owner_id != owner.pk:
        raise WriterError(_("只有起草人可以共享草稿。"), code=WriterErrorCode.BAD_SHARE)
    colleague = User.objects.filter(username=username.strip(), is_active=True).first()
    if (
        colleague is None
        or colleague.pk == owner.pk
        or draft.union_unit_id is None
        or colleague.union_unit_id != draft.union_unit_id
        or not has_perm(colleague, Perm.DRAFT_MATERIALS)
    ):
        raise WriterError(
            _("只能共享给本工会组织的工会干部（请核对账号）。"), code=WriterErrorCode.BAD_SHARE
        )
    with transaction.atomic():
        shared, _created = DraftShare.objects.update_or_create(
            draft=draft, user=colleague, defaults={"can_edit": can_edit}
        )
        audit.record(
            AuditAction.DRAFT_SHARED,
            actor=owner,
            target=f"draft {draft.pk} → {colleague.username}",
            detail={"can_edit": can_edit},
            origin=origin,
        )
    return shared


def unshare(
    owner: User, draft_id: int, user_id: int, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    draft = access_draft(owner, draft_id)
    if draft.owner_id != owner.pk:
        raise WriterError(_("只有起草人可以取消共享。"), code=WriterErrorCode.BAD_SHARE)
    with transaction.atomic():
        removed = list(
            DraftShare.objects.filter(draft=draft, user_id=user_id).values_list(
                "user__username", flat=True
            )
        )
        DraftShare.objects.filter(draft=draft, user_id=user_id).delete()
        for username in removed:
            audit.record(
                AuditAction.DRAFT_UNSHARED,
                actor=owner,
                target=f"draft {draft.pk} → {username}",
                origin=origin,
            )
