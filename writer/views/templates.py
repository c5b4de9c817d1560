"""Editor pages for writing templates: list, edit (a new version on each save), delete, and
exchange as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import permissions
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.permissions import Perm
from writer.errors import FieldErrors, WriterErrorCode
from writer.models import TemplateKind, WritingTemplate
from writer.services import templates as service

MAX_IMPORT_BYTES = 512 * 1024


def _template(slug: str) -> WritingTemplate:
    found = WritingTemplate.objects.filter(slug=slug).first()
    if found is None:
        raise Http404(_("没有这个模板。"))
    return found


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    permissions.require_user(request, Perm.MANAGE_TEMPLATES)
    templates = WritingTemplate.objects.annotate(n_drafts=Count("drafts")).select_related(
        "updated_by"
    )
    return render(request, "writer/templates.html", {"templates": templates})


@login_required
def template_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    user = permissions.require_user(request, Perm.MANAGE_TEMPLATES)
    template = _template(slug) if slug else None
    errors: dict[str, list[str]] = {}
    message = ""
    if request.method == "POST":
        form: dict[str, Any] = {
            k: request.POST.get(k, "")
            for k in ("slug", "kind", "title", "description", "definition", "position")
        }
        form["enabled"] = bool(request.POST.get("enabled"))
        try:
            parsed = json.loads(form["definition"] or "null")
        except ValueError as exc:
            errors, message = (
                {"definition": [_("定义不是合法的 JSON：%(e)s") % {"e": exc}]},
                _("模板有错误，请修改后再保存。"),
            )
        else:
            try:
                if slug is None and WritingTemplate.objects.filter(slug=form["slug"]).exists():
                    raise FieldErrors(
                        _("模板有错误，请修改后再保存。"),
                        {"slug": [_("标识已被其他模板使用。")]},
                        code=WriterErrorCode.DUPLICATE_TEMPLATE,
                    )
                saved = service.save_template(
                    user,
                    slug=slug or form["slug"],
                    kind=form["kind"],
                    title=form["title"],
                    description=form["description"],
                    definition=parsed,
                    enabled=form["enabled"],
                    position=int(form["position"]) if str(form["position"]).isdigit() else 0,
                    origin=AuditOrigin.of(request),
                )
            except FieldErrors as exc:
                errors, message = exc.errors, exc.message
            except PortalError as exc:
                message = exc.message
            else:
                messages.success(request, _("已保存为第 %(v)d 版。") % {"v": saved.version})
                return redirect("writer_template_edit", slug=saved.slug)
    elif template is not None:
        form = {
            "slug": template.slug,
            "kind": template.kind,
            "title": template.title,
            "description": template.description,
            "position": template.position,
            "enabled": template.enabled,
            "definition": json.dumps(template.definition, ensure_ascii=False, indent=2),
        }
    else:
        form = {
            "slug": "",
            "kind": TemplateKind.NOTICE,
            "title": "",
            "description": "",
            "position": 0,
            "enabled": True,
            "definition": json.dumps(EXAMPLE, ensure_ascii=False, indent=2),
        }
    return render(
        request,
        "writer/template_form.html",
        {
            "template": template,
            "form": form,
            "kinds": TemplateKind.choices,
            "errors": sorted(errors.items()),
            "message": message,
            "versions": template.versions.select_related("created_by")[:20] if template else [],
        },
        status=400 if message else 200,
    )


@login_required
@require_POST
def template_delete(request: HttpRequest, slug: str) -> HttpResponse:
    user = permissions.require_user(request, Perm.MANAGE_TEMPLATES)
    template = _template(slug)
    service.delete_template(user, template, origin=AuditOrigin.of(request))
    messages.success(request, _("模板已删除；用它起草的草稿不受影响。"))
    return redirect("writer_templates")


@login_required
def template_export(request: HttpRequest, slug: str) -> JsonResponse:
    permissions.require_user(request, Perm.MANAGE_TEMPLATES)
    response = JsonResponse(
        service.export_json(_template(slug)), json_dumps_params={"ensure_ascii": False, "indent": 2}
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}.json"'
    return response


@login_required
@require_POST
def template_import(request: HttpRequest) -> HttpResponse:
    user = permissions.require_user(request, Perm.MANAGE_TEMPLATES)
    upload = request.FILES.get("file")
    try:
        if upload is None or upload.size is None or upload.size > MAX_IMPORT_BYTES:
            raise FieldErrors(_("请选择不超过 512 KB 的模板 JSON 文件。"), {})
        try:
            data = json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FieldErrors(_("文件不是合法的 JSON。"), {}) from exc
        saved = service.import_json(user, data, origin=AuditOrigin.of(request))
    except FieldErrors as exc:
        details = "；".join(f"{k}：{'、'.join(v)}" for k, v in exc.errors.items())
        messages.error(request, f"{exc.message} {details}".strip())
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("已导入“%(t)s”（第 %(v)d 版）。") % {"t": saved.title, "v": saved.version}
        )
    return redirect("writer_templates")


EXAMPLE = {
    "doc_title": "关于{{subject}}的通知",
    "issuer": "{{unit}}",
    "recipient": "各基层工会",
    "date_field": "",
    "style_guide": "语言庄重、简明，用公文语体。",
    "forbidden": ["搞定", "咱们"],
    "fields": [
        {"name": "unit", "label": "发文单位", "type": "unit"},
        {"name": "subject", "label": "事项", "type": "text", "max_length": 60},
    ],
    "sections": [
        {
            "heading": "一、有关事项",
            "instruction": "说明{{subject}}的目的、时间和要求。",
            "fixed_text": "为做好{{subject}}工作，现将有关事项通知如下。",
            "categories": [],
            "length": 300,
        }
    ],
}
