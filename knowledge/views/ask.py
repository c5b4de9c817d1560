"""Member pages of Ask: the chat page, deleting history, and the cited documents."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from knowledge.models import Document, DocumentStatus, MessageRole
from knowledge.retrieval import MAX_QUESTION_CHARS
from knowledge.services import asking
from portal import permissions
from portal.errors import NotFound
from portal.permissions import Perm


@never_cache  # private, and a deleted conversation must not come back with the Back button
@login_required
def chat(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = permissions.require_user(request)
    conversation = None
    if pk is not None:
        try:
            conversation = asking.access_conversation(user, pk)
        except NotFound as exc:
            raise Http404(exc.message) from None
    turns = []
    if conversation is not None:
        pending = None
        for message in conversation.messages.all():
            if message.role == MessageRole.USER:
                pending = message
            else:
                turns.append((pending, message))
                pending = None
    return render(
        request,
        "knowledge/ask.html",
        {
            "refusal": permissions.ai_refusal(user),
            "conversations": asking.conversations_of(user)[:50],
            "conversation": conversation,
            "turns": turns,
            "hotline": asking.HOTLINE,
            "max_question_chars": MAX_QUESTION_CHARS,
        },
    )


@login_required
@require_POST
def conversation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        asking.delete_conversation(permissions.require_user(request), pk)
    except NotFound as exc:
        raise Http404(exc.message) from None
    messages.success(request, _("对话已删除。"))
    return redirect("ask")


@login_required
@require_POST
def history_delete(request: HttpRequest) -> HttpResponse:
    count = asking.delete_history(permissions.require_user(request))
    messages.success(request, _("已删除全部 %(n)d 个对话。") % {"n": count})
    return redirect("ask")


@login_required
def document(request: HttpRequest, pk: int) -> HttpResponse:
    """A published document as members read it, each passage with an anchor citations open."""
    permissions.require_user(request, Perm.READ_KNOWLEDGE)
    found = (
        Document.objects.filter(pk=pk, status=DocumentStatus.PUBLISHED)
        .select_related("category")
        .first()
    )
    if found is None or not found.in_force(timezone.localdate()):
        raise Http404(_("没有找到这份文档。"))
    return render(
        request,
        "knowledge/ask_document.html",
        {"document": found, "segments": found.segments.filter(enabled=True)},
    )
