"""A union unit's brand kit (千人千面 for offices) and a member's own style presets."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import UnionUnit


class BrandKit(models.Model):
    """What every poster of the unit's members carries: logo in a corner, organiser line, colours.
    Managed by the unit's staff; a member's posters take the nearest kit up the union tree."""

    unit = models.OneToOneField(
        UnionUnit, verbose_name=_("工会组织"), on_delete=models.CASCADE, related_name="brand_kit"
    )
    organiser = models.CharField(_("主办单位署名"), max_length=60, blank=True)
    # "#RRGGBB", main colour first.
    colours = models.JSONField(_("品牌色"), default=list, blank=True)
    # A PNG in the default storage (checked and re-encoded on upload), or "".
    logo = models.CharField(_("标志"), max_length=300, blank=True, editable=False)
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
        verbose_name = _("品牌套件")
        verbose_name_plural = _("品牌套件")

    def __str__(self) -> str:
        return f"{self.unit.name}"


class StylePreset(models.Model):
    """A member's saved way of asking: a style and words added to every description."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("所有者"),
        on_delete=models.CASCADE,
        related_name="style_presets",
    )
    name = models.CharField(_("名称"), max_length=30)
    style = models.CharField(_("风格"), max_length=20, blank=True)
    extra = models.CharField(_("附加描述"), max_length=200, blank=True)
    negative = models.CharField(_("不希望出现"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("我的风格")
        verbose_name_plural = _("我的风格")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="imaging_preset_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
