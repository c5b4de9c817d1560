"""The sign-up rush: many enrol at once through the API (real threads, real PostgreSQL), and
overload answers 503 busy with Retry-After, never a 500 or a traceback in the log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.http import HttpResponse
from django.test import AsyncRequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal import api, overload
from portal.models import AuditAction, AuditEvent, BetaEnrolment, BetaProgramme, User
from portal.services import beta
from tests import people


def _token_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.django_db(transaction=True)
def test_a_burst_through_the_api_fills_exactly_and_queues_in_order(units) -> None:
    now = timezone.now()
    BetaProgramme.objects.create(
        name="抢名额",
        slug="rush",
        capacity=4,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=1),
    )
    members = [people.make_user(f"r{i}", unit=units["factory"], serial=200 + i) for i in range(16)]
    strangers = [
        people.make_user(f"u{i}", unit=units["factory"], serial=300 + i, verified=False)
        for i in range(3)
    ]
    clients = {u.username: _token_client(u) for u in members + strangers}
    # Every third member presses twice at the same moment; the unverified press too.
    presses = members + members[::3] + strangers
    start = threading.Barrier(len(presses))
    answers: list[tuple[str, int, dict[str, object]]] = []
    failures: list[BaseException] = []

    def press(user: User) -> None:
        try:
            start.wait(timeout=30)
            response = clients[user.username].post("/api/v1/beta/rush/enroll/")
            answers.append((user.username, response.status_code, response.json()))
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(u,)) for u in presses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert len(answers) == len(presses)
    refused = [a for a in answers if a[0].startswith("u")]
    assert {(code, body["code"]) for _, code, body in refused} == {(403, "not_verified")}
    rows = list(BetaEnrolment.objects.filter(programme__slug="rush").order_by("id"))
    assert len(rows) == len(members)  # one each, none for the unverified
    assert [r.status for r in rows] == ["accepted"] * 4 + ["waitlisted"] * 12
    # Each member was told what the database holds, a repeat the same as the first answer.
    told: dict[str, set[str]] = {}
    for name, code, body in answers:
        if not name.startswith("u"):
            assert code in (200, 201)
            told.setdefault(name, set()).add(str(body["status"]))
    assert {name: s.pop() for name, s in told.items()} == {r.user.username: r.status for r in rows}
    # The waiting list is in the order of the rows, positions 1, 2, 3…
    positions = [beta.waitlist_position(r) for r in rows if r.status == "waitlisted"]
    assert positions == list(range(1, 13))
    programme = BetaProgramme.objects.get(slug="rush")
    assert (programme.accepted_count, programme.waitlisted_count) == (4, 12)
    assert AuditEvent.objects.filter(action=AuditAction.BETA_ENROLLED).count() == len(members)


@pytest.mark.django_db
def test_the_counters_follow_a_member_who_leaves(
    api, open_programme: BetaProgramme, alice: User, bob: User, units
) -> None:
    carol = people.make_user("carol", unit=units["factory"], serial=160)
    for user in (alice, bob, carol):
        beta.enrol(user, open_programme)
    alice.delete()
    open_programme.refresh_from_db()
    assert (open_programme.accepted_count, open_programme.waitlisted_count) == (1, 1)
    # A newcomer still queues behind carol; promotion gives carol the freed place.
    dave = people.make_user("dave", unit=units["factory"], serial=161)
    assert api(dave).post("/api/v1/beta/ai-beta/enroll/").json() == {
        "status": "waitlisted",
        "waitlist_position": 2,
    }
    assert [e.user for e in beta.promote_waitlist(open_programme)] == [carol]
    open_programme.refresh_from_db()
    assert (open_programme.accepted_count, open_programme.waitlisted_count) == (2, 1)


@pytest.mark.django_db
def test_the_enrolment_records_its_audit_event_with_the_callers_address(
    api, open_programme: BetaProgramme, alice: User
) -> None:
    api(alice).post("/api/v1/beta/ai-beta/enroll/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="t/1")
    event = AuditEvent.objects.get(action=AuditAction.BETA_ENROLLED)
    assert (event.actor, event.actor_name, event.target) == (alice, "alice", "ai-beta")
    assert (event.detail, event.ip_address, event.user_agent) == (
        {"status": "accepted"},
        "10.1.2.3",
        "t/1",
    )


def test_a_full_gate_answers_503_busy_with_retry_after(settings) -> None:
    settings.ENROL_CONCURRENCY, settings.ENROL_WAIT_SECONDS = 1, 1
    gate = overload.Gate(lambda: 1, lambda: 0.2)

    async def scenario() -> tuple[object, bool]:
        async with gate.enter():
            try:
                async with gate.enter():
                    return None, False
            except overload.Overloaded as exc:
                refused = exc
        async with gate.enter():  # free again once the first is done
            return refused, True

    refused, again = async_to_sync(scenario)()
    assert isinstance(refused, overload.Overloaded) and again
    assert (refused.status, refused.code, refused.message) == (503, "busy", "人多，请稍后再试")


@pytest.mark.django_db(transaction=True)
def test_enrolments_beyond_the_gate_wait_then_get_503_busy(settings, units) -> None:
    settings.ENROL_CONCURRENCY, settings.ENROL_WAIT_SECONDS = 1, 1
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    key = Token.objects.create(user=alice).key

    async def scenario() -> HttpResponse:
        # Another enrolment holds the only slot of this loop's gate while alice's arrives.
        async with api.ENROL_GATE.enter():
            request = AsyncRequestFactory().post(
                "/api/v1/beta/x/enroll/", HTTP_AUTHORIZATION=f"Token {key}"
            )
            response = await api.enrol(request, "x")
            assert isinstance(response, HttpResponse)
            return response

    response = async_to_sync(scenario)()
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert json.loads(response.content) == {"detail": "人多，请稍后再试", "code": "busy"}


@pytest.fixture
def one_connection_pool() -> Iterator[None]:
    """This test's database behind a pool of one connection that waits 1 s at most."""
    options = connection.settings_dict["OPTIONS"]
    if "pool" not in options:
        pytest.skip("needs PostgreSQL with its connection pool")
    saved = options["pool"]
    connection.close()
    connection.close_pool()  # type: ignore[attr-defined]
    options["pool"] = {"min_size": 1, "max_size": 1, "timeout": 1}
    try:
        yield
    finally:
        connection.close()
        connection.close_pool()  # type: ignore[attr-defined]
        options["pool"] = saved


def _holding_the_only_connection() -> tuple[threading.Event, threading.Thread]:
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        connection.ensure_connection()
        taken.set()
        done.wait(timeout=30)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(timeout=10)
    return done, holder


@pytest.mark.django_db(transaction=True)
def test_a_full_database_pool_is_503_busy_for_api_and_pages_without_a_traceback(
    units, one_connection_pool: None, caplog: pytest.LogCaptureFixture
) -> None:
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    key = Token.objects.create(user=alice).key
    connection.close()  # back to the pool, which the holder then empties
    done, holder = _holding_the_only_connection()
    try:
        with caplog.at_level(logging.INFO):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            enrol = client.post("/api/v1/beta/x/enroll/")
            me = client.get("/api/v1/me/")  # a DRF view
            page = client.get("/beta/", HTTP_ACCEPT="text/html")  # a page
    finally:
        done.set()
        holder.join(timeout=10)
    for response in (enrol, me):
        assert response.status_code == 503
        assert response.json() == {"detail": "人多，请稍后再试", "code": "busy"}
        assert int(response["Retry-After"]) >= 1
    assert page.status_code == 503 and int(page["Retry-After"]) >= 1
    assert "人多，请稍后再试" in page.content.decode()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r for r in caplog.records if r.name == "portal.overload"]
    assert len(warnings) == 3 and all(r.exc_info is None for r in warnings)


def test_an_event_loop_has_its_own_gate() -> None:
    gate = overload.Gate(lambda: 1, lambda: 0.2)

    async def enter() -> bool:
        async with gate.enter():
            return True

    assert asyncio.run(enter()) and asyncio.run(enter())


@pytest.mark.django_db(transaction=True)
def test_a_question_that_waits_too_long_for_its_turn_gets_503_busy(settings, units) -> None:
    from knowledge.api import ask as ask_api

    settings.ASK_WAIT_SECONDS = 1
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    key = Token.objects.create(user=alice).key

    async def scenario() -> HttpResponse:
        # Other questions hold every turn of this loop while alice's arrives.
        async with contextlib.AsyncExitStack() as turns:
            for _ in range(ask_api.PREPARING_AT_ONCE):
                await turns.enter_async_context(ask_api.PREPARING.enter())
            request = AsyncRequestFactory().post(
                "/api/v1/ask/",
                json.dumps({"question": "加班费怎么算？"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {key}",
            )
            response = await ask_api.ask(request)
            assert isinstance(response, HttpResponse)
            return response

    response = async_to_sync(scenario)()
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert json.loads(response.content) == {"detail": "人多，请稍后再试", "code": "busy"}


@pytest.mark.django_db(transaction=True)
def test_one_members_database_error_stays_with_that_member(units) -> None:
    from django.db import DatabaseError
    from django.test import RequestFactory

    from portal.audit import AuditOrigin, client_ip

    now = timezone.now()
    BetaProgramme.objects.create(
        name="AI内测",
        slug="rush",
        capacity=10,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
    )
    members = [people.make_user(f"m{i}", unit=units["factory"], serial=i) for i in range(1, 4)]
    # An address PostgreSQL's inet type refuses (an IPv6 zone), as a wrong proxy setting lets a
    # caller choose it: only that member's enrolment fails.
    bad = AuditOrigin(address="fe80::1%eth0", user_agent="t")
    good = AuditOrigin(address="10.0.0.1", user_agent="t")
    answers = beta.enrol_together(
        [(members[0], "rush", good), (members[1], "rush", bad), (members[2], "rush", good)]
    )
    assert isinstance(answers[1], DatabaseError)
    assert [a.status for a in (answers[0], answers[2])] == ["accepted", "accepted"]  # type: ignore[union-attr]
    assert set(BetaEnrolment.objects.values_list("user__username", flat=True)) == {"m1", "m3"}
    # And the address is never read with its zone in the first place.
    request = RequestFactory().get("/", REMOTE_ADDR="fe80::1%eth0")
    assert client_ip(request) == "fe80::1"


def test_each_batch_takes_in_all_the_members_let_in_meanwhile() -> None:
    """Room for 4 in the gate: one member first, then 11 more while the first one's batch is
    written. When a batch is answered, the members let in meanwhile all join the next one, not
    the waiting ones alone (batches that split so stay split: 1, 3, 1, 3…)."""
    gate = overload.Gate(lambda: 4, lambda: 10.0)
    batches = api.EnrolmentBatches()
    sizes: list[int] = []
    others_in = threading.Event()

    def write(batch: list[tuple[object, str]]) -> list[object]:
        sizes.append(len(batch))
        assert others_in.wait(timeout=10)
        return [f"batch {len(sizes)}"] * len(batch)

    async def member() -> object:
        async with gate.enter():
            return await batches.enrol(AsyncRequestFactory().post("/"), "x")

    async def rush() -> list[object]:
        first = asyncio.ensure_future(member())
        while not sizes:  # its batch is being written
            await asyncio.sleep(0.001)
        others = asyncio.gather(*(member() for _ in range(11)))
        await asyncio.sleep(0.01)  # three of them in the gate, the others waiting
        others_in.set()
        return [await first, *await others]

    with mock.patch.object(api, "_enrol_batch", write):
        answers = async_to_sync(rush)()
    assert sizes == [1, 4, 4, 3]
    assert answers == ["batch 1"] + ["batch 2"] * 4 + ["batch 3"] * 4 + ["batch 4"] * 3
