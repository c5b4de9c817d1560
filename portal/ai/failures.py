"""Turning what a provider call raised into a typed AIError, and deciding whether to retry."""

from __future__ import annotations

import json
import random
import re
from email.utils import parsedate_to_datetime

import aiohttp
import httpx2
import openai
import pydantic
from django.conf import settings
from django.utils import timezone

from portal.ai.errors import (
    AIError,
    BadResponse,
    ProviderAuthFailed,
    ProviderBusy,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnreachable,
)


def retry_after(headers: httpx2.Headers | dict[str, str]) -> float | None:
    """Seconds the provider asked us to wait (Retry-After in seconds or as a date, or -ms)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if raw := lowered.get("retry-after-ms"):
        try:
            return max(0.0, float(raw) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def from_status(status: int, detail: str, headers: httpx2.Headers | dict[str, str]) -> AIError:
    detail = f"HTTP {status}: {detail}"
    if status in (401, 403):
        return ProviderAuthFailed(detail=detail)
    if status == 429:
        return ProviderBusy(detail=detail, retry_after=retry_after(headers))
    if status == 408:
        return ProviderTimeout(detail=detail)
    if status >= 500:
        return ProviderBusy(detail=detail, retry_after=retry_after(headers))
    return ProviderRejected(detail=detail)


def classify(exc: BaseException) -> AIError:
    """Every failure of a call as a typed error; anything unforeseen becomes BadResponse."""
    if isinstance(exc, AIError):
        return exc
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return ProviderTimeout(detail=f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        return from_status(exc.status_code, _status_detail(exc), exc.response.headers)
    if isinstance(exc, openai.APIConnectionError | httpx2.ConnectError):
        return ProviderUnreachable(detail=f"{type(exc).__name__}: {exc.__cause__ or exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProviderUnreachable(detail=f"{type(exc).__name__}: {exc.__cause__ or exc}")
    if isinstance(exc, httpx2.TransportError | aiohttp.ClientError):
        # The connection broke after the answer had begun: a truncated answer.
        return BadResponse(detail=f"{type(exc).__name__}: {exc}")
    if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError):
        return BadResponse(detail=f"not the expected JSON: {exc}")
    return BadResponse(detail=f"{type(exc).__name__}: {exc}")


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(exc.message)


def retry_delay(error: AIError, attempt: int, max_retries: int) -> float | None:
    """Seconds to wait before trying the same model again, or None to move on."""
    if not error.retryable or attempt >= max_retries:
        return None
    if error.retry_after is not None:
        # A provider asking for a long pause is better served by the next model.
        return (
            error.retry_after if error.retry_after <= settings.AI_RETRY_AFTER_MAX_SECONDS else None
        )
    base = settings.AI_RETRY_BACKOFF_MS / 1000
    return float(min(8.0, base * 2**attempt) * random.uniform(0.5, 1.0))  # noqa: S311


def trips_breaker(error: AIError) -> bool:
    """Failures that say the provider is down or unusable, not that our request was wrong."""
    return error.retryable or isinstance(error, ProviderAuthFailed | BadResponse)


_SECRETS = re.compile(
    r"(?i)(bearer\s+|authorization[\"':=\s]+|api[_-]?key[\"':=\s]+|[?&](?:key|token|api_key)=)"
    r"[A-Za-z0-9._~+/=-]{6,}"
)


def redact(error: AIError, clear_key: str = "") -> AIError:
    """The provider's words without credentials: some servers echo the Authorization header or
    the request URL back in their error text, which goes to logs, the meter and admins."""
    detail = error.detail
    if clear_key and len(clear_key) >= 6:
        detail = detail.replace(clear_key, "***")
    error.detail = _SECRETS.sub(lambda m: m.group(1) + "***", detail)
    return error
