"""The closed beta: which programme is current, and enrolment that never over-fills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal import audit, permissions
from portal.audit import AuditOrigin
from portal.errors import NotPermitted, PortalErrorCode
from portal.models import AuditAction, BetaEnrolment, BetaProgramme, EnrolmentStatus, User
from portal.permissions import Perm


class EnrolmentRefused(NotPermitted):
    code = PortalErrorCode.ENROLMENT_REFUSED


@dataclass(frozen=True)
class Enrolment:
    record: BetaEnrolment
    created: bool
    waitlist_position: int | None

    @property
    def status(self) -> str:
        return self.record.status


@dataclass(frozen=True)
class ProgrammeState:
    programme: BetaProgramme
    accepted: int
    waitlisted: int
    my_status: str | None
    my_waitlist_position: int | None

    @property
    def places_left(self) -> int:
        return max(self.programme.capacity - self.accepted, 0)


def current_programme(now: datetime | None = None) -> BetaProgramme | None:
    """The programme open now; else the next to open; else the one that closed last."""
    now = now or timezone.now()
    programmes = BetaProgramme.objects.all()
    return (
        programmes.filter(opens_at__lte=now, closes_at__gt=now).order_by("closes_at").first()
        or programmes.filter(opens_at__gt=now).order_by("opens_at").first()
        or programmes.filter(closes_at__lte=now).order_by("-closes_at").first()
    )


def _status_counts(programme: BetaProgramme) -> dict[str, int]:
    return dict(
        BetaEnrolment.objects.filter(programme=programme)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )


def programme_state(programme: BetaProgramme, user: User | None) -> ProgrammeState:
    counts = _status_counts(programme)
    mine = (
        BetaEnrolment.objects.filter(programme=programme, user=user).first()
        if user is not None and user.is_authenticated
        else None
    )
    return ProgrammeState(
        programme=programme,
        accepted=counts.get(EnrolmentStatus.ACCEPTED, 0),
        waitlisted=counts.get(EnrolmentStatus.WAITLISTED, 0),
        my_status=mine.status if mine else None,
        my_waitlist_position=waitlist_position(mine) if mine else None,
    )


def waitlist_position(enrolment: BetaEnrolment) -> int | None:
    """1 for the first member waiting; None for a member with a place."""
    if enrolment.status != EnrolmentStatus.WAITLISTED:
        return None
    return BetaEnrolment.objects.filter(
        programme_id=enrolment.programme_id,
        status=EnrolmentStatus.WAITLISTED,
        id__lte=enrolment.id,
    ).count()


def check_may_enrol(user: User, programme: BetaProgramme, now: datetime) -> None:
    if not permissions.may_enrol_in_beta(user):
        raise EnrolmentRefused(
            _("只有完成实名认证的会员才能报名内测，请先在“我的资料”中提交认证信息。"),
            code=PortalErrorCode.NOT_VERIFIED,
        )
    if now < programme.opens_at:
        raise EnrolmentRefused(
            _("报名尚未开始，开始时间：%(t)s。")
            % {"t": date_format(timezone.localtime(programme.opens_at), "Y年n月j日 H:i")},
            code=PortalErrorCode.NOT_OPEN_YET,
        )
    if now >= programme.closes_at:
        raise EnrolmentRefused(
            _("报名已截止（截止时间：%(t)s）。")
            % {"t": date_format(timezone.localtime(programme.closes_at), "Y年n月j日 H:i")},
            code=PortalErrorCode.CLOSED,
        )


def enrol(
    user: User,
    programme: BetaProgramme,
    *,
    now: datetime | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> Enrolment:
    """A place while places last, then the waiting list in order; a repeat returns the first."""
    now = now or timezone.now()
    existing = BetaEnrolment.objects.filter(programme=programme, user=user).first()
    if existing is not None:
        return Enrolment(existing, created=False, waitlist_position=waitlist_position(existing))
    check_may_enrol(user, programme, now)
    with transaction.atomic():
        # The programme row lock serialises enrolments, so the count below cannot go stale.
        locked = BetaProgramme.objects.select_for_update().get(pk=programme.pk)
        existing = BetaEnrolment.objects.filter(programme=locked, user=user).first()
        if existing is not None:
            return Enrolment(existing, created=False, waitlist_position=waitlist_position(existing))
        taken = _status_counts(locked)
        waiting = taken.get(EnrolmentStatus.WAITLISTED, 0)
        # A newcomer gets a place only when one is free and nobody is waiting for it.
        if taken.get(EnrolmentStatus.ACCEPTED, 0) < locked.capacity and waiting == 0:
            status, position = EnrolmentStatus.ACCEPTED, None
        else:
            status, position = EnrolmentStatus.WAITLISTED, waiting + 1
        record = BetaEnrolment.objects.create(
            programme=locked, user=user, status=status, created_at=now
        )
        audit.record(
            AuditAction.BETA_ENROLLED,
            actor=user,
            target=locked.slug,
            detail={"status": status},
            origin=origin,
        )
    return Enrolment(record, created=True, waitlist_position=position)


def promote_waitlist(
    programme: BetaProgramme, *, actor: User | None = None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> list[BetaEnrolment]:
    """Give the free places to the members waiting longest, in order (after a capacity rise)."""
    if actor is not None:
        permissions.require(actor, Perm.MANAGE_BETA)
    with transaction.atomic():
        locked = BetaProgramme.objects.select_for_update().get(pk=programme.pk)
        free = locked.capacity - _status_counts(locked).get(EnrolmentStatus.ACCEPTED, 0)
        if free <= 0:
            return []
        promoted = list(
            BetaEnrolment.objects.filter(programme=locked, status=EnrolmentStatus.WAITLISTED)
            .select_related("user")
            .order_by("id")[:free]
        )
        BetaEnrolment.objects.filter(pk__in=[e.pk for e in promoted]).update(
            status=EnrolmentStatus.ACCEPTED
        )
        for enrolment in promoted:
            enrolment.status = EnrolmentStatus.ACCEPTED
            audit.record(
                AuditAction.BETA_PROMOTED,
                actor=actor,
                target=f"{locked.slug}:{enrolment.user.username}",
                origin=origin,
            )
    return promoted
