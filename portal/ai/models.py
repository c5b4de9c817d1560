"""Providers, their models, which model serves which feature, the call meter, the word list."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProviderKind(models.TextChoices):
    OPENAI_COMPATIBLE = "openai-compatible", _("OpenAI 兼容接口")
    HUNYUAN_IMAGE = "hunyuan-image", _("腾讯混元生图（云API 3.0）")
    SDWEBUI = "sdwebui", _("Stable Diffusion WebUI")
    COMFYUI = "comfyui", _("ComfyUI")


class Capability(models.TextChoices):
    CHAT = "chat", _("对话")
    EMBEDDING = "embedding", _("向量")
    IMAGE = "image", _("图像")


class Feature(models.TextChoices):
    ASK = "ask", _("智能对话")
    WRITER = "writer", _("材料智写")
    IMAGING = "imaging", _("视觉智创")
    PROMPT_REWRITE = "prompt_rewrite", _("提示词优化")
    EMBEDDING = "embedding", _("知识向量")


# The capability each feature needs from its models.
FEATURE_CAPABILITY: dict[str, str] = {
    Feature.ASK: Capability.CHAT,
    Feature.WRITER: Capability.CHAT,
    Feature.PROMPT_REWRITE: Capability.CHAT,
    Feature.IMAGING: Capability.IMAGE,
    Feature.EMBEDDING: Capability.EMBEDDING,
}


# Which capabilities a kind of provider can serve.
KIND_CAPABILITIES: dict[str, frozenset[str]] = {
    ProviderKind.OPENAI_COMPATIBLE: frozenset(Capability),
    ProviderKind.HUNYUAN_IMAGE: frozenset({Capability.IMAGE}),
    ProviderKind.SDWEBUI: frozenset({Capability.IMAGE}),
    ProviderKind.COMFYUI: frozenset({Capability.IMAGE}),
}


class Provider(models.Model):
    """A model service the portal can reach: a cloud API or a server in the building."""

    name = models.CharField(_("名称"), max_length=60, unique=True)
    kind = models.CharField(_("类型"), max_length=32, choices=ProviderKind.choices)
    base_url = models.URLField(_("接口地址"), max_length=300)
    # Fernet ciphertext (portal.ai.secrets); the clear key never reaches the database.
    api_key_encrypted = models.TextField(
        _("API密钥（密文）"), blank=True, default="", editable=False
    )
    api_key_hint = models.CharField(
        _("API密钥"), max_length=40, blank=True, default="", editable=False
    )
    is_local = models.BooleanField(
        _("本地部署"), default=False, help_text=_("数据不出本单位的模型服务（如 Ollama、vLLM）。")
    )
    enabled = models.BooleanField(_("启用"), default=True)
    connect_timeout = models.FloatField(_("连接超时（秒）"), default=5.0)
    options = models.JSONField(
        _("其他参数"),
        default=dict,
        blank=True,
        help_text=_("按类型：混元 region；ComfyUI workflow（API 格式）；轮询间隔 poll_interval。"),
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("模型服务商")
        verbose_name_plural = _("模型服务商")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Never the key, not even its ciphertext.
        return f"<Provider {self.pk} {self.name!r} {self.kind}>"


class AIModel(models.Model):
    """One model of a provider, for one capability, with its own timeout and limits."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("服务商"), on_delete=models.CASCADE, related_name="models"
    )
    name = models.CharField(_("模型名称"), max_length=120)
    capability = models.CharField(_("能力"), max_length=16, choices=Capability.choices)
    enabled = models.BooleanField(_("启用"), default=True)
    timeout = models.FloatField(_("读取超时（秒）"), default=60.0)
    max_retries = models.PositiveSmallIntegerField(_("最多重试次数"), default=2)
    max_output_tokens = models.PositiveIntegerField(_("最大输出 tokens"), null=True, blank=True)
    batch_size = models.PositiveIntegerField(_("每批向量条数"), default=32)

    class Meta:
        verbose_name = _("模型")
        verbose_name_plural = _("模型")
        ordering = ["provider__name", "capability", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name", "capability"], name="ai_model_unique_per_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider.name} / {self.name}"

    def clean(self) -> None:
        provider = getattr(self, "provider", None)
        if provider is not None and self.capability not in KIND_CAPABILITIES[provider.kind]:
            raise ValidationError({"capability": _("该类型的服务商不提供这种能力的模型。")})


class FeatureSetting(models.Model):
    """Per feature: whether it may use cloud providers at all."""

    feature = models.CharField(_("功能"), max_length=32, choices=Feature.choices, unique=True)
    local_only = models.BooleanField(
        _("仅用本地模型"), default=False, help_text=_("开启后，该功能只调用本地部署的模型。")
    )

    class Meta:
        verbose_name = _("功能路由")
        verbose_name_plural = _("功能路由")
        ordering = ["feature"]

    def __str__(self) -> str:
        return self.get_feature_display()


class Route(models.Model):
    """A model in a feature's ordered list: the first healthy one serves."""

    feature = models.ForeignKey(
        FeatureSetting, verbose_name=_("功能"), on_delete=models.CASCADE, related_name="routes"
    )
    model = models.ForeignKey(
        AIModel, verbose_name=_("模型"), on_delete=models.CASCADE, related_name="routes"
    )
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("候选模型")
        verbose_name_plural = _("候选模型")
        ordering = ["feature", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["feature", "model"], name="ai_route_unique_model"),
        ]

    def __str__(self) -> str:
        return f"{self.feature} #{self.position}: {self.model}"

    def clean(self) -> None:
        feature = getattr(self, "feature", None)
        model = getattr(self, "model", None)
        if feature and model and FEATURE_CAPABILITY[feature.feature] != model.capability:
            raise ValidationError({"model": _("该模型的能力与功能不符。")})


class Outcome(models.TextChoices):
    OK = "ok", _("成功")
    ERROR = "error", _("失败")
    CANCELLED = "cancelled", _("中途停止")


class Usage(models.Model):
    """One call to a model: the meter. Written after the call, never inside its transaction."""

    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    feature = models.CharField(_("功能"), max_length=32, db_index=True)
    capability = models.CharField(_("能力"), max_length=16, choices=Capability.choices)
    model = models.ForeignKey(
        AIModel,
        verbose_name=_("模型"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too, so the meter survives the provider's removal.
    provider_name = models.CharField(_("服务商"), max_length=60)
    model_name = models.CharField(_("模型名称"), max_length=120)
    streamed = models.BooleanField(_("流式"), default=False)
    tokens_in = models.PositiveIntegerField(_("输入 tokens"), default=0)
    tokens_out = models.PositiveIntegerField(_("输出 tokens"), default=0)
    images = models.PositiveSmallIntegerField(_("图片数"), default=0)
    latency_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)
    ttft_ms = models.PositiveIntegerField(_("首字耗时（毫秒）"), null=True, blank=True)
    outcome = models.CharField(_("结果"), max_length=16, choices=Outcome.choices)
    error_code = models.CharField(_("错误码"), max_length=40, blank=True, default="")
    error_detail = models.CharField(_("错误详情"), max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("调用记录")
        verbose_name_plural = _("调用记录")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.feature} {self.model_name} {self.outcome}"


class SafetyAction(models.TextChoices):
    BLOCK = "block", _("拦截")
    REVIEW = "review", _("送审")


class SensitiveTerm(models.Model):
    """A word or phrase of the editable sensitive-word list."""

    term = models.CharField(_("词语"), max_length=100, unique=True)
    category = models.CharField(_("类别"), max_length=40)
    action = models.CharField(
        _("处理方式"), max_length=16, choices=SafetyAction.choices, default=SafetyAction.BLOCK
    )
    enabled = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("敏感词")
        verbose_name_plural = _("敏感词")
        ordering = ["category", "term"]

    def __str__(self) -> str:
        return self.term
