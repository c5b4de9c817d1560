"""Every model call of the portal: providers, routing and fallback, chat, embeddings, images,
metering and content safety. Features call only what this module exports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.ai.completion import (
        AsyncChatStream,
        ChatResult,
        ChatStream,
        TokenUsage,
        achat,
        astream_chat,
        chat,
        stream_chat,
    )
    from portal.ai.embeddings import aembed, embed
    from portal.ai.errors import AIError, NoModelConfigured
    from portal.ai.images import ImageResult, generate_image
    from portal.ai.routing import ahas_models, has_models
    from portal.ai.safety import (
        Match,
        SafetyVerdict,
        TextChecker,
        acheck_text,
        check_text,
        text_checker,
    )

# Loaded on first use: this package also holds the app's models, which Django imports while
# the app registry is still filling.
_EXPORTS = {
    "AsyncChatStream": "portal.ai.completion",
    "ChatResult": "portal.ai.completion",
    "ChatStream": "portal.ai.completion",
    "TokenUsage": "portal.ai.completion",
    "achat": "portal.ai.completion",
    "astream_chat": "portal.ai.completion",
    "chat": "portal.ai.completion",
    "stream_chat": "portal.ai.completion",
    "aembed": "portal.ai.embeddings",
    "embed": "portal.ai.embeddings",
    "AIError": "portal.ai.errors",
    "NoModelConfigured": "portal.ai.errors",
    "ImageResult": "portal.ai.images",
    "generate_image": "portal.ai.images",
    "ahas_models": "portal.ai.routing",
    "has_models": "portal.ai.routing",
    "Match": "portal.ai.safety",
    "SafetyVerdict": "portal.ai.safety",
    "acheck_text": "portal.ai.safety",
    "check_text": "portal.ai.safety",
    "TextChecker": "portal.ai.safety",
    "text_checker": "portal.ai.safety",
}
__all__ = [
    "AIError",
    "AsyncChatStream",
    "ChatResult",
    "ChatStream",
    "ImageResult",
    "Match",
    "NoModelConfigured",
    "SafetyVerdict",
    "TextChecker",
    "TokenUsage",
    "achat",
    "acheck_text",
    "aembed",
    "ahas_models",
    "astream_chat",
    "chat",
    "check_text",
    "embed",
    "generate_image",
    "has_models",
    "stream_chat",
    "text_checker",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'portal.ai' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
