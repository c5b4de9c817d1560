"""HTTP clients per provider, reused across calls (and per event loop for the async ones)."""

from __future__ import annotations

import asyncio
import threading
import weakref

import httpx2
import openai

from portal.ai.errors import ProviderAuthFailed
from portal.ai.keys import UndecryptableKey, decrypt
from portal.ai.routing import ModelSpec

# OpenAI-compatible servers without authentication (Ollama, vLLM) still need a non-empty key.
_NO_KEY = "not-needed"

_sync: dict[tuple[int, str], openai.OpenAI] = {}
_async: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, str], openai.AsyncOpenAI]
] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def api_key(spec: ModelSpec) -> str:
    try:
        return decrypt(spec.api_key_encrypted)
    except UndecryptableKey:
        raise ProviderAuthFailed(
            detail=f"{spec.provider_name}: stored API key cannot be decrypted with PORTAL_AI_KEY"
        ) from None


def timeout(spec: ModelSpec) -> httpx2.Timeout:
    return httpx2.Timeout(spec.timeout, connect=spec.connect_timeout)


def openai_client(spec: ModelSpec) -> openai.OpenAI:
    key = (spec.provider_id, spec.revision)
    with _lock:
        client = _sync.get(key)
        if client is None:
            # Our own retry and fallback decide; the library must not retry behind our back.
            client = openai.OpenAI(
                api_key=api_key(spec) or _NO_KEY,
                base_url=spec.base_url,
                max_retries=0,
                timeout=timeout(spec),
            )
            _sync[key] = client
    return client


def async_openai_client(spec: ModelSpec) -> openai.AsyncOpenAI:
    loop = asyncio.get_running_loop()
    key = (spec.provider_id, spec.revision)
    with _lock:
        clients = _async.setdefault(loop, {})
        client = clients.get(key)
        if client is None:
            client = openai.AsyncOpenAI(
                api_key=api_key(spec) or _NO_KEY,
                base_url=spec.base_url,
                max_retries=0,
                timeout=timeout(spec),
            )
            clients[key] = client
    return client


def forget() -> None:
    with _lock:
        _sync.clear()
        _async.clear()
