"""Background jobs that a person waits for (Write's sections, Draw's image requests): one way.

A job is a row (a model inheriting `Job`) before it is a message. The service that creates the
row sends the message when its transaction commits (`enqueue`), so a rolled-back request leaves
neither. A worker takes the job with `claim()`, a conditional UPDATE from queued to running that
hands out a fresh claim token: a redelivered message, a second worker, or a job cancelled
meanwhile find nothing to claim. While it works, `heartbeat()` keeps the row's `heartbeat_at`
fresh from a thread, and it ends the job with `finish()` (or `fail()`), which holds only while
the token is still its own — write the job's results in the same transaction as `finish()`
and a second run can never add a second set.

Messages get lost in two ways that late acknowledgement does not cover: the filesystem broker
deletes a message when a worker takes it, and a worker killed outright (SIGKILL, OOM) leaves its
Redis message unacknowledged until the visibility timeout, an hour away. `sweep()` therefore
puts back every running job whose heartbeat stopped and re-sends the message of every queued
job that has waited too long for its first claim; a job that has used its attempts fails with a
clear message instead. Each app schedules its own sweep in `CELERY_BEAT_SCHEDULE`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db import close_old_connections, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from portal.models import User
    from portal.permissions import Perm

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("进行中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")
    BLOCKED = "blocked", _("已拦截")


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.BLOCKED)


class Job(models.Model):
    """The state every background job shares. Concrete models add what the job is about."""

    status = models.CharField(
        _("状态"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    # When the message was last sent: the sweep re-sends one that nobody claimed in time.
    enqueued_at = models.DateTimeField(_("入队时间"), default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    # What the person is told (Chinese), and the provider's own words for admins.
    error = models.CharField(_("失败原因"), max_length=300, blank=True, default="")
    error_detail = models.CharField(_("错误详情"), max_length=1000, blank=True, default="")

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


J = TypeVar("J", bound=Job)


class Task(Protocol):
    def apply_async(
        self,
        args: tuple[Any, ...] | None = ...,
        kwargs: dict[str, Any] | None = ...,
        *,
        countdown: float = ...,
    ) -> Any: ...


def enqueue(task: Task, job_id: int, **options: Any) -> None:
    """Send the job's message once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _send(task, job_id, options))


def _send(task: Task, job_id: int, options: dict[str, Any]) -> None:
    try:
        task.apply_async((job_id,), **options)
    except Exception:  # the broker is down: the sweep sends it later
        logger.exception("could not send job %s; the sweep will send it again", job_id)


def claim(model: type[J], job_id: int) -> uuid.UUID | None:
    """Take a queued job for this worker: the claim token, or None when the job is not queued
    (running elsewhere, finished, cancelled, deleted)."""
    token = uuid.uuid4()
    now = timezone.now()
    taken = model._default_manager.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        claim_token=token,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        error="",
        error_detail="",
    )
    return token if taken else None


def refusal(person: User | None, perm: Perm) -> str | None:
    """Why the person a job works for may no longer have it done: their account was disabled,
    their role changed or their AI access ended after they asked. None when they still may.
    Every job that acts for a person asks (after its claim, before anything costly) and fails
    with this reason, as the page would have refused them."""
    from portal import permissions  # the policy reads models that import this module

    user = person if person is not None else AnonymousUser()
    return None if permissions.has_perm(user, perm) else permissions.refusal_reason(user, perm)


def _mine(model: type[J], job_id: int, token: uuid.UUID) -> models.QuerySet[J]:
    return model._default_manager.filter(pk=job_id, status=JobStatus.RUNNING, claim_token=token)


def still_mine(model: type[J], job_id: int, token: uuid.UUID) -> bool:
    """Whether the job is still this worker's (not cancelled, not swept away)."""
    return _mine(model, job_id, token).exists()


def touch(model: type[J], job_id: int, token: uuid.UUID, **fields: Any) -> bool:
    """Save progress (and the heartbeat) while the job is still this worker's."""
    return bool(_mine(model, job_id, token).update(heartbeat_at=timezone.now(), **fields))


def finish(model: type[J], job_id: int, token: uuid.UUID, **fields: Any) -> bool:
    """End the job as succeeded (or the `status` in `fields`). False: it is no longer this
    worker's, and the caller's transaction must not keep its results."""
    fields.setdefault("status", JobStatus.SUCCEEDED)
    return bool(
        _mine(model, job_id, token).update(finished_at=timezone.now(), claim_token=None, **fields)
    )


def fail(model: type[J], job_id: int, token: uuid.UUID, message: str, detail: str = "") -> bool:
    return finish(
        model,
        job_id,
        token,
        status=JobStatus.FAILED,
        error=message[:300],
        error_detail=detail[:1000],
    )


def release(model: type[J], job_id: int, token: uuid.UUID) -> bool:
    """Give a running job back to the queue (before a retry): the caller sends its message."""
    return bool(
        _mine(model, job_id, token).update(
            status=JobStatus.QUEUED, claim_token=None, enqueued_at=timezone.now()
        )
    )


@contextmanager
def heartbeat(model: type[J], job_id: int, token: uuid.UUID, every: float) -> Iterator[None]:
    """Keep the job's heartbeat fresh from a thread while the body waits on a provider."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                if not touch(model, job_id, token):
                    return
        finally:
            close_old_connections()

    thread = threading.Thread(target=beat, name=f"heartbeat-{model.__name__}-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


@dataclass(frozen=True)
class Swept:
    requeued: int = 0
    resent: int = 0
    failed: int = 0


def sweep(
    model: type[J],
    task: Task,
    *,
    stale_after: timedelta,
    unclaimed_after: timedelta,
    max_attempts: int,
    give_up: str,
    scope: Q | None = None,
    on_failed: Callable[[list[int]], None] | None = None,
) -> Swept:
    """Put back running jobs whose heartbeat is older than `stale_after` (or fail them after
    `max_attempts`), and re-send queued jobs nobody claimed for `unclaimed_after`."""
    now = timezone.now()
    manager = model._default_manager
    base = manager.filter(scope) if scope is not None else manager.all()
    stale = Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after)
    with transaction.atomic():
        dead = list(
            base.filter(stale).select_for_update(skip_locked=True).values_list("pk", "attempts")
        )
        exhausted = [pk for pk, attempts in dead if attempts >= max_attempts]
        again = [pk for pk, attempts in dead if attempts < max_attempts]
        if exhausted:
            manager.filter(pk__in=exhausted).update(
                status=JobStatus.FAILED,
                claim_token=None,
                finished_at=now,
                error=str(give_up)[:300],
                error_detail="worker lost",
            )
            if on_failed:
                on_failed(exhausted)
        if again:
            manager.filter(pk__in=again).update(
                status=JobStatus.QUEUED, claim_token=None, enqueued_at=now
            )
        lost = list(
            base.filter(status=JobStatus.QUEUED, enqueued_at__lt=now - unclaimed_after)
            .exclude(pk__in=again)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        if lost:
            manager.filter(pk__in=lost).update(enqueued_at=now)
        for pk in [*again, *lost]:
            enqueue(task, pk)
    if dead or lost:
        logger.warning(
            "%s sweep: %d put back, %d re-sent, %d failed",
            model.__name__,
            len(again),
            len(lost),
            len(exhausted),
        )
    return Swept(requeued=len(again), resent=len(lost), failed=len(exhausted))
