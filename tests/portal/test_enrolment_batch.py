"""A batch of enrolments (portal.api._enrol_batch → beta.enrol_together) on PostgreSQL: a few
queries whatever its size, each member answered as enrol() and the token authentication answer
one member alone; a database error sends the batch member by member."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import psycopg
import pytest
from django.db import IntegrityError, OperationalError, connection
from django.http import HttpRequest
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal import api
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.models import AuditAction, AuditEvent, BetaEnrolment, BetaProgramme, User
from portal.services import beta
from portal.streaming import Refused, authenticate
from tests import people

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the batch's statements are PostgreSQL's"
)


def _programme(slug: str, capacity: int) -> BetaProgramme:
    now = timezone.now()
    return BetaProgramme.objects.create(
        name=slug,
        slug=slug,
        capacity=capacity,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=1),
    )


def _press(header: str, address: str = "10.0.0.7") -> HttpRequest:
    return RequestFactory().post("/", HTTP_AUTHORIZATION=header, REMOTE_ADDR=address)


def _key(user: User) -> str:
    return str(Token.objects.create(user=user).key)


def _alone(header: str) -> tuple[object, ...]:
    """The refusal of a request on its own (its token read by itself)."""
    try:
        authenticate(_press(header))
    except Refused as refused:
        return _said(refused)
    raise AssertionError("not refused")


def _said(answer: object) -> tuple[object, ...]:
    """An answer as the API tells it: (status, position, created) or the refusal's code."""
    if isinstance(answer, beta.Enrolment):
        return (answer.status, answer.waitlist_position, answer.created)
    if isinstance(answer, Refused):
        return (answer.status_code, answer.code, answer.detail)
    if isinstance(answer, PortalError):
        return (answer.status, answer.code)
    return (answer,)


@pytest.mark.django_db(transaction=True)
def test_a_batch_answers_each_member_as_alone_in_six_round_trips(units) -> None:
    _programme("rush", capacity=3)
    m = [people.make_user(f"m{i}", unit=units["factory"], serial=10 + i) for i in range(6)]
    keys = [_key(user) for user in m]
    stranger = people.make_user("u", unit=units["factory"], serial=30, verified=False)
    gone = people.make_user("gone", unit=units["factory"], serial=31)
    gone.is_active = False
    gone.save()
    _key(gone)
    late = people.make_user("late", unit=units["factory"], serial=32)
    expired = Token.objects.create(user=late)
    Token.objects.filter(pk=expired.pk).update(created=timezone.now() - timedelta(days=400))
    assert beta.enrol(m[0], "rush").created  # an enrolment from before the batch
    refused = {
        header: _alone(header)
        for header in (
            f"Token {expired.key}",
            "Token not-a-token",
            f"Token {Token.objects.get(user=gone).key}",
            f"Token {keys[5]} extra",
        )
    }
    batch = [
        (_press(f"Token {keys[1]}"), "rush"),
        (_press(f"Token {keys[2]}"), "rush"),  # the last place
        (_press(f"Token {keys[1]}"), "rush"),  # a repeat inside the batch
        (_press(f"Token {keys[0]}"), "rush"),  # enrolled before
        (_press(f"Token {_key(stranger)}"), "rush"),
        (_press(f"token {keys[3]}"), "rush"),  # DRF's keyword in any case
        (_press(f"Token {expired.key}"), "rush"),
        (_press("Token not-a-token"), "rush"),
        (_press(f"Token {Token.objects.get(user=gone).key}"), "rush"),
        (_press(f"Token {keys[4]}"), "rush"),
        (_press(f"Token {keys[3]}"), "rush"),  # a waiting repeat
        (_press(f"Token {keys[5]} extra"), "rush"),
        (_press(f"Token {keys[5]}"), "nowhere"),
    ]
    assert [code for code, *_rest in refused.values()] == [401] * 4
    assert refused[f"Token {expired.key}"][2] == "令牌已过期，请重新获取令牌。"
    with CaptureQueriesContext(connection) as queries:
        answers = api._enrol_batch(batch)
    # The tokens; then in a transaction the programmes locked, the enrolments read, one write.
    assert [q["sql"].split()[0] for q in queries] == [
        "SELECT",
        "BEGIN",
        "SELECT",
        "SELECT",
        "WITH",
        "COMMIT",
    ], [q["sql"][:80] for q in queries]
    assert [_said(a) for a in answers] == [
        ("accepted", None, True),
        ("accepted", None, True),
        ("accepted", None, False),
        ("accepted", None, False),
        (403, "not_verified"),
        ("waitlisted", 1, True),
        refused[f"Token {expired.key}"],
        refused["Token not-a-token"],
        refused[f"Token {Token.objects.get(user=gone).key}"],
        ("waitlisted", 2, True),
        ("waitlisted", 1, False),
        refused[f"Token {keys[5]} extra"],
        (404, "not_found"),
    ]
    rows = list(BetaEnrolment.objects.filter(programme__slug="rush").order_by("id"))
    assert [(r.user.username, r.status) for r in rows] == [
        ("m0", "accepted"),
        ("m1", "accepted"),
        ("m2", "accepted"),
        ("m3", "waitlisted"),
        ("m4", "waitlisted"),
    ]
    assert [beta.waitlist_position(r) for r in rows[3:]] == [1, 2]
    programme = BetaProgramme.objects.get(slug="rush")
    assert (programme.accepted_count, programme.waitlisted_count) == (3, 2)
    created = [a for a in answers if isinstance(a, beta.Enrolment) and a.created]
    assert sorted(a.record.pk for a in created) == [r.pk for r in rows[1:]]
    events = AuditEvent.objects.filter(action=AuditAction.BETA_ENROLLED).order_by("id")
    assert [(e.actor, e.actor_name, e.target, e.detail, e.ip_address) for e in events[1:]] == [
        (user, user.username, "rush", {"status": status}, "10.0.0.7")
        for user, status in [
            (m[1], "accepted"),
            (m[2], "accepted"),
            (m[3], "waitlisted"),
            (m[4], "waitlisted"),
        ]
    ]


@pytest.mark.django_db(transaction=True)
def test_batches_fill_the_last_places_exactly_then_queue_in_order(units) -> None:
    programme = _programme("edge", capacity=3)
    members = [people.make_user(f"e{i}", unit=units["factory"], serial=50 + i) for i in range(7)]
    told = []
    for size in (2, 3, 2):
        batch, members = members[:size], members[size:]
        told += [
            _said(a) for a in beta.enrol_together([(u, "edge", AuditOrigin.SYSTEM) for u in batch])
        ]
    assert told == [
        ("accepted", None, True),
        ("accepted", None, True),
        ("accepted", None, True),
        ("waitlisted", 1, True),
        ("waitlisted", 2, True),
        ("waitlisted", 3, True),
        ("waitlisted", 4, True),
    ]
    rows = BetaEnrolment.objects.filter(programme=programme).order_by("id")
    assert [r.status for r in rows] == ["accepted"] * 3 + ["waitlisted"] * 4
    assert [beta.waitlist_position(r) for r in rows][3:] == [1, 2, 3, 4]
    # A repeat of each, in one batch, tells each the same.
    again = beta.enrol_together([(r.user, "edge", AuditOrigin.SYSTEM) for r in rows])
    assert [_said(a) for a in again] == [(s, p, False) for s, p, _created in told]


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_the_batch_sends_it_member_by_member(units) -> None:
    _programme("rush", capacity=1)
    members = [people.make_user(f"f{i}", unit=units["factory"], serial=70 + i) for i in range(3)]
    origin = AuditOrigin(address="10.0.0.1", user_agent="t")
    with mock.patch.object(beta, "_write_places", side_effect=IntegrityError("refused")) as write:
        answers = beta.enrol_together([(u, "rush", origin) for u in members])
    assert write.called  # the batch was tried first, then undone
    assert [_said(a) for a in answers] == [
        ("accepted", None, True),
        ("waitlisted", 1, True),
        ("waitlisted", 2, True),
    ]
    assert BetaEnrolment.objects.count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.BETA_ENROLLED).count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_overloaded_database_is_not_tried_member_by_member(units) -> None:
    _programme("rush", capacity=1)
    member = people.make_user("f0", unit=units["factory"], serial=70)
    full = OperationalError("too many clients")
    full.__cause__ = psycopg.errors.TooManyConnections()
    with (
        mock.patch.object(beta, "_write_places", side_effect=full),
        mock.patch.object(beta, "_enrol_each") as each,
        pytest.raises(OperationalError),
    ):
        beta.enrol_together([(member, "rush", AuditOrigin.SYSTEM)])
    assert not each.called
    assert not BetaEnrolment.objects.exists()
