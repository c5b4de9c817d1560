"""The closed beta: places in order, a waiting list, one place each, only inside the window."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.models import AuditAction, AuditEvent, BetaEnrolment, BetaProgramme, User
from portal.services import beta
from tests import people


@pytest.mark.django_db
def test_members_get_places_then_the_waiting_list_in_order(
    api, open_programme: BetaProgramme, alice: User, bob: User, units
) -> None:
    carol = people.make_user("carol", unit=units["factory"], serial=40)
    dave = people.make_user("dave", unit=units["factory"], serial=41)
    statuses = [
        api(user).post("/api/v1/beta/ai-beta/enroll/").json() for user in (alice, bob, carol, dave)
    ]
    assert [s["status"] for s in statuses] == ["accepted", "accepted", "waitlisted", "waitlisted"]
    assert [s["waitlist_position"] for s in statuses] == [None, None, 1, 2]


@pytest.mark.django_db
def test_enrolling_twice_returns_the_existing_status(
    api, open_programme: BetaProgramme, alice: User
) -> None:
    first = api(alice).post("/api/v1/beta/ai-beta/enroll/")
    again = api(alice).post("/api/v1/beta/ai-beta/enroll/")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "accepted"
    assert BetaEnrolment.objects.filter(user=alice).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.BETA_ENROLLED, actor=alice).count() == 1


@pytest.mark.django_db
def test_an_unverified_member_may_not_enrol(api, open_programme, charlie: User) -> None:
    response = api(charlie).post("/api/v1/beta/ai-beta/enroll/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_verified"
    assert "实名认证" in response.json()["detail"]
    assert not BetaEnrolment.objects.exists()


@pytest.mark.django_db
def test_a_staff_member_without_real_name_data_may_not_enrol(api, open_programme, sam) -> None:
    assert api(sam).post("/api/v1/beta/ai-beta/enroll/").status_code == 403


@pytest.mark.django_db
def test_enrolment_before_the_window_opens_is_refused(api, open_programme, alice) -> None:
    open_programme.opens_at = timezone.now() + timedelta(hours=2)
    open_programme.save(update_fields=["opens_at"])
    response = api(alice).post("/api/v1/beta/ai-beta/enroll/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_open_yet"
    assert "尚未开始" in response.json()["detail"]
    assert not BetaEnrolment.objects.exists()


@pytest.mark.django_db
def test_enrolment_after_the_window_closes_is_refused(api, open_programme, alice) -> None:
    open_programme.closes_at = timezone.now() - timedelta(minutes=1)
    open_programme.opens_at = timezone.now() - timedelta(days=1)
    open_programme.save(update_fields=["opens_at", "closes_at"])
    response = api(alice).post("/api/v1/beta/ai-beta/enroll/")
    assert response.status_code == 403
    assert response.json()["code"] == "closed"
    assert "已截止" in response.json()["detail"]


@pytest.mark.django_db
def test_an_existing_place_is_still_reported_after_the_window_closes(
    api, open_programme, alice
) -> None:
    api(alice).post("/api/v1/beta/ai-beta/enroll/")
    open_programme.closes_at = timezone.now() - timedelta(minutes=1)
    open_programme.opens_at = timezone.now() - timedelta(days=1)
    open_programme.save(update_fields=["opens_at", "closes_at"])
    response = api(alice).post("/api/v1/beta/ai-beta/enroll/")
    assert (response.status_code, response.json()["status"]) == (200, "accepted")


@pytest.mark.django_db
def test_anonymous_clients_may_not_enrol_or_read_the_programme(api, open_programme) -> None:
    assert api(None).post("/api/v1/beta/ai-beta/enroll/").status_code == 401
    assert api(None).get("/api/v1/beta/").status_code == 401
    assert not BetaEnrolment.objects.exists()


@pytest.mark.django_db
def test_an_unknown_programme_is_a_clear_404(api, alice) -> None:
    response = api(alice).post("/api/v1/beta/nope/enroll/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_current_programme_reports_places_and_my_status(api, open_programme, alice, bob) -> None:
    api(bob).post("/api/v1/beta/ai-beta/enroll/")
    data = api(alice).get("/api/v1/beta/").json()
    assert data["slug"] == "ai-beta"
    assert (data["capacity"], data["accepted"], data["places_left"]) == (2, 1, 1)
    assert data["my_status"] is None and data["is_open"] is True
    api(alice).post("/api/v1/beta/ai-beta/enroll/")
    assert api(alice).get("/api/v1/beta/").json()["my_status"] == "accepted"


@pytest.mark.django_db
def test_no_programme_is_a_clear_404(api, alice) -> None:
    response = api(alice).get("/api/v1/beta/")
    assert response.status_code == 404
    assert "没有内测计划" in response.json()["detail"]


@pytest.mark.django_db
def test_the_open_programme_is_current_before_an_upcoming_or_closed_one(db) -> None:
    now = timezone.now()
    BetaProgramme.objects.create(
        name="旧", slug="old", opens_at=now - timedelta(days=9), closes_at=now - timedelta(days=8)
    )
    BetaProgramme.objects.create(
        name="新", slug="next", opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=2)
    )
    current = beta.current_programme(now)
    assert current is not None and current.slug == "next"
    BetaProgramme.objects.create(
        name="开", slug="open", opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=1)
    )
    current = beta.current_programme(now)
    assert current is not None and current.slug == "open"


@pytest.mark.django_db(transaction=True)
def test_simultaneous_enrolments_never_overfill_the_programme(units) -> None:
    now = timezone.now()
    programme = BetaProgramme.objects.create(
        name="抢名额",
        slug="race",
        capacity=5,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=1),
    )
    members = [people.make_user(f"m{i}", unit=units["factory"], serial=100 + i) for i in range(24)]
    start = threading.Barrier(len(members) + len(members) // 2)
    failures: list[BaseException] = []

    def enrol(user: User) -> None:
        try:
            start.wait(timeout=30)
            beta.enrol(user, programme)
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connection.close()

    # Half the members press the button twice at the same moment.
    threads = [threading.Thread(target=enrol, args=(u,)) for u in members + members[::2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    statuses = list(
        BetaEnrolment.objects.filter(programme=programme).values_list("status", flat=True)
    )
    assert len(statuses) == len(members)
    assert statuses.count("accepted") == 5
    assert statuses.count("waitlisted") == len(members) - 5


@pytest.mark.django_db
def test_raising_the_capacity_promotes_the_longest_waiting_first(
    open_programme: BetaProgramme, alice: User, bob: User, units
) -> None:
    waiting = [people.make_user(f"w{i}", unit=units["factory"], serial=140 + i) for i in range(3)]
    for user in (alice, bob, *waiting):
        beta.enrol(user, open_programme)
    open_programme.capacity = 4
    open_programme.save(update_fields=["capacity"])

    promoted = beta.promote_waitlist(open_programme)

    assert [e.user.username for e in promoted] == ["w0", "w1"]
    assert BetaEnrolment.objects.get(user=waiting[2]).status == "waitlisted"
    assert beta.programme_state(open_programme, waiting[2]).my_waitlist_position == 1
    assert AuditEvent.objects.filter(action=AuditAction.BETA_PROMOTED).count() == 2


@pytest.mark.django_db
def test_a_newcomer_never_jumps_the_waiting_list(
    open_programme: BetaProgramme, alice: User, bob: User, units
) -> None:
    carol = people.make_user("carol", unit=units["factory"], serial=150)
    dave = people.make_user("dave", unit=units["factory"], serial=151)
    for user in (alice, bob, carol):
        beta.enrol(user, open_programme)
    BetaProgramme.objects.filter(pk=open_programme.pk).update(capacity=3)  # not yet promoted

    assert beta.enrol(dave, open_programme).status == "waitlisted"
    assert beta.promote_waitlist(open_programme)[0].user == carol


@pytest.mark.django_db
def test_a_capacity_change_in_the_admin_site_promotes_waiting_members(
    client, ada: User, open_programme: BetaProgramme, alice: User, bob: User, units
) -> None:
    carol = people.make_user("carol", unit=units["factory"], serial=152)
    for user in (alice, bob, carol):
        beta.enrol(user, open_programme)
    client.force_login(ada)
    local = timezone.localtime
    response = client.post(
        f"/admin/portal/betaprogramme/{open_programme.pk}/change/",
        {
            "name": open_programme.name,
            "slug": open_programme.slug,
            "description": "",
            "capacity": "3",
            "opens_at_0": local(open_programme.opens_at).strftime("%Y-%m-%d"),
            "opens_at_1": local(open_programme.opens_at).strftime("%H:%M:%S"),
            "closes_at_0": local(open_programme.closes_at).strftime("%Y-%m-%d"),
            "closes_at_1": local(open_programme.closes_at).strftime("%H:%M:%S"),
            "gates_ai": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert BetaEnrolment.objects.get(user=carol).status == "accepted"
