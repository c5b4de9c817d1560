"""Typed failures of model calls: a Chinese message for users, the provider's detail for admins."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.errors import ErrorCode, PortalError


class AIErrorCode(ErrorCode):
    AI_ERROR = "ai_error"
    AI_NOT_CONFIGURED = "ai_not_configured"
    AI_UNREACHABLE = "ai_unreachable"
    AI_TIMEOUT = "ai_timeout"
    AI_BUSY = "ai_busy"
    AI_AUTH_FAILED = "ai_auth_failed"
    AI_REJECTED = "ai_rejected"
    AI_BAD_RESPONSE = "ai_bad_response"
    AI_IMAGE_FAILED = "ai_image_failed"
    AI_CIRCUIT_OPEN = "ai_circuit_open"
    AI_CONFIGURATION_INVALID = "ai_configuration_invalid"


class AIError(PortalError):
    """A model call that failed. `message` is for users; `detail` (never shown to them) is the
    provider's own words, for the meter and the admins."""

    code = AIErrorCode.AI_ERROR
    status = 502
    # Whether trying the same model again soon may succeed.
    retryable = False
    default: str | Promise = _("模型服务暂时不可用，请稍后再试。")

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str = "",
        code: ErrorCode | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or str(self.default), code=code)
        self.detail = detail[:500]
        self.retry_after = retry_after


class NoModelConfigured(AIError):
    code = AIErrorCode.AI_NOT_CONFIGURED
    status = 503
    default = _("该功能尚未配置可用的模型。")


class ProviderUnreachable(AIError):
    code = AIErrorCode.AI_UNREACHABLE
    status = 503
    retryable = True
    default = _("无法连接模型服务，请稍后再试。")


class ProviderTimeout(AIError):
    code = AIErrorCode.AI_TIMEOUT
    status = 504
    retryable = True
    default = _("模型服务响应超时，请稍后再试。")


class ProviderBusy(AIError):
    """429 or 5xx: the provider is overloaded or failing on its side."""

    code = AIErrorCode.AI_BUSY
    status = 503
    retryable = True
    default = _("模型服务繁忙，请稍后再试。")


class ProviderAuthFailed(AIError):
    code = AIErrorCode.AI_AUTH_FAILED
    default = _("模型服务认证失败，请联系管理员检查密钥。")


class ProviderRejected(AIError):
    """A 4xx other than 401/403/429: the request or the model name was refused."""

    code = AIErrorCode.AI_REJECTED
    default = _("模型服务拒绝了本次请求，请联系管理员检查模型配置。")


class BadResponse(AIError):
    code = AIErrorCode.AI_BAD_RESPONSE
    default = _("模型服务返回了无法识别的结果，请稍后再试。")


class ImageFailed(AIError):
    """The image could not be fetched, or what came back is not an image we accept."""

    code = AIErrorCode.AI_IMAGE_FAILED
    default = _("图片生成失败，请稍后再试。")


class CircuitOpen(AIError):
    code = AIErrorCode.AI_CIRCUIT_OPEN
    status = 503
