"""Who may see and edit a draft: its owner, and colleagues of the same union unit it was
shared with (view or edit). Anyone else finds nothing: 404, exactly like a missing draft."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from portal.errors import NotFound, NotPermitted
from portal.models import User
from portal.permissions import Perm, has_perm
from writer.errors import WriterErrorCode
from writer.models import Draft


def visible_drafts(user: User) -> QuerySet[Draft]:
    if not has_perm(user, Perm.DRAFT_MATERIALS):
        return Draft.objects.none()
    shared = Q(shares__user=user, union_unit__isnull=False, union_unit_id=user.union_unit_id)
    return Draft.objects.filter(Q(owner=user) | shared).distinct()


def may_edit(user: User, draft: Draft) -> bool:
    if draft.owner_id == user.pk:
        return True
    return (
        draft.union_unit_id is not None
        and draft.union_unit_id == user.union_unit_id
        and draft.shares.filter(user=user, can_edit=True).exists()
    )


def access_draft(user: User, pk: int, *, edit: bool = False) -> Draft:
    """The draft, when the user may see it (and edit it, with `edit`)."""
    draft = visible_drafts(user).filter(pk=pk).select_related("owner", "union_unit").first()
    if draft is None:
        raise NotFound(_("没有找到这份草稿。"), code=WriterErrorCode.DRAFT_NOT_FOUND)
    if edit and not may_edit(user, draft):
        raise NotPermitted(_("这份草稿只共享给您查看，不能修改。"))
    return draft
