"""Ask: a member's conversations, the answers with what they cite, and the member's rating."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Conversation(models.Model):
    """A member's thread of questions and answers; only its owner ever sees it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提问人"),
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    title = models.CharField(_("标题"), max_length=100)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("最近提问"), default=timezone.now)

    class Meta:
        verbose_name = _("对话")
        verbose_name_plural = _("对话")
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conversation_owner_recent")]

    def __str__(self) -> str:
        return self.title


class MessageRole(models.TextChoices):
    USER = "user", _("提问")
    ASSISTANT = "assistant", _("回答")


class AnswerMode(models.TextChoices):
    LLM = "llm", _("模型作答")
    EXTRACTIVE = "extractive", _("原文摘录")


class AnswerStatus(models.TextChoices):
    PENDING = "pending", _("生成中")
    DONE = "done", _("已完成")
    INTERRUPTED = "interrupted", _("已中断")


class Rating(models.TextChoices):
    UP = "up", _("有帮助")
    DOWN = "down", _("没帮助")


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(_("角色"), max_length=10, choices=MessageRole.choices)
    text = models.TextField(_("内容"), blank=True)
    # A question: the standalone form that was searched (a follow-up joined to its topic).
    resolved = models.CharField(_("检索用问题"), max_length=1200, blank=True)
    # An answer: how it was made, what it cites (a snapshot: later edits do not change it).
    mode = models.CharField(_("方式"), max_length=12, choices=AnswerMode.choices, blank=True)
    abstained = models.BooleanField(_("未覆盖"), default=False)
    fallback = models.BooleanField(_("模型失败后摘录"), default=False)
    status = models.CharField(
        _("状态"), max_length=12, choices=AnswerStatus.choices, default=AnswerStatus.DONE
    )
    citations = models.JSONField(_("引用"), default=list, blank=True)
    timings = models.JSONField(_("耗时"), default=dict, blank=True)
    model = models.CharField(_("模型"), max_length=120, blank=True)
    rating = models.CharField(_("评价"), max_length=4, choices=Rating.choices, blank=True)
    reason = models.CharField(_("评价理由"), max_length=300, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        ordering = ["conversation", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:30]}"


# --- Question analytics ----------------------------------------------------------------------
