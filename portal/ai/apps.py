"""The model-service layer: providers, routing, clients, metering and content safety."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AIConfig(AppConfig):
    name = "portal.ai"
    label = "ai"
    verbose_name = _("模型服务")
    default_auto_field = "django.db.models.BigAutoField"
