"""The accuracy page (命中率): editors' question sets, their runs, and each question's outcome."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from knowledge.models.analytics import AskedQuestion
from knowledge.models.content import Document, _person
from portal.jobs import Job


class QuestionSet(models.Model):
    """Questions with the article that answers each (or "should abstain"), kept by editors to
    measure retrieval on their own knowledge after every change."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    created_by = _person(_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("测试问题集")
        verbose_name_plural = _("测试问题集")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class QuestionSource(models.TextChoices):
    IMPORT = "import", _("导入")
    ANALYTICS = "analytics", _("提问分析")


class SetQuestion(models.Model):
    """One question of a set. Answerable questions name what answers them: the document and its
    articles (headings, which survive re-splitting, unlike segment ids), and/or a phrase of the
    answering text (`answer_key`, the `evaluate_retrieval` format's check)."""

    question_set = models.ForeignKey(
        QuestionSet, on_delete=models.CASCADE, related_name="questions"
    )
    ident = models.CharField(_("编号"), max_length=40, blank=True)
    text = models.CharField(_("问题"), max_length=600)
    answerable = models.BooleanField(_("应能回答"), default=True)
    law = models.CharField(_("文档"), max_length=300, blank=True)  # as the file named it
    document = models.ForeignKey(
        Document,
        verbose_name=_("答案所在文档"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    articles = models.JSONField(_("条目"), default=list, blank=True)
    answer_key = models.CharField(_("答案要点"), max_length=300, blank=True)
    category = models.CharField(_("类别"), max_length=50, blank=True)
    source = models.CharField(
        _("来源"), max_length=10, choices=QuestionSource.choices, default=QuestionSource.IMPORT
    )
    asked = models.ForeignKey(
        AskedQuestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("添加时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("测试问题")
        verbose_name_plural = _("测试问题")
        ordering = ["question_set", "id"]

    def __str__(self) -> str:
        return self.text


class AccuracyRun(Job):
    """One run of a set through retrieval, in the background (`knowledge.tasks.run_accuracy`).
    `done` counts the questions scored so far; `figures` holds the overall figures and
    `by_category` the same per category once the run has finished."""

    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="runs")
    started_by = _person(_("发起人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    total = models.PositiveIntegerField(_("问题数"), default=0)
    done = models.PositiveIntegerField(_("已完成"), default=0)
    figures = models.JSONField(_("指标"), default=dict, blank=True)
    by_category = models.JSONField(_("分类指标"), default=dict, blank=True)

    class Meta:
        verbose_name = _("命中率测试")
        verbose_name_plural = _("命中率测试")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "enqueued_at"], name="accuracy_run_sweep")]

    def __str__(self) -> str:
        return f"{self.question_set} #{self.pk}"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


class Verdict(models.TextChoices):
    """A question's outcome in a run, best first within answerable and unanswerable."""

    HIT_1 = "hit1", _("首位命中")
    HIT_K = "hitk", _("前三命中")
    MISS = "miss", _("未命中")
    FALSE_ABSTAIN = "false_abstain", _("误拒答")
    ABSTAINED = "abstained", _("正确拒答")
    ANSWERED = "answered", _("应拒答未拒答")


# How good each verdict is: a change between two runs is "fixed" when it goes up.
VERDICT_SCORE = {
    Verdict.HIT_1: 2,
    Verdict.HIT_K: 1,
    Verdict.MISS: 0,
    Verdict.FALSE_ABSTAIN: 0,
    Verdict.ABSTAINED: 2,
    Verdict.ANSWERED: 0,
}


class RunResult(models.Model):
    """A question's outcome in one run. The question's text is copied: the comparison with the
    previous run still reads when the question has been edited or deleted since."""

    run = models.ForeignKey(AccuracyRun, on_delete=models.CASCADE, related_name="results")
    question = models.ForeignKey(
        SetQuestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(_("问题"), max_length=600)
    category = models.CharField(_("类别"), max_length=50, blank=True)
    verdict = models.CharField(_("结果"), max_length=16, choices=Verdict.choices)
    rank = models.PositiveSmallIntegerField(_("命中位次"), null=True, blank=True)
    top = models.JSONField(_("检索结果"), default=list, blank=True)  # passage labels, best first

    class Meta:
        verbose_name = _("测试结果")
        verbose_name_plural = _("测试结果")
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "question"], name="result_per_question")
        ]

    def __str__(self) -> str:
        return f"{self.text} · {self.verdict}"
