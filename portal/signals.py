"""Audit-log entries for sign-ins, failed sign-ins, lock-outs and sign-outs; the beta's counters
when an enrolment goes with its member's account."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest

from portal import audit
from portal.audit import AuditOrigin
from portal.models import AuditAction, BetaEnrolment, User


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    audit.record(
        AuditAction.LOGIN, actor=user, target=user.username, origin=AuditOrigin.of(request)
    )


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit.record(
            AuditAction.LOGOUT, actor=user, target=user.username, origin=AuditOrigin.of(request)
        )


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))
    if request is not None and getattr(request, "axes_locked_out", False):
        return  # recorded once, as the lock-out
    origin = AuditOrigin.of(request) if request is not None else AuditOrigin.SYSTEM
    audit.record(AuditAction.LOGIN_FAILED, actor_name=username, target=username, origin=origin)


@receiver(user_locked_out)
def _locked_out(
    sender: Any, request: HttpRequest, username: str | None = None, **kwargs: Any
) -> None:
    audit.record(
        AuditAction.LOCKED_OUT,
        actor_name=username or "",
        target=username or "",
        origin=AuditOrigin.of(request),
    )


@receiver(post_delete, sender=BetaEnrolment)
def _enrolment_deleted(sender: Any, instance: BetaEnrolment, **kwargs: Any) -> None:
    from portal.services import beta

    beta.forget_enrolment(instance)
