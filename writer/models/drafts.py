"""Drafts, their sections (each a background job), revisions, sharing, exports and the meter."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.jobs import Job, JobStatus
from portal.models import UnionUnit
from writer.models.templates import TemplateKind, TemplateVersion, WritingTemplate


class DraftStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    GENERATING = "generating", _("生成中")
    READY = "ready", _("已完成")
    # Every section has ended: some written, some failed (each with its reason and a retry).
    PARTIAL = "partial", _("部分失败")
    # Every section has ended and none was written.
    FAILED = "failed", _("生成失败")


class Draft(models.Model):
    """A document being written from a template. It holds copies of what its sections need
    (the style guide, the filled form), so the template may change or go meanwhile.

    Progress is two counters raised atomically by the section that ends (no chord, no lock):
    the draft is ready when `sections_done == sections_total`; when every section has ended
    and some failed, it is `partial` (some written) or `failed` (none written)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("起草人"),
        on_delete=models.CASCADE,
        related_name="drafts",
    )
    union_unit = models.ForeignKey(
        UnionUnit,
        verbose_name=_("工会组织"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    template = models.ForeignKey(
        WritingTemplate,
        verbose_name=_("模板"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafts",
    )
    template_version = models.ForeignKey(
        TemplateVersion,
        verbose_name=_("模板版本"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drafts",
    )
    template_title = models.CharField(_("模板名称"), max_length=100)
    version_number = models.PositiveIntegerField(_("模板版本号"))
    kind = models.CharField(_("文种"), max_length=32, choices=TemplateKind.choices)
    title = models.CharField(_("标题"), max_length=200)
    issuer = models.CharField(_("发文机关"), max_length=200, blank=True)
    recipient = models.CharField(_("主送机关"), max_length=200, blank=True)
    doc_date = models.DateField(_("成文日期"))
    values: models.JSONField[Any, Any] = models.JSONField(_("表单内容"), default=dict)
    style_guide = models.TextField(_("写作要求"), blank=True)
    forbidden: models.JSONField[Any, Any] = models.JSONField(_("禁用说法"), default=list)
    sections_total = models.PositiveSmallIntegerField(_("段落数"))
    sections_done = models.PositiveSmallIntegerField(_("已完成段落"), default=0)
    sections_failed = models.PositiveSmallIntegerField(_("失败段落"), default=0)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("草稿")
        verbose_name_plural = _("草稿")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def status(self) -> str:
        if self.sections_done >= self.sections_total:
            return DraftStatus.READY
        if self.sections_done + self.sections_failed >= self.sections_total:
            return DraftStatus.PARTIAL if self.sections_done else DraftStatus.FAILED
        if self.sections_done or self.sections_failed:
            return DraftStatus.GENERATING
        # Sections already loaded (the API's detail) tell whether one is being written.
        loaded = getattr(self, "_prefetched_objects_cache", {}).get("sections")
        if loaded is not None and any(s.status == JobStatus.RUNNING for s in loaded):
            return DraftStatus.GENERATING
        return DraftStatus.QUEUED

    @property
    def status_label(self) -> str:
        return str(DraftStatus(self.status).label)

    @property
    def ai_written(self) -> bool:
        """Whether any section holds text a model wrote (then exports carry the AI labels)."""
        return any(s.by_model for s in self.sections.all())


class DraftSection(Job):
    """One section of a draft, written by its own job (queue `llm`)."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveSmallIntegerField(_("序号"))
    heading = models.CharField(_("标题"), max_length=120)
    instruction = models.TextField(_("写作说明"), blank=True)
    extra_instruction = models.CharField(_("补充要求"), max_length=500, blank=True)
    # The no-model text, its placeholders already filled from the form.
    fixed_text = models.TextField(_("固定文本"), blank=True)
    categories: models.JSONField[Any, Any] = models.JSONField(_("知识分类"), default=list)
    length_hint = models.PositiveIntegerField(_("篇幅（字）"), default=300)
    content = models.TextField(_("内容"), blank=True)
    citations: models.JSONField[Any, Any] = models.JSONField(_("引用"), default=list)
    # Raised by every save (generated or edited): the optimistic check of concurrent editors.
    version = models.PositiveIntegerField(_("版本"), default=0)
    by_model = models.BooleanField(_("含AI生成内容"), default=False)

    class Meta:
        verbose_name = _("草稿段落")
        verbose_name_plural = _("草稿段落")
        ordering = ["draft", "position"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "position"], name="writer_section_unique")
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="writer_section_sweep")]

    def __str__(self) -> str:
        return self.heading

    @property
    def display_status(self) -> str:
        """queued, writing, done or failed: what the page shows."""
        return {
            JobStatus.QUEUED: "queued",
            JobStatus.RUNNING: "writing",
            JobStatus.SUCCEEDED: "done",
        }.get(JobStatus(self.status), "failed")


class RevisionKind(models.TextChoices):
    GENERATED = "generated", _("生成")
    EDITED = "edited", _("编辑")
    RESTORED = "restored", _("恢复")


class SectionRevision(models.Model):
    section = models.ForeignKey(DraftSection, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(_("版本"))
    kind = models.CharField(_("类型"), max_length=16, choices=RevisionKind.choices)
    content = models.TextField(_("内容"))
    citations: models.JSONField[Any, Any] = models.JSONField(_("引用"), default=list)
    by_model = models.BooleanField(_("含AI生成内容"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("段落修订")
        verbose_name_plural = _("段落修订")
        ordering = ["section", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["section", "version"], name="writer_revision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.section} v{self.version}"


class DraftShare(models.Model):
    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shared_drafts"
    )
    can_edit = models.BooleanField(_("可编辑"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("草稿共享")
        verbose_name_plural = _("草稿共享")
        constraints = [
            models.UniqueConstraint(fields=["draft", "user"], name="writer_share_unique")
        ]

    def __str__(self) -> str:
        return f"{self.draft} → {self.user}"


class ExportFormat(models.TextChoices):
    DOCX = "docx", "Word (.docx)"
    PDF = "pdf", "PDF"


class DraftExport(Job):
    """A PDF rendered by a worker, cached per state of the draft (`revision_key`)."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    revision_key = models.CharField(max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("导出文件")
        verbose_name_plural = _("导出文件")
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "format", "revision_key"], name="writer_export_unique"
            )
        ]


class WriterAction(models.TextChoices):
    DRAFT = "draft", _("起草")
    REGENERATE = "regenerate", _("重新生成段落")
    EXPORT_DOCX = "export_docx", _("导出 Word")
    EXPORT_PDF = "export_pdf", _("导出 PDF")
    TOOL = "tool", _("快捷工具")


class WriterUsage(models.Model):
    """The meter of Write, per user and action (the model calls are in portal.ai's meter)."""

    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("操作"), max_length=16, choices=WriterAction.choices)
    draft = models.ForeignKey(
        Draft, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(_("说明"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("材料智写用量")
        verbose_name_plural = _("材料智写用量")

    def __str__(self) -> str:
        return f"{self.user} {self.action}"
