"""The closed beta: which programme is current, and enrolment that never over-fills."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models import Case, Count, F, OuterRef, Subquery, When
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal import audit, overload, permissions, statements
from portal.audit import AuditOrigin
from portal.errors import NotFound, NotPermitted, PortalError, PortalErrorCode
from portal.models import (
    AuditAction,
    AuditEvent,
    BetaEnrolment,
    BetaProgramme,
    EnrolmentStatus,
    User,
)
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
    refusal = permissions.enrol_refusal(user)
    if refusal is not None:
        raise EnrolmentRefused(refusal, code=PortalErrorCode.NOT_VERIFIED)
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
    programme: BetaProgramme | str,
    *,
    now: datetime | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> Enrolment:
    """A place while places last, then the waiting list in order; a repeat returns the first.

    `programme` may be given by its slug (the API does: the statement finds it). A verified
    member's first enrolment is one statement (`_take_place`); a repeat, a refusal or an unknown
    programme take the slower path that reads what it needs to say so."""
    now = now or timezone.now()
    slug = programme if isinstance(programme, str) else programme.slug
    for _attempt in range(2):
        if permissions.may_enrol_in_beta(user):
            try:
                taken = _take_place(user, slug, now, origin)
            except IntegrityError:  # the same member's other request took one a moment ago
                taken = None
            if taken is not None:
                return taken
        found = BetaProgramme.objects.filter(slug=slug).first()
        if found is None:
            raise NotFound(_("没有这个内测计划。"))
        existing = BetaEnrolment.objects.filter(programme=found, user=user).first()
        if existing is not None:
            return Enrolment(existing, created=False, waitlist_position=waitlist_position(existing))
        check_may_enrol(user, found, now)
        # Allowed, yet nothing was taken: the window or the slug changed meanwhile; once more.
    raise NotFound(_("没有这个内测计划。"))


def enrol_together(
    members: Sequence[tuple[User, str, AuditOrigin]],
) -> list[Enrolment | PortalError | DatabaseError]:
    """Several members' enrolments (member, programme slug, origin) in one transaction, each
    as enrol() answers it, a refusal in its place. During a rush the programme row's lock is
    held until the commit has reached the disk: one commit for many enrolments instead of one
    each. They take their places in the order given, programme by programme (in the order of
    their slugs, so two transactions lock programmes in the same order). On PostgreSQL the
    batch costs a few statements whatever its size (`_take_places`); should the database refuse
    one of them (a member's address the inet type refuses), the batch goes again member by
    member, each in a savepoint of its own, so that member's error is their answer and the
    others keep their places. An overloaded database undoes them all and raises."""
    if connection.vendor == "postgresql" and members:
        try:
            return _take_places(members)
        except DatabaseError as exc:  # IntegrityError too: undone, then member by member
            if overload.is_overload(exc):
                raise
    return _enrol_each(members)


def _enrol_each(
    members: Sequence[tuple[User, str, AuditOrigin]],
) -> list[Enrolment | PortalError | DatabaseError]:
    answers: list[Enrolment | PortalError | DatabaseError | None] = [None] * len(members)
    with transaction.atomic():
        for i in _by_programme(members):
            user, slug, origin = members[i]
            try:
                with transaction.atomic():
                    answers[i] = enrol(user, slug, origin=origin)
            except PortalError as exc:
                answers[i] = exc
            except DatabaseError as exc:
                if overload.is_overload(exc):
                    raise
                answers[i] = exc
    return [answer for answer in answers if answer is not None]


def _by_programme(members: Sequence[tuple[User, str, AuditOrigin]]) -> list[int]:
    """The members' indexes in the order they take places: by slug, then as given."""
    return sorted(range(len(members)), key=lambda i: members[i][1])


def _take_places(
    members: Sequence[tuple[User, str, AuditOrigin]],
) -> list[Enrolment | PortalError | DatabaseError]:
    """enrol_together on PostgreSQL in three statements and the commit: the programmes locked
    (in slug order), the members' enrolments in them read, every answer decided here as enrol()
    decides it, then the new enrolments, their audit events and the counters written by one
    statement."""
    answers: list[Enrolment | PortalError | DatabaseError | None] = [None] * len(members)
    with transaction.atomic():
        programmes = {
            p.slug: p
            for p in BetaProgramme.objects.select_for_update()
            .filter(slug__in={slug for _user, slug, _origin in members})
            .order_by("slug")
        }
        now = timezone.now()  # under the locks: after the batches before this one
        known = _enrolments(list(programmes.values()), {user.pk for user, _s, _o in members})
        taken: list[tuple[Enrolment, AuditOrigin]] = []
        for i in _by_programme(members):
            user, slug, origin = members[i]
            programme = programmes.get(slug)
            if programme is None:
                answers[i] = NotFound(_("没有这个内测计划。"))
                continue
            existing = known.get((programme.pk, user.pk))
            if existing is not None:  # before this batch, or earlier in it
                answers[i] = replace(existing, created=False)
                continue
            try:
                check_may_enrol(user, programme, now)
            except EnrolmentRefused as refused:
                answers[i] = refused
                continue
            status, position = _next_place(programme)
            record = BetaEnrolment(programme=programme, user=user, status=status, created_at=now)
            enrolment = Enrolment(record, created=True, waitlist_position=position)
            answers[i] = known[programme.pk, user.pk] = enrolment
            taken.append((enrolment, origin))
        if taken:
            changed = {enrolment.record.programme_id for enrolment, _origin in taken}
            _write_places(taken, [p for p in programmes.values() if p.pk in changed])
    return [answer for answer in answers if answer is not None]


def _enrolments(
    programmes: Sequence[BetaProgramme], user_ids: set[int]
) -> dict[tuple[int, int], Enrolment]:
    """The members' enrolments in the programmes by (programme, member), with the waiting list
    positions of those waiting (as waitlist_position() counts them), in one query."""
    if not programmes:
        return {}
    ahead = (
        BetaEnrolment.objects.filter(
            programme_id=OuterRef("programme_id"),
            status=EnrolmentStatus.WAITLISTED,
            id__lte=OuterRef("id"),
        )
        .order_by()
        .values("programme_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = BetaEnrolment.objects.filter(programme__in=programmes, user_id__in=user_ids).annotate(
        position=Case(When(status=EnrolmentStatus.WAITLISTED, then=Subquery(ahead)))
    )
    return {
        (e.programme_id, e.user_id): Enrolment(e, created=False, waitlist_position=e.position)
        for e in rows
    }


def _next_place(programme: BetaProgramme) -> tuple[EnrolmentStatus, int | None]:
    """A newcomer's status and waiting list position, counted on the (locked) programme: a
    place while places last and nobody waits, else the end of the waiting list."""
    if programme.accepted_count < programme.capacity and programme.waitlisted_count == 0:
        programme.accepted_count += 1
        return EnrolmentStatus.ACCEPTED, None
    programme.waitlisted_count += 1
    return EnrolmentStatus.WAITLISTED, programme.waitlisted_count


def _write_places(
    taken: Sequence[tuple[Enrolment, AuditOrigin]], programmes: Sequence[BetaProgramme]
) -> None:
    """The new enrolments, their audit events and the programmes' counters in one statement.
    The enrolments are inserted in the order they took their places: their ids, which order
    the waiting list, follow it."""
    using = connection.alias
    records = [enrolment.record for enrolment, _origin in taken]
    events = [
        _event(r.user, r.programme.slug, origin)
        for r, (_enrolment, origin) in zip(records, taken, strict=True)
    ]
    row = f"({_event_marks(events[0], '%s')}, jsonb_build_object('status', %s::text))"
    log = (
        f"INSERT INTO portal_auditevent ({', '.join(events[0])}, detail)"  # noqa: S608
        f" VALUES {', '.join([row] * len(events))}"
    )
    log_params = [v for r, e in zip(records, events, strict=True) for v in (*e.values(), r.status)]
    parts: list[tuple[str, Sequence[Any]]] = [statements.insert_sql(records, using)]
    parts.append((log, log_params))
    parts += [
        statements.update_sql(
            BetaProgramme.objects.filter(pk=p.pk),
            {"accepted_count": p.accepted_count, "waitlisted_count": p.waitlisted_count},
        )
        for p in programmes
    ]
    ctes = ", ".join(f"w{n} AS ({sql})" for n, (sql, _params) in enumerate(parts))
    with connection.cursor() as cursor:
        params = [p for _sql, ps in parts for p in ps]
        cursor.execute(f"WITH {ctes} SELECT * FROM w0", params)  # noqa: S608
        ids = [pk for (pk,) in cursor.fetchall()]
    for record, pk in zip(records, ids, strict=True):
        record.pk = pk
        record._state.adding, record._state.db = False, using


# One statement takes a place or joins the waiting list, inserts the enrolment and its audit
# event. The UPDATE of the programme row holds that row's lock only while the statement runs
# (autocommit), so enrolments queue inside PostgreSQL for microseconds, never across round
# trips. Its SET reads the counters before the change and RETURNING gives them after: a newcomer
# was placed exactly when nobody waits after it (waitlisted_count = 0), and otherwise its place
# in the queue is the new waitlisted_count. A second enrolment of the same member (two requests
# at once) breaks the unique constraint, which undoes the whole statement, counters included.
_TAKE_PLACE = """
WITH place AS (
    UPDATE portal_betaprogramme
       SET accepted_count = accepted_count
               + (accepted_count < capacity AND waitlisted_count = 0)::int,
           waitlisted_count = waitlisted_count
               + (accepted_count >= capacity OR waitlisted_count > 0)::int
     WHERE slug = %(slug)s AND opens_at <= %(now)s AND closes_at > %(now)s
       AND NOT EXISTS (
           SELECT 1 FROM portal_betaenrolment e
            WHERE e.programme_id = portal_betaprogramme.id AND e.user_id = %(user)s)
    RETURNING id, waitlisted_count
), taken AS (
    INSERT INTO portal_betaenrolment (programme_id, user_id, status, created_at)
    SELECT id, %(user)s,
           CASE WHEN waitlisted_count = 0 THEN %(accepted)s ELSE %(waitlisted)s END, %(now)s
      FROM place
    RETURNING id, programme_id, status
), logged AS (
    INSERT INTO portal_auditevent ({audit_columns}, detail)
    SELECT {audit_values}, jsonb_build_object('status', status) FROM taken
)
SELECT taken.id, taken.programme_id, taken.status, place.waitlisted_count FROM taken, place
"""


def _take_place(user: User, slug: str, now: datetime, origin: AuditOrigin) -> Enrolment | None:
    """The member's new enrolment, or None: already enrolled, outside the window, no such
    programme (the caller finds out which)."""
    if connection.vendor != "postgresql":
        return _take_place_locked(user, slug, now, origin)
    params: dict[str, Any] = {
        "slug": slug,
        "user": user.pk,
        "now": now,
        "accepted": EnrolmentStatus.ACCEPTED.value,
        "waitlisted": EnrolmentStatus.WAITLISTED.value,
    }
    event = _event(user, slug, origin)
    params.update({f"audit_{column}": value for column, value in event.items()})
    sql = _TAKE_PLACE.format(
        audit_columns=", ".join(event), audit_values=_event_marks(event, "%(audit_{})s")
    )
    with _own_transaction(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    pk, programme_id, status, waiting = row
    record = BetaEnrolment(
        pk=pk, programme_id=programme_id, user=user, status=status, created_at=now
    )
    record._state.adding, record._state.db = False, connection.alias
    accepted = status == EnrolmentStatus.ACCEPTED
    return Enrolment(record, created=True, waitlist_position=None if accepted else waiting)


def _event(user: User, slug: str, origin: AuditOrigin) -> dict[str, Any]:
    """An enrolment's audit event but its detail, column by column, as the statements write it.
    The address goes as given: PostgreSQL's inet type judges it (a refusal undoes the statement)."""
    event = audit.fields(AuditAction.BETA_ENROLLED, actor=user, target=slug, origin=origin)
    event["created_at"] = timezone.now()
    return {
        _column(AuditEvent, name): value.pk if isinstance(value, User) else value
        for name, value in event.items()
    }


def _event_marks(event: dict[str, Any], mark: str) -> str:
    """The placeholders of an event's values (`mark`, formatted with the column's name)."""
    casts = {"ip_address": "::inet", "created_at": "::timestamptz"}
    return ", ".join(mark.format(column) + casts.get(column, "") for column in event)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field.column


@contextmanager
def _own_transaction() -> Iterator[None]:
    """Autocommit (the statement is its own transaction, its lock gone when it ends); inside a
    caller's transaction, a savepoint, so a duplicate undoes only this statement."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def _take_place_locked(
    user: User, slug: str, now: datetime, origin: AuditOrigin
) -> Enrolment | None:
    """The same as the statement, for databases without data-modifying WITH (SQLite, whose
    transactions take the write lock at their start: transaction_mode IMMEDIATE)."""
    with transaction.atomic():
        programme = (
            BetaProgramme.objects.select_for_update()
            .filter(slug=slug, opens_at__lte=now, closes_at__gt=now)
            .first()
        )
        if programme is None or programme.enrolments.filter(user=user).exists():
            return None
        status, position = _next_place(programme)
        programme.save(update_fields=["accepted_count", "waitlisted_count"])
        record = BetaEnrolment.objects.create(
            programme=programme, user=user, status=status, created_at=now
        )
        audit.record(
            AuditAction.BETA_ENROLLED,
            actor=user,
            target=slug,
            detail={"status": status},
            origin=origin,
        )
    return Enrolment(record, created=True, waitlist_position=position)


def forget_enrolment(enrolment: BetaEnrolment) -> None:
    """An enrolment deleted (its member's account went): its counter goes down with it."""
    counter = (
        "accepted_count" if enrolment.status == EnrolmentStatus.ACCEPTED else "waitlisted_count"
    )
    BetaProgramme.objects.filter(pk=enrolment.programme_id, **{f"{counter}__gt": 0}).update(
        **{counter: F(counter) - 1}
    )


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
        # Counted again from the rows (under the lock every enrolment's statement takes).
        counts = _status_counts(locked)
        BetaProgramme.objects.filter(pk=locked.pk).update(
            accepted_count=counts.get(EnrolmentStatus.ACCEPTED, 0),
            waitlisted_count=counts.get(EnrolmentStatus.WAITLISTED, 0),
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
