"""Which models serve a feature, in order: enabled, of the right capability, local when pinned."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from portal.ai.models import FEATURE_CAPABILITY, Route


@dataclass(frozen=True)
class ModelSpec:
    """A snapshot of one routed model and its provider, safe to pass between threads."""

    model_id: int
    name: str
    capability: str
    timeout: float
    max_retries: int
    max_output_tokens: int | None
    batch_size: int
    provider_id: int
    provider_name: str
    kind: str
    base_url: str
    is_local: bool
    connect_timeout: float
    # Ciphertext; decrypted only where the request is made. Kept out of repr.
    api_key_encrypted: str = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Changes whenever the provider row does, so cached clients are rebuilt after an edit.
    revision: str = ""


_cache: dict[str, tuple[float, list[ModelSpec]]] = {}
_lock = threading.Lock()


def forget() -> None:
    """Drop this process's cached routes (the services call it after every change)."""
    with _lock:
        _cache.clear()


def _load(feature: str) -> list[ModelSpec]:
    capability = FEATURE_CAPABILITY.get(feature)
    if capability is None:
        return []
    routes = (
        Route.objects.filter(
            feature__feature=feature,
            model__enabled=True,
            model__capability=capability,
            model__provider__enabled=True,
        )
        .select_related("feature", "model__provider")
        .order_by("position", "pk")
    )
    specs = []
    for route in routes:
        model, provider = route.model, route.model.provider
        if route.feature.local_only and not provider.is_local:
            continue
        specs.append(
            ModelSpec(
                model_id=model.pk,
                name=model.name,
                capability=model.capability,
                timeout=model.timeout,
                max_retries=model.max_retries,
                max_output_tokens=model.max_output_tokens,
                batch_size=max(1, model.batch_size),
                provider_id=provider.pk,
                provider_name=provider.name,
                kind=provider.kind,
                base_url=provider.base_url.rstrip("/"),
                is_local=provider.is_local,
                connect_timeout=provider.connect_timeout,
                api_key_encrypted=provider.api_key_encrypted,
                options=dict(provider.options or {}),
                revision=provider.updated_at.isoformat(),
            )
        )
    return specs


def cached(feature: str) -> list[ModelSpec] | None:
    """The routes if this process knows them fresh, without touching the database."""
    if not settings.AI_ROUTE_CACHE_SECONDS:
        return None
    with _lock:
        hit = _cache.get(feature)
    return hit[1] if hit and hit[0] > time.monotonic() else None


def candidates(feature: str) -> list[ModelSpec]:
    """The models for a feature in fallback order. Cached for AI_ROUTE_CACHE_SECONDS per process,
    because every streamed answer asks and the answer rarely changes."""
    ttl = settings.AI_ROUTE_CACHE_SECONDS
    now = time.monotonic()
    if ttl:
        with _lock:
            hit = _cache.get(feature)
        if hit and hit[0] > now:
            return hit[1]
    specs = _load(feature)
    if ttl:
        with _lock:
            _cache[feature] = (now + ttl, specs)
    return specs


def has_models(feature: str) -> bool:
    """Whether at least one enabled model is routed for the feature (features degrade without)."""
    return bool(candidates(feature))


async def ahas_models(feature: str) -> bool:
    """`has_models` for async views."""
    if (specs := cached(feature)) is not None:
        return bool(specs)
    from portal.ai.threads import off_loop

    return await off_loop(has_models)(feature)
