"""What editors curate: categories, documents and their revisions, segments, FAQ, the lexicon."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

if TYPE_CHECKING:
    from portal.models import User

# The seed categories of PRODUCT.md, in their customary order; editors may rename them.
SEED_CATEGORIES = (
    ("organisation", "组织建设"),
    ("rights", "维权服务"),
    ("industrial-reform", "产改工作"),
    ("skills-competition", "劳动和技能竞赛"),
    ("legal-aid", "法律援助"),
    ("hardship-aid", "困难职工帮扶"),
    ("women-workers", "女职工工作"),
    ("services-recuperation", "职工服务与疗休养"),
    ("new-employment", "新就业形态劳动者"),
    ("culture", "宣传教育与职工文化"),
    ("funds-assets", "工会经费与资产"),
    ("safety-health", "安全生产与职业健康"),
    ("member-services", "会员服务"),
)


def _person(label: StrOrPromise) -> models.ForeignKey[User | None, User | None]:
    """Who created or last changed a row; kept when the account goes."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=label,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )


class Category(models.Model):
    slug = models.SlugField(_("标识"), unique=True)
    name = models.CharField(_("名称"), max_length=50, unique=True)
    description = models.TextField(_("说明"), blank=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("知识分类")
        verbose_name_plural = _("知识分类")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    REVIEW = "review", _("待审核")
    PUBLISHED = "published", _("已发布")
    ARCHIVED = "archived", _("已归档")


class DocumentKind(models.TextChoices):
    LAW = "law", _("法律法规")
    POLICY = "policy", _("政策文件")
    GUIDE = "guide", _("工作指南")
    NEWS = "news", _("新闻资讯")
    OTHER = "other", _("其他")


class AuthorityLevel(models.TextChoices):
    """A document's rank among sources of rules (上位法优于下位法), highest first."""

    LAW = "law", _("法律")
    JUDICIAL = "judicial", _("司法解释")
    REGULATION = "regulation", _("行政法规")
    LOCAL_REGULATION = "local_regulation", _("地方性法规")
    DEPARTMENT_RULE = "department_rule", _("部门规章")
    LOCAL_RULE = "local_rule", _("地方政府规章")
    UNION_RULE = "union_rule", _("工会规章制度")
    NOTICE = "notice", _("通知及规范性文件")
    OTHER = "other", _("其他")


class Document(models.Model):
    title = models.CharField(_("标题"), max_length=200)
    category = models.ForeignKey(
        Category, verbose_name=_("分类"), on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(
        _("类型"), max_length=10, choices=DocumentKind.choices, default=DocumentKind.OTHER
    )
    # Blank when nobody said: the curation service then guesses it from the title and text.
    authority = models.CharField(
        _("效力层级"), max_length=20, choices=AuthorityLevel.choices, blank=True, default=""
    )
    # The latest date the text was adopted or amended (新法优于旧法); guessed from the text.
    promulgated_on = models.DateField(_("公布日期"), null=True, blank=True)
    source = models.CharField(_("来源"), max_length=300, blank=True)
    # Where an import took the text from ("corpus:laws/labor-law.md"): re-imports find it here.
    origin = models.CharField(_("导入来源"), max_length=300, blank=True, db_index=True)
    original_name = models.CharField(_("原文件名"), max_length=255, blank=True)
    tags = models.JSONField(_("标签"), default=list, blank=True)
    effective_from = models.DateField(_("生效日期"), null=True, blank=True)
    expires_on = models.DateField(_("失效日期"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT
    )
    body = models.TextField(_("正文"))
    # SHA-256 of the normalised body: the same text cannot be uploaded twice.
    content_hash = models.CharField(_("内容指纹"), max_length=64, unique=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    created_by = _person(_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("知识文档")
        verbose_name_plural = _("知识文档")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True)
                | models.Q(effective_from__isnull=True)
                | models.Q(expires_on__gt=models.F("effective_from")),
                name="document_expires_after_effective",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.expires_on is None or day < self.expires_on
        )


class DocumentRevision(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"))
    status = models.CharField(_("状态"), max_length=10, choices=DocumentStatus.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    author = _person(_("修改人"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("修订记录")
        verbose_name_plural = _("修订记录")
        ordering = ["document", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="revision_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class Segment(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="segments")
    position = models.PositiveIntegerField(_("序号"))
    heading = models.CharField(_("条目"), max_length=100, blank=True)  # 第十九条 or a heading
    context = models.CharField(_("上下文"), max_length=300, blank=True)  # law title · chapter
    text = models.TextField(_("内容"))
    enabled = models.BooleanField(_("启用"), default=True)
    edited_by = _person(_("修改人"))
    edited_at = models.DateTimeField(_("修改时间"), null=True, blank=True)
    # Number of index terms: BM25's document length. 0 while the segment is not indexed.
    term_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("知识片段")
        verbose_name_plural = _("知识片段")
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="segment_position")
        ]

    def __str__(self) -> str:
        return f"{self.document.title} {self.heading}".strip()

    @property
    def label(self) -> str:
        """How a citation names the segment: 《劳动法》第四十四条."""
        return f"《{self.document.title}》{self.heading}".strip()


class FaqStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    ARCHIVED = "archived", _("已归档")


class FaqEntry(models.Model):
    question = models.CharField(_("问题"), max_length=300)
    variants = models.JSONField(_("相似问法"), default=list, blank=True)
    answer = models.TextField(_("解答"))
    category = models.ForeignKey(
        Category, verbose_name=_("分类"), on_delete=models.PROTECT, related_name="faqs"
    )
    segments: models.ManyToManyField[Segment, FaqCitation] = models.ManyToManyField(
        Segment,
        verbose_name=_("依据片段"),
        related_name="faqs",
        blank=True,
        through="FaqCitation",
    )
    tags = models.JSONField(_("标签"), default=list, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=FaqStatus.choices, default=FaqStatus.PUBLISHED
    )
    updated_by = _person(_("修改人"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("常见问题")
        verbose_name_plural = _("常见问题")
        ordering = ["category", "id"]
        constraints = [models.UniqueConstraint(fields=["question"], name="faq_question_unique")]

    def __str__(self) -> str:
        return self.question


class FaqCitation(models.Model):
    """A segment an FAQ entry rests on; position 0 is the one that answers it."""

    faq = models.ForeignKey(FaqEntry, on_delete=models.CASCADE, related_name="citations")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="citations")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["faq", "position"]
        constraints = [
            models.UniqueConstraint(fields=["faq", "segment"], name="faq_cites_segment_once")
        ]

    def __str__(self) -> str:
        return f"{self.faq_id} → {self.segment_id}"


class LexiconKind(models.TextChoices):
    TERM = "term", _("专有词")
    SYNONYM = "synonym", _("同义词组")
    COLLOQUIAL = "colloquial", _("口语对应")


class LexiconEntry(models.Model):
    """A word kept whole, a synonym group (`phrase` + `targets` all equivalent), or a colloquial
    phrase and the formal terms it stands for."""

    kind = models.CharField(_("类型"), max_length=12, choices=LexiconKind.choices)
    phrase = models.CharField(_("词语"), max_length=60)
    targets = models.JSONField(_("对应词"), default=list, blank=True)
    updated_by = _person(_("修改人"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("词库条目")
        verbose_name_plural = _("工会词库")
        ordering = ["kind", "phrase"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "phrase"], name="lexicon_kind_phrase")
        ]

    def __str__(self) -> str:
        if self.targets:
            return f"{self.phrase} → {' '.join(self.targets)}"
        return self.phrase
