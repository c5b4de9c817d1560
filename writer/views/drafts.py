"""Pages of Write for staff: pick a template, fill its form, follow and edit the draft."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import ai, permissions
from portal.audit import AuditOrigin
from portal.errors import NotFound, PortalError
from portal.permissions import Perm
from writer import definition as defs
from writer import markdown
from writer.api.drafts import draft_detail, export_response
from writer.errors import FieldErrors
from writer.models import DraftShare, WritingTemplate
from writer.services import drafting, editing, sharing, tools
from writer.services.access import access_draft, may_edit, visible_drafts
from writer.views import not_found_is_404


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    drafts = visible_drafts(user).select_related("owner").order_by("-created_at")[:30]
    return render(
        request,
        "writer/home.html",
        {"templates": WritingTemplate.objects.filter(enabled=True), "drafts": drafts},
    )


@login_required
def new_draft(request: HttpRequest, slug: str) -> HttpResponse:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    template = WritingTemplate.objects.filter(slug=slug, enabled=True).first()
    if template is None:
        raise Http404(_("没有这个模板。"))
    definition = defs.load(template.definition)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    message = ""
    if request.method == "POST":
        values = {f.name: request.POST.get(f.name, "") for f in definition.fields}
        try:
            draft = drafting.create_draft(user, slug, values)
        except FieldErrors as exc:
            errors, message = exc.errors, exc.message
        except PortalError as exc:
            message = exc.message
        else:
            return redirect("writer_draft", pk=draft.pk)
    elif user.union_unit:
        # A unit field's default, shown filled in: cleared, it is empty and refused as such.
        values = {f.name: user.union_unit.name for f in definition.fields if f.type == "unit"}
    fields = [
        {"field": f, "value": values.get(f.name, ""), "errors": errors.get(f.name, [])}
        for f in definition.fields
    ]
    return render(
        request,
        "writer/new.html",
        {
            "template": template,
            "fields": fields,
            "sections": definition.sections,
            "message": message,
            "other_errors": errors.get("fields", []),
            "has_model": ai.has_models("writer"),
        },
        status=400 if message else 200,
    )


@login_required
@not_found_is_404
def draft_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    draft = access_draft(user, pk)
    data = draft_detail(draft)
    shares = (
        DraftShare.objects.filter(draft=draft).select_related("user")
        if draft.owner_id == user.pk
        else []
    )
    return render(
        request,
        "writer/draft.html",
        {
            "draft": draft,
            "data": data,
            "may_edit": may_edit(user, draft),
            "is_owner": draft.owner_id == user.pk,
            "shares": shares,
            "has_model": ai.has_models("writer"),
            "no_model_reason": str(tools.NO_MODEL),
            "regenerate_without_model": str(drafting.REGENERATE_WITHOUT_MODEL),
            "model_tools": [(key, str(label)) for key, (label, _p) in tools.MODEL_TOOLS.items()],
        },
    )


@login_required
@not_found_is_404
def export(request: HttpRequest, pk: int, fmt: str) -> HttpResponseBase:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    try:
        response = export_response(request, user, pk, fmt)
    except PortalError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, exc.message)
        return redirect("writer_draft", pk=pk)
    # A PDF being rendered: this page asks again (`?waiting=1`). When it is ready, a page that
    # was waiting says so and starts the download: a download does not replace the page, which
    # would otherwise go on saying it is rendering.
    waiting = fmt == "pdf" and request.GET.get("waiting") == "1"
    if response.status_code == 202 or (waiting and response.status_code == 200):
        response.close()  # the file the ready page does not send (it starts the download)
        return render(
            request,
            "writer/export_wait.html",
            {"pk": pk, "fmt": fmt, "ready": response.status_code == 200},
            status=response.status_code,
        )
    return response


@login_required
@not_found_is_404
def revisions(request: HttpRequest, pk: int, n: int) -> HttpResponse:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    section = editing.section_of(user, pk, n)
    history = list(section.revisions.select_related("author").order_by("-version"))
    chosen = next((r for r in history if str(r.version) == request.GET.get("v")), None)
    chosen = chosen or (history[1] if len(history) > 1 else None)
    return render(
        request,
        "writer/revisions.html",
        {
            "draft": section.draft,
            "section": section,
            "history": history,
            "chosen": chosen,
            "diff": editing.diff(chosen.content, section.content) if chosen else [],
            "may_edit": may_edit(user, section.draft),
        },
    )


@login_required
@require_POST
@not_found_is_404
def restore(request: HttpRequest, pk: int, n: int) -> HttpResponse:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    try:
        editing.restore_revision(
            user,
            pk,
            n,
            revision=int(request.POST.get("revision", "0") or 0),
            version=int(request.POST.get("version", "0") or 0),
        )
    except PortalError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, exc.message)
        return redirect("writer_revisions", pk=pk, n=n)
    messages.success(request, _("已恢复该版本（恢复本身也记为一个新版本）。"))
    return redirect(reverse("writer_draft", args=[pk]) + f"#section-{n}")


@login_required
@require_POST
@not_found_is_404
def share(request: HttpRequest, pk: int) -> HttpResponse:
    user = permissions.require_user(request, Perm.DRAFT_MATERIALS)
    try:
        if remove := request.POST.get("remove", ""):
            if not remove.isdigit():
                raise Http404
            sharing.unshare(user, pk, int(remove), origin=AuditOrigin.of(request))
        else:
            sharing.share(
                user,
                pk,
                request.POST.get("username", ""),
                can_edit=request.POST.get("access") == "edit",
                origin=AuditOrigin.of(request),
            )
    except PortalError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, _("共享设置已保存。"))
    return redirect(reverse("writer_draft", args=[pk]) + "#share")


@login_required
@require_POST
def preview(request: HttpRequest) -> JsonResponse:
    """The Markdown preview, rendered and sanitised here (never in the browser)."""
    permissions.require_user(request, Perm.DRAFT_MATERIALS)
    text = request.POST.get("text", "")[: editing.MAX_CONTENT]
    return JsonResponse({"html": markdown.render(text, anchor=request.POST.get("anchor", ""))})
