"""Question analytics: every question as analytics sees it, topics and weekly figures."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from knowledge.models.ask import AnswerMode, Message, Rating
from knowledge.models.content import Category, Document, FaqEntry, Segment


class QuestionTopic(models.Model):
    """Questions that mean the same thing, grouped by the daily analytics job."""

    label = models.CharField(_("代表问题"), max_length=500)
    keywords = models.JSONField(_("关键词"), default=list, blank=True)
    category = models.ForeignKey(
        Category, verbose_name=_("分类"), null=True, blank=True, on_delete=models.SET_NULL
    )
    questions = models.PositiveIntegerField(_("提问次数"), default=0)
    abstained = models.PositiveIntegerField(_("未覆盖次数"), default=0)
    down = models.PositiveIntegerField(_("差评次数"), default=0)
    first_asked = models.DateTimeField(_("首次提问"), null=True, blank=True)
    last_asked = models.DateTimeField(_("最近提问"), null=True, blank=True)

    class Meta:
        verbose_name = _("问题主题")
        verbose_name_plural = _("问题主题")
        ordering = ["-questions", "id"]

    def __str__(self) -> str:
        return self.label


class AskedQuestion(models.Model):
    """One question as analytics sees it. It names no member, and it stays when the member
    deletes their history (the link to the answer is then cleared)."""

    answer = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="asked"
    )
    text = models.CharField(_("问题"), max_length=600)
    resolved = models.CharField(_("检索用问题"), max_length=1200, blank=True)
    keywords = models.JSONField(_("关键词"), default=list, blank=True)
    category = models.ForeignKey(
        Category, verbose_name=_("分类"), null=True, blank=True, on_delete=models.SET_NULL
    )
    document = models.ForeignKey(
        Document,
        verbose_name=_("引用文档"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("首要引用"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    abstained = models.BooleanField(_("未覆盖"), default=False)
    # What the question asked about (retrieval's key concept): editors see the uncovered ones
    # grouped ("婚假 × 37").
    concept = models.CharField(_("关键概念"), max_length=64, blank=True, db_index=True)
    mode = models.CharField(_("方式"), max_length=12, choices=AnswerMode.choices, blank=True)
    rating = models.CharField(_("评价"), max_length=4, choices=Rating.choices, blank=True)
    reason = models.CharField(_("评价理由"), max_length=300, blank=True)
    topic = models.ForeignKey(
        QuestionTopic,
        verbose_name=_("主题"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="asked",
    )
    faq = models.ForeignKey(
        FaqEntry,
        verbose_name=_("据此新建的问答"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("已处理"), null=True, blank=True)
    asked_at = models.DateTimeField(_("提问时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("提问记录")
        verbose_name_plural = _("提问记录")
        ordering = ["-asked_at", "-id"]

    def __str__(self) -> str:
        return self.text


class QuestionWeek(models.Model):
    """Questions per category per week (Monday), refreshed by the daily analytics job."""

    week = models.DateField(_("周"))
    category = models.ForeignKey(
        Category, verbose_name=_("分类"), null=True, blank=True, on_delete=models.CASCADE
    )
    questions = models.PositiveIntegerField(default=0)
    abstained = models.PositiveIntegerField(default=0)
    up = models.PositiveIntegerField(default=0)
    down = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("每周提问统计")
        verbose_name_plural = _("每周提问统计")
        ordering = ["week", "category"]
        indexes = [models.Index(fields=["week"], name="question_week_week")]

    def __str__(self) -> str:
        return f"{self.week} {self.category_id}: {self.questions}"
