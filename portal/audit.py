"""Writing the audit log, and where a change came from (AuditOrigin)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpRequest

from portal.models import AuditAction, AuditEvent, User


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT proxies."""
    candidate: str | None = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        # Without an IPv6 zone (fe80::1%eth0): PostgreSQL's inet type refuses one.
        return str(ipaddress.ip_address(candidate.split("%", 1)[0])) if candidate else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AuditOrigin:
    """Where a change came from, as the audit log keeps it: a request's client address and user
    agent, or SYSTEM for a command or a background job."""

    address: str | None
    user_agent: str

    SYSTEM: ClassVar[AuditOrigin]

    @classmethod
    def of(cls, request: HttpRequest) -> AuditOrigin:
        return cls(client_ip(request), request.META.get("HTTP_USER_AGENT", "")[:300])


AuditOrigin.SYSTEM = AuditOrigin(address=None, user_agent="")


def actor_label(actor: User | None, given: str | None = None) -> str:
    """The account that acted; "system" for a command or job; `given` for an anonymous visitor."""
    if actor is not None:
        return actor.username
    return "system" if given is None else given


def record(
    action: AuditAction,
    *,
    actor: User | None = None,
    actor_name: str | None = None,
    target: object = "",
    detail: dict[str, Any] | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> AuditEvent:
    return AuditEvent.objects.create(
        **fields(action, actor=actor, actor_name=actor_name, target=target, origin=origin),
        detail=detail or {},
    )


def fields(
    action: AuditAction,
    *,
    actor: User | None = None,
    actor_name: str | None = None,
    target: object = "",
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> dict[str, Any]:
    """An event's fields but its detail: what record() stores, for a statement that writes the
    event together with the change it records (portal.services.beta's enrolment)."""
    return {
        "action": action,
        "actor": actor if actor is not None and actor.pk else None,
        "actor_name": actor_label(actor, actor_name)[:150],
        "target": str(target)[:200],
        "ip_address": origin.address,
        "user_agent": origin.user_agent[:300],
    }
