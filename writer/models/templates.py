"""Writing templates (editors maintain them) and their versions.

A template's definition (fields, outline, style guide) is one validated JSON document
(`writer.definition`): what it holds is read as a whole, versioned as a whole and shared
between federations as a whole (export/import). Every save adds a `TemplateVersion`; a draft
copies what it needs when it is made, so editing or deleting a template never changes it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TemplateKind(models.TextChoices):
    POLICY_REPORT = "policy_report", _("政策报告")
    ACTIVITY_PLAN = "activity_plan", _("活动方案")
    NOTICE = "notice", _("通知")
    WORK_SUMMARY = "work_summary", _("工作总结")
    PROPOSAL = "proposal", _("倡议书")
    SYMPATHY_LETTER = "sympathy_letter", _("慰问信")
    REQUEST = "request", _("请示")
    MINUTES = "minutes", _("会议纪要")
    OTHER = "other", _("其他")


class WritingTemplate(models.Model):
    slug = models.SlugField(_("标识"), max_length=80, unique=True)
    kind = models.CharField(_("文种"), max_length=32, choices=TemplateKind.choices)
    title = models.CharField(_("模板名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    # The current definition (the latest version's copy), see writer.definition.Definition.
    definition: models.JSONField[Any, Any] = models.JSONField(_("定义"), default=dict)
    version = models.PositiveIntegerField(_("版本"), default=1)
    enabled = models.BooleanField(_("启用"), default=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("更新人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("写作模板")
        verbose_name_plural = _("写作模板")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class TemplateVersion(models.Model):
    """One saved state of a template: what a draft made from it was made from."""

    template = models.ForeignKey(WritingTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    kind = models.CharField(_("文种"), max_length=32, choices=TemplateKind.choices)
    title = models.CharField(_("模板名称"), max_length=100)
    definition: models.JSONField[Any, Any] = models.JSONField(_("定义"))
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("模板版本")
        verbose_name_plural = _("模板版本")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="writer_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"
