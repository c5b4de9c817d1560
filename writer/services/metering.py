"""Write's meter: drafts, regenerations, exports and tool uses per user."""

from __future__ import annotations

from portal.models import User
from writer.models import Draft, WriterAction, WriterUsage


def count(
    user: User | None, action: WriterAction, draft: Draft | None = None, detail: str = ""
) -> None:
    WriterUsage.objects.create(user=user, action=action, draft=draft, detail=detail[:60])
