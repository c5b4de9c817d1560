"""The ASGI entrance (portal.entrance): an enrolment with an API token skips Django's middleware
chain, yet every answer — places, refusals, who may not, overload — is byte for byte the one
Django's path gives; and a process with too many requests in flight answers 503 busy at once.

Both paths are driven through ASGI, as the web server drives them: `portal.asgi.application`
(the entrance) and `portal.asgi.django_application` (Django alone)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.signals import request_started
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal import api
from portal.asgi import application, django_application, entrance
from portal.models import AuditAction, AuditEvent, BetaEnrolment, BetaProgramme, Role, UnionUnit
from tests import people
from tests.asgi import http_scope

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    through_django: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def comparable(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """All but Retry-After's value (spread at random)."""
        headers = [(k.lower(), "*" if k.lower() == "retry-after" else v) for k, v in self.headers]
        return self.status, sorted(headers), self.body


@pytest.fixture
def django_requests() -> Iterator[list[object]]:
    """The requests that went through Django's handler (it sends request_started)."""
    seen: list[object] = []

    def started(sender: object, **kwargs: object) -> None:
        seen.append(sender)

    request_started.connect(started)
    yield seen
    request_started.disconnect(started)


def call(
    app: Any,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    method: str = "POST",
    started: list[object] | None = None,
    gate_full: bool = False,
) -> Answer:
    """One request through `app`; with `gate_full`, while another enrolment holds the only
    slot of the enrolment gate (ENROL_CONCURRENCY = 1) of the request's own event loop."""
    before = len(started) if started is not None else 0

    async def run() -> Answer:
        scope = _scope(path, method, headers or {})
        if gate_full:
            async with api.ENROL_GATE.enter():
                return await _request(app, scope, body)
        return await _request(app, scope, body)

    answer = async_to_sync(run)()
    answer.through_django = started is not None and len(started) > before
    return answer


def _scope(path: str, method: str, headers: dict[str, str]) -> dict[str, Any]:
    return http_scope(
        method,
        path,
        [(b"user-agent", b"t/1"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        client=("10.1.2.3", 50000),
    )


async def _request(app: Any, scope: dict[str, Any], body: bytes) -> Answer:
    messages: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays until the answer (Django listens)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return Answer(
        status=messages[0]["status"],
        headers=[(k.decode(), v.decode("latin1")) for k, v in messages[0]["headers"]],
        body=b"".join(m.get("body", b"") for m in messages[1:]),
        through_django=False,
    )


def _programme(slug: str, *, capacity: int = 1, closed: bool = False) -> BetaProgramme:
    now = timezone.now().replace(microsecond=0)
    opens, closes = now - timedelta(hours=1), now + timedelta(days=3)
    if closed:
        opens, closes = now - timedelta(days=3), now - timedelta(days=1)
    return BetaProgramme.objects.create(
        name="AI内测", slug=slug, capacity=capacity, opens_at=opens, closes_at=closes
    )


def _token(user: Any, *, age: timedelta = timedelta(0)) -> str:
    token = Token.objects.create(user=user)
    if age:
        Token.objects.filter(pk=token.pk).update(created=timezone.now() - age)
    return f"Token {token.key}"


def _cases(tag: str, unit: UnionUnit, serial: int) -> list[tuple[str, str, dict[str, str]]]:
    """(what, path, headers) of every kind of answer, with this path's own members and
    programmes (`tag`), so both paths meet the same situations."""
    _programme(f"open-{tag}")
    closed = _programme(f"closed-{tag}", closed=True)
    first = people.make_user(f"first-{tag}", unit=unit, serial=serial)
    second = people.make_user(f"second-{tag}", unit=unit, serial=serial + 1)
    unverified = people.make_user(f"unverified-{tag}", unit=unit, serial=serial + 2, verified=False)
    no_profile = people.make_user(f"admin-{tag}", role=Role.ADMIN, unit=unit)
    inactive = people.make_user(f"inactive-{tag}", unit=unit, serial=serial + 3)
    stale = people.make_user(f"stale-{tag}", unit=unit, serial=serial + 4)
    late = people.make_user(f"late-{tag}", unit=unit, serial=serial + 5)
    inactive_token = _token(inactive)
    inactive.is_active = False
    inactive.save()
    first_token = _token(first)
    enrol, closed_enrol = f"/api/v1/beta/open-{tag}/enroll/", f"/api/v1/beta/{closed.slug}/enroll/"
    return [
        ("accepted", enrol, {"authorization": first_token}),
        ("waitlisted", enrol, {"authorization": _token(second)}),
        ("repeat", enrol, {"authorization": first_token}),
        ("unverified", enrol, {"authorization": _token(unverified)}),
        ("not a member", enrol, {"authorization": _token(no_profile)}),
        ("unknown programme", f"/api/v1/beta/nope-{tag}/enroll/", {"authorization": first_token}),
        ("closed programme", closed_enrol, {"authorization": _token(late)}),
        ("unknown token", enrol, {"authorization": "Token 0123456789abcdef"}),
        ("token without key", enrol, {"authorization": "Token"}),
        ("token with spaces", enrol, {"authorization": "Token a b"}),
        ("keyword in lower case", enrol, {"authorization": "token 0123456789abcdef"}),
        ("expired token", enrol, {"authorization": _token(stale, age=timedelta(days=400))}),
        ("inactive member", enrol, {"authorization": inactive_token}),
        ("no token", enrol, {}),
        ("another scheme", enrol, {"authorization": "Bearer 0123456789abcdef"}),
        # A session cookie does not rescue a wrong token.
        ("wrong token with a cookie", enrol, {"authorization": "Token x", "cookie": "sessionid=z"}),
    ]


def test_both_paths_answer_every_case_byte_for_byte_the_same(units, django_requests) -> None:
    answers: dict[str, list[Answer]] = {}
    for tag, app, serial in (("fast", application, 100), ("django", django_application, 200)):
        for what, path, headers in _cases(tag, units["factory"], serial):
            answer = call(app, path, headers, started=django_requests)
            answers.setdefault(what, []).append(answer)

    expected = {
        "accepted": (201, {"status": "accepted", "waitlist_position": None}),
        "waitlisted": (201, {"status": "waitlisted", "waitlist_position": 1}),
        "repeat": (200, {"status": "accepted", "waitlist_position": None}),
        "unverified": (403, "not_verified"),
        "not a member": (403, "not_verified"),
        "unknown programme": (404, "not_found"),
        "closed programme": (403, "closed"),
        "unknown token": (401, "authentication_failed"),
        "token without key": (401, "authentication_failed"),
        "token with spaces": (401, "authentication_failed"),
        "keyword in lower case": (401, "authentication_failed"),
        "expired token": (401, "token_expired"),
        "inactive member": (401, "authentication_failed"),
        "no token": (401, "not_authenticated"),
        "another scheme": (401, "not_authenticated"),
        "wrong token with a cookie": (401, "authentication_failed"),
    }
    assert set(answers) == set(expected)
    for what, (fast, through_django) in answers.items():
        assert fast.comparable() == through_django.comparable(), what
        status, outcome = expected[what]
        assert fast.status == status, what
        if isinstance(outcome, dict):
            assert fast.json == outcome, what
        else:
            assert fast.json["code"] == outcome and fast.json["detail"], what
        if status == 401:
            assert fast.header("WWW-Authenticate") == "Token", what
        # The entrance answered the token requests itself; the others went through Django.
        token_request = what not in ("no token", "another scheme", "wrong token with a cookie")
        assert fast.through_django is not token_request, what
        assert through_django.through_django, what
    assert answers["accepted"][0].header("X-Frame-Options") == "DENY"
    assert answers["accepted"][0].header("Content-Language") == "zh-hans"

    # Nothing counted twice, nothing for those who may not enrol.
    for tag in ("fast", "django"):
        rows = BetaEnrolment.objects.filter(programme__slug=f"open-{tag}").order_by("id")
        assert [(e.user.username, e.status) for e in rows] == [
            (f"first-{tag}", "accepted"),
            (f"second-{tag}", "waitlisted"),
        ]
        assert not BetaEnrolment.objects.filter(programme__slug=f"closed-{tag}").exists()
    fast_event = AuditEvent.objects.get(
        action=AuditAction.BETA_ENROLLED, actor__username="first-fast"
    )
    assert (fast_event.ip_address, fast_event.user_agent) == ("10.1.2.3", "t/1")


def test_a_body_with_nul_is_refused_as_django_refuses_it(units, django_requests) -> None:
    _programme("open")
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    headers = {"authorization": _token(alice), "content-type": "application/json"}
    body = b'{"note": "a\\u0000b"}'
    fast = call(application, "/api/v1/beta/open/enroll/", headers, body, started=django_requests)
    plain = call(django_application, "/api/v1/beta/open/enroll/", headers, body)
    assert fast.comparable() == plain.comparable()
    assert (fast.status, fast.json["code"]) == (400, "nul_character")
    assert not BetaEnrolment.objects.exists()


def test_a_full_gate_is_the_same_503_busy_on_both_paths(settings, units) -> None:
    settings.ENROL_CONCURRENCY, settings.ENROL_WAIT_SECONDS = 1, 1
    _programme("open")
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    headers = {"authorization": _token(alice)}
    fast, plain = (
        call(app, "/api/v1/beta/open/enroll/", headers, gate_full=True)
        for app in (application, django_application)
    )
    assert fast.comparable() == plain.comparable()
    assert (fast.status, fast.json) == (503, {"detail": "人多，请稍后再试", "code": "busy"})
    assert int(fast.header("Retry-After") or 0) >= 1
    assert not BetaEnrolment.objects.exists()


def test_too_many_in_flight_is_503_busy_at_once_before_django(
    settings, units, django_requests
) -> None:
    settings.WEB_MAX_IN_FLIGHT = 0  # every request is one too many
    _programme("open")
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    token = {"authorization": _token(alice)}
    api_answer = call(
        application,
        "/api/v1/beta/open/enroll/",
        token,
        started=django_requests,
    )
    page = call(
        application, "/beta/", {"accept": "text/html"}, method="GET", started=django_requests
    )
    assert (api_answer.status, api_answer.json) == (
        503,
        {"detail": "人多，请稍后再试", "code": "busy"},
    )
    assert int(api_answer.header("Retry-After") or 0) >= 1
    assert page.status == 503 and "人多，请稍后再试" in page.body.decode()
    assert not django_requests and not BetaEnrolment.objects.exists()
    settings.WEB_MAX_IN_FLIGHT = 5
    assert call(application, "/api/v1/beta/open/enroll/", token).status == 201
    assert entrance.in_flight == 0


def test_members_arriving_together_share_a_batch_and_keep_their_order(units) -> None:
    """Enrolments of one event loop go to the database in batches (one transaction each): the
    first member alone, the ones who came meanwhile together, each with the right answer."""
    _programme("open", capacity=2)
    members = [people.make_user(f"m{i}", unit=units["factory"], serial=10 + i) for i in range(5)]
    stranger = people.make_user("stranger", unit=units["factory"], serial=30, verified=False)
    tokens = [_token(user) for user in [*members, stranger]]
    presses = [*tokens, tokens[0]]  # the first member presses twice

    async def together() -> list[Answer]:
        return list(
            await asyncio.gather(
                *(_call_in_loop(application, "/api/v1/beta/open/enroll/", t) for t in presses)
            )
        )

    answers = async_to_sync(together)()
    assert [(a.status, a.json.get("status"), a.json.get("waitlist_position")) for a in answers] == [
        (201, "accepted", None),
        (201, "accepted", None),
        (201, "waitlisted", 1),
        (201, "waitlisted", 2),
        (201, "waitlisted", 3),
        (403, None, None),
        (200, "accepted", None),
    ]
    rows = BetaEnrolment.objects.filter(programme__slug="open").order_by("id")
    assert [e.user.username for e in rows] == ["m0", "m1", "m2", "m3", "m4"]
    programme = BetaProgramme.objects.get(slug="open")
    assert (programme.accepted_count, programme.waitlisted_count) == (2, 3)


async def _call_in_loop(app: Any, path: str, token: str) -> Answer:
    """`call` inside an event loop that is already running (requests side by side)."""
    return await _request(app, _scope(path, "POST", {"authorization": token}), b"")


# --- after review: what the short path must still refuse as Django does ------------------------


def test_a_host_not_allowed_or_a_path_with_a_newline_is_answered_as_django_answers(
    units, django_requests
) -> None:
    _programme("open")
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    token = {"authorization": _token(alice)}
    evil = call(
        application,
        "/api/v1/beta/open/enroll/",
        {**token, "host": "evil.example"},
        started=django_requests,
    )
    assert evil.status == 400 and evil.through_django
    newline = call(application, "/api/v1/beta/open/enroll/\n", token, started=django_requests)
    assert newline.status == 404 and newline.through_django
    assert not BetaEnrolment.objects.exists()


def test_an_enrolment_with_a_body_goes_through_django(units, django_requests) -> None:
    _programme("open")
    alice = people.make_user("alice", unit=units["factory"], serial=1)
    answer = call(
        application,
        "/api/v1/beta/open/enroll/",
        {"authorization": _token(alice), "content-type": "application/json"},
        body=b'{"note": "' + b"x" * 100_000 + b'"}',
        started=django_requests,
    )
    assert answer.status == 201 and answer.through_django


def test_a_request_whose_body_never_arrives_gives_its_place_back(monkeypatch) -> None:
    from portal import entrance as entrance_module

    monkeypatch.setattr(entrance_module, "BODY_SECONDS", 0.2)

    async def scenario() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()  # headers came, the announced body never does
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = _scope("/api/v1/beta/open/enroll/", "POST", {"authorization": "Token x"})
        scope["headers"].append((b"content-length", b"10"))
        async with asyncio.timeout(10):
            await application(scope, receive, send)
        return sent

    assert async_to_sync(scenario)() == []  # a client gone gets no answer
    assert entrance.in_flight == 0
