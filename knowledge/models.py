"""Knowledge categories (the 13 areas of union work); documents and segments build on them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

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
