"""Serving one call for a feature: models in order, retries with backoff, the breaker, the meter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from portal.ai import breaker, metering, routing
from portal.ai.errors import AIError, CircuitOpen, NoModelConfigured, ProviderTimeout
from portal.ai.failures import classify, redact, retry_delay, trips_breaker
from portal.ai.metering import Reading
from portal.ai.routing import ModelSpec
from portal.ai.threads import off_loop

log = logging.getLogger("portal.ai")
T = TypeVar("T")


def plan(feature: str) -> list[tuple[ModelSpec, bool]]:
    """The feature's models in order, each with whether its provider's circuit is open."""
    specs = routing.candidates(feature)
    if not specs:
        raise NoModelConfigured(detail=f"no enabled model routed for {feature!r}")
    return [(spec, breaker.is_open(spec.provider_id)) for spec in specs]


def skipped(spec: ModelSpec) -> AIError:
    return CircuitOpen(detail=f"{spec.provider_name}: circuit open, skipped")


def settle(
    reading: Reading, error: AIError | None, *, final: bool = True, outcome: str | None = None
) -> None:
    """Meter one attempt; on the last failed attempt of a model, tell the breaker."""
    metering.save(reading.row(error, outcome=outcome))
    spec = reading.spec
    if error is None:
        breaker.record_success(spec.provider_id)
        return
    log.warning(
        "model call failed: feature=%s provider=%s model=%s code=%s detail=%s",
        reading.feature,
        spec.provider_name,
        spec.name,
        error.code,
        error.detail,
    )
    if final and trips_breaker(error) and breaker.record_failure(spec.provider_id):
        log.warning("circuit opened for provider %s", spec.provider_name)


def attempts(spec: ModelSpec) -> Iterator[int]:
    return iter(range(spec.max_retries + 1))


def _clear_key(spec: ModelSpec) -> str:
    from portal.ai.clients import api_key

    try:
        return api_key(spec)
    except Exception:  # an undecryptable key has nothing to redact
        return ""


def serve(
    feature: str,
    user_id: int | None,
    call: Callable[[ModelSpec, Reading], T],
    *,
    streamed: bool = False,
    settle_success: bool = True,
) -> T:
    """Run `call` on the first model that succeeds, retrying each as its failures allow, until
    AI_CALL_DEADLINE_SECONDS have passed. A stream settles its own success once it has ended
    (`settle_success=False`). A Celery time limit is never taken for a provider failure."""
    last: AIError | None = None
    deadline = time.monotonic() + settings.AI_CALL_DEADLINE_SECONDS
    for spec, is_open in plan(feature):
        if is_open:
            last = skipped(spec)
            continue
        for attempt in attempts(spec):
            if time.monotonic() >= deadline:
                raise last or ProviderTimeout(detail="the call's overall deadline has passed")
            reading = Reading(spec=spec, feature=feature, user_id=user_id, streamed=streamed)
            try:
                result = call(spec, reading)
            except SoftTimeLimitExceeded:
                raise
            except Exception as exc:
                last = redact(classify(exc), _clear_key(spec))
                wait = retry_delay(last, attempt, spec.max_retries)
                if wait is not None and time.monotonic() + wait >= deadline:
                    wait = None
                settle(reading, last, final=wait is None)
                if wait is None:
                    break
                time.sleep(wait)
                continue
            if settle_success:
                settle(reading, None)
            return result
    raise last or NoModelConfigured()


async def aserve(
    feature: str,
    user_id: int | None,
    call: Callable[[ModelSpec, Reading], Awaitable[T]],
    *,
    streamed: bool = False,
    settle_success: bool = True,
) -> T:
    """`serve` for the event loop: the database and cache work runs off the loop."""
    last: AIError | None = None
    deadline = time.monotonic() + settings.AI_CALL_DEADLINE_SECONDS
    for spec, is_open in await aplan(feature):
        if is_open:
            last = skipped(spec)
            continue
        for attempt in attempts(spec):
            if time.monotonic() >= deadline:
                raise last or ProviderTimeout(detail="the call's overall deadline has passed")
            reading = Reading(spec=spec, feature=feature, user_id=user_id, streamed=streamed)
            try:
                result = await call(spec, reading)
            except SoftTimeLimitExceeded:
                raise
            except Exception as exc:
                last = redact(classify(exc), _clear_key(spec))
                wait = retry_delay(last, attempt, spec.max_retries)
                if wait is not None and time.monotonic() + wait >= deadline:
                    wait = None
                await asettle(reading, last, final=wait is None)
                if wait is None:
                    break
                await asyncio.sleep(wait)
                continue
            if settle_success:
                await asettle(reading, None)
            return result
    raise last or NoModelConfigured()


_plan_off_loop = off_loop(plan)
_settle_off_loop = off_loop(settle)


async def aplan(feature: str) -> list[tuple[ModelSpec, bool]]:
    # Most calls find everything in this process's memory: then no thread hop at all.
    specs = routing.cached(feature)
    if specs and all(breaker.known_closed(spec.provider_id) for spec in specs):
        return [(spec, False) for spec in specs]
    return await _plan_off_loop(feature)


async def asettle(
    reading: Reading, error: AIError | None, *, final: bool = True, outcome: str | None = None
) -> None:
    if error is None:
        # Success: the meter row goes to the background writer; the breaker only needs the
        # shared cache if this process had counted failures of the provider.
        metering.save_later(reading.row(None, outcome=outcome))
        if breaker.needs_reset(reading.spec.provider_id):
            await off_loop(breaker.record_success)(reading.spec.provider_id)
        return
    await _settle_off_loop(reading, error, final=final, outcome=outcome)
