"""Templates: save (a new version each time), delete, export and import as JSON."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from knowledge.models import Category
from portal import audit
from portal.audit import AuditOrigin
from portal.models import AuditAction, User
from portal.permissions import Perm, require
from writer import definition as defs
from writer.errors import FieldErrors, WriterError, WriterErrorCode
from writer.models import TemplateKind, TemplateVersion, WritingTemplate

EXPORT_FORMAT = "ghai-writer-template/1"


def category_slugs() -> set[str]:
    return set(Category.objects.values_list("slug", flat=True))


def _check_head(slug: Any, kind: Any, title: Any, description: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(slug, str) or not slug or slugify(slug) != slug or len(slug) > 80:
        errors["slug"] = [_("标识只能由小写字母、数字和连字符组成（最多80个）。")]
    if kind not in TemplateKind.values:
        errors["kind"] = [_("没有这个文种。")]
    if not isinstance(title, str) or not title.strip() or len(title) > 100:
        errors["title"] = [_("请填写模板名称（最多100字）。")]
    if not isinstance(description, str) or len(description) > 300:
        errors["description"] = [_("说明最多300字。")]
    return errors


def save_template(
    actor: User | None,
    *,
    slug: str,
    kind: str,
    title: str,
    description: str,
    definition: Any,
    enabled: bool = True,
    position: int = 0,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> WritingTemplate:
    """Create or update the template `slug` as a new version. Refused whole (FieldErrors) when
    any part is wrong: a placeholder naming no field, an unknown category, a bad type."""
    if actor is not None:
        require(actor, Perm.MANAGE_TEMPLATES)
    errors = _check_head(slug, kind, title, description)
    try:
        parsed = defs.parse(definition, categories=category_slugs())
    except FieldErrors as exc:
        errors.update(exc.errors)
        code = exc.code
    else:
        code = WriterErrorCode.BAD_TEMPLATE
    if errors:
        raise FieldErrors(_("模板有错误，请修改后再保存。"), errors, code=code)
    data = parsed.to_json()
    with transaction.atomic():
        template = WritingTemplate.objects.select_for_update().filter(slug=slug).first()
        if template is None:
            template = WritingTemplate(slug=slug, version=0)
        template.kind, template.title = kind, title.strip()
        template.description = description.strip()
        template.definition, template.enabled, template.position = data, enabled, position
        template.version += 1
        template.updated_at, template.updated_by = timezone.now(), actor
        try:
            with transaction.atomic():
                template.save()
        except IntegrityError as exc:  # created by someone else at the same moment
            raise WriterError(
                _("标识 %(s)s 已被使用。") % {"s": slug}, code=WriterErrorCode.DUPLICATE_TEMPLATE
            ) from exc
        TemplateVersion.objects.create(
            template=template,
            number=template.version,
            kind=kind,
            title=template.title,
            definition=data,
            created_by=actor,
        )
        audit.record(
            AuditAction.TEMPLATE_SAVED,
            actor=actor,
            target=f"{template.title} ({slug}) v{template.version}",
            origin=origin,
        )
    return template


def delete_template(
    actor: User | None, template: WritingTemplate, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """Drafts keep what they copied; those being written go on."""
    if actor is not None:
        require(actor, Perm.MANAGE_TEMPLATES)
    with transaction.atomic():
        audit.record(
            AuditAction.TEMPLATE_DELETED,
            actor=actor,
            target=f"{template.title} ({template.slug})",
            origin=origin,
        )
        template.delete()


def export_json(template: WritingTemplate) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "slug": template.slug,
        "kind": template.kind,
        "title": template.title,
        "description": template.description,
        "version": template.version,
        "definition": template.definition,
    }


def import_json(
    actor: User | None, data: Any, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> WritingTemplate:
    """A template exported here or by another federation: validated like an editor's save
    (its categories must exist here), saved as a new version of the same slug."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise FieldErrors(
            _("这不是写作模板的导出文件。"),
            {"format": [_("应为 %(f)s。") % {"f": EXPORT_FORMAT}]},
            code=WriterErrorCode.BAD_TEMPLATE,
        )
    return save_template(
        actor,
        slug=data.get("slug"),  # type: ignore[arg-type]  # checked by save_template
        kind=data.get("kind"),  # type: ignore[arg-type]
        title=data.get("title"),  # type: ignore[arg-type]
        description=data.get("description", ""),
        definition=data.get("definition"),
        origin=origin,
    )
