"""A circuit breaker per provider, shared by every process through Django's cache."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.core.cache import cache

# Seen closed in the shared cache within this many seconds: trusted without asking again
# (a failure seen here ends the trust at once; another process's open circuit is seen late by
# at most this long).
_LOCAL_TRUST_SECONDS = 5.0
_closed_until: dict[int, float] = {}
_failed_here: set[int] = set()
_lock = threading.Lock()


def _keys(provider_id: int) -> tuple[str, str, str]:
    base = f"ai:breaker:{provider_id}"
    return f"{base}:failures", f"{base}:open", f"{base}:tripped"


def known_closed(provider_id: int) -> bool:
    """Whether this process saw the circuit closed a moment ago (no cache read)."""
    with _lock:
        return _closed_until.get(provider_id, 0.0) > time.monotonic()


def is_open(provider_id: int) -> bool:
    now = time.monotonic()
    with _lock:
        if _closed_until.get(provider_id, 0.0) > now:
            return False
    _, open_key, _ = _keys(provider_id)
    if cache.get(open_key) is not None:
        return True
    with _lock:
        _closed_until[provider_id] = now + _LOCAL_TRUST_SECONDS
    return False


def record_failure(provider_id: int) -> bool:
    """Count a failure; returns True when this one opened the circuit."""
    failures_key, open_key, tripped_key = _keys(provider_id)
    window = settings.AI_BREAKER_OPEN_SECONDS
    with _lock:
        _failed_here.add(provider_id)
        _closed_until.pop(provider_id, None)
    # A provider that failed again right after its circuit closed goes straight back to open.
    recently_tripped = cache.get(tripped_key) is not None
    cache.add(failures_key, 0, timeout=window)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.set(failures_key, 1, timeout=window)
        failures = 1
    if recently_tripped or failures >= settings.AI_BREAKER_FAILURES:
        cache.set(open_key, 1, timeout=window)
        cache.set(tripped_key, 1, timeout=window * 4)
        cache.delete(failures_key)
        return True
    return False


def needs_reset(provider_id: int) -> bool:
    with _lock:
        return provider_id in _failed_here


def record_success(provider_id: int) -> None:
    with _lock:
        if provider_id not in _failed_here:
            return  # nothing this process counted; spare the shared cache a write
        _failed_here.discard(provider_id)
    failures_key, _, tripped_key = _keys(provider_id)
    cache.delete_many([failures_key, tripped_key])


def reset_local() -> None:
    """Forget what this process remembers (tests clear the shared cache between cases)."""
    with _lock:
        _closed_until.clear()
        _failed_here.clear()
