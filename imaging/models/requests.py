"""Image requests (a `portal.jobs.Job` each), their results, and the daily quota counter."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging.catalogue import purpose_label
from portal.jobs import Job, JobStatus


class RenderMode(models.TextChoices):
    AI = "ai", _("AI生成")
    COMPOSED = "composed", _("模板排版")


class ImageRequest(Job):
    """One request of a member: a description, a purpose and size, overlay texts; refined
    requests point to their parent and share the lineage's root."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        on_delete=models.CASCADE,
        related_name="image_requests",
    )
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now)
    prompt = models.TextField(_("描述"))
    purpose = models.CharField(_("用途"), max_length=20)
    width = models.PositiveIntegerField(_("宽"))
    height = models.PositiveIntegerField(_("高"))
    style = models.CharField(_("风格"), max_length=20, blank=True)
    # Words a personal preset adds to the description, and what the member does not want.
    extra = models.CharField(_("附加描述"), max_length=200, blank=True)
    negative_prompt = models.CharField(_("不希望出现"), max_length=200, blank=True)
    # Overlay texts: title, subtitle, date, place, organiser (all optional).
    texts = models.JSONField(_("文字"), default=dict, blank=True)
    # The seed asked for (None: the model picks); variation i uses seed + i.
    seed = models.BigIntegerField(_("种子"), null=True, blank=True)
    variations = models.PositiveSmallIntegerField(_("张数"), default=1)
    # Refinement lineage: 原图 (step 0) → 优化1 → 优化2 …, each saying what changed.
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上一版"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refinements",
    )
    root = models.ForeignKey(
        "self",
        verbose_name=_("原图"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    step = models.PositiveSmallIntegerField(_("第几次优化"), default=0)
    change_note = models.CharField(_("改动"), max_length=300, blank=True)
    keep_seed = models.BooleanField(_("沿用种子"), default=False)
    revised_prompt = models.TextField(_("优化后的描述"), blank=True)
    # COMPOSED from the start for a request made while no `imaging` model was routed (a
    # template layout: the composer makes it whatever is routed later, and it counts against
    # the day's layouts); otherwise set when the request ends. So a request counts against
    # `DailyQuota.layouts` exactly when its mode is COMPOSED, and against `used` otherwise.
    mode = models.CharField(_("生成方式"), max_length=10, choices=RenderMode.choices, blank=True)
    model_name = models.CharField(_("模型"), max_length=200, blank=True)
    # The Asia/Shanghai day whose quota this request used (None: it cost nothing).
    charged_day = models.DateField(_("计入额度日期"), null=True, blank=True)
    taken_down_at = models.DateTimeField(_("下架时间"), null=True, blank=True)
    taken_down_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("下架人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    takedown_reason = models.CharField(_("下架原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("图片请求")
        verbose_name_plural = _("图片请求")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="imaging_req_owner_created"),
            models.Index(
                fields=["id"], condition=Q(status=JobStatus.QUEUED), name="imaging_req_queued"
            ),
            models.Index(fields=["status", "heartbeat_at"], name="imaging_req_status_beat"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {purpose_label(self.purpose)}"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def caption(self) -> str:
        """What the image shows, in words (its alt text): the description, else a layout's title."""
        return self.prompt or str((self.texts or {}).get("title", ""))

    @property
    def is_taken_down(self) -> bool:
        return self.taken_down_at is not None

    @property
    def step_label(self) -> str:
        return str(_("原图")) if self.step == 0 else str(_("优化%(n)d") % {"n": self.step})


class ImageResult(models.Model):
    """One image of a request: the labelled file and its thumbnail in the default storage,
    served only through the owner-checking views."""

    request = models.ForeignKey(
        ImageRequest, verbose_name=_("请求"), on_delete=models.CASCADE, related_name="results"
    )
    index = models.PositiveSmallIntegerField(_("序号"), default=0)
    file = models.CharField(_("文件"), max_length=300)
    thumbnail = models.CharField(_("缩略图"), max_length=300)
    # The model's own drawing (no texts, no marks): the starting image of a refinement.
    source = models.CharField(max_length=300, blank=True, editable=False)
    mime = models.CharField(max_length=40, default="image/png")
    thumbnail_mime = models.CharField(max_length=40, default="image/jpeg")
    width = models.PositiveIntegerField(_("宽"))
    height = models.PositiveIntegerField(_("高"))
    seed = models.BigIntegerField(_("种子"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("图片")
        verbose_name_plural = _("图片")
        ordering = ["request", "index"]
        constraints = [
            models.UniqueConstraint(fields=["request", "index"], name="imaging_result_unique")
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.index}"


class DailyQuota(models.Model):
    """Images a member asked for on one Asia/Shanghai day: AI images (`used`, the daily quota)
    and template layouts made without a model (`layouts`, a separate bound). Each is raised by
    a conditional UPDATE in the request's own transaction, so concurrent requests can never
    pass its limit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    used = models.PositiveIntegerField(default=0)
    layouts = models.PositiveIntegerField(_("模板排版张数"), default=0)

    class Meta:
        verbose_name = _("每日额度")
        verbose_name_plural = _("每日额度")
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="imaging_quota_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.used} + {self.layouts}"
