"""Who may use the AI services and who may see or change member data, and who may NOT."""

from __future__ import annotations

import pytest
from django.test import Client

from portal import permissions
from portal.models import BetaProgramme, EnrolmentStatus, Role, User
from portal.services import beta
from tests import people


@pytest.mark.django_db
def test_an_accepted_member_may_use_the_ai_services(open_programme: BetaProgramme, alice) -> None:
    beta.enrol(alice, open_programme)
    assert permissions.may_use_ai(alice)


@pytest.mark.django_db
def test_a_waitlisted_member_may_not_use_the_ai_services_while_the_beta_gates_them(
    open_programme: BetaProgramme, alice, bob, units
) -> None:
    beta.enrol(alice, open_programme)
    beta.enrol(bob, open_programme)
    carol = people.make_user("carol", unit=units["factory"], serial=50)
    assert beta.enrol(carol, open_programme).status == EnrolmentStatus.WAITLISTED
    assert not permissions.may_use_ai(carol)


@pytest.mark.django_db
def test_a_member_not_enrolled_may_not_use_the_ai_services(open_programme, alice) -> None:
    assert not permissions.may_use_ai(alice)


@pytest.mark.django_db
def test_once_no_programme_gates_the_services_every_verified_member_may_use_them(
    open_programme: BetaProgramme, alice, charlie
) -> None:
    open_programme.gates_ai = False
    open_programme.save(update_fields=["gates_ai"])
    assert permissions.may_use_ai(alice)
    assert not permissions.may_use_ai(charlie)  # still not verified


@pytest.mark.django_db
def test_staff_editors_and_admins_may_use_the_services_without_a_place(
    open_programme, sam, eddie, ada
) -> None:
    assert all(permissions.may_use_ai(u) for u in (sam, eddie, ada))


@pytest.mark.django_db
def test_anonymous_and_deactivated_users_may_not_use_the_services(open_programme, alice) -> None:
    from django.contrib.auth.models import AnonymousUser

    beta.enrol(alice, open_programme)
    alice.is_active = False
    assert not permissions.may_use_ai(alice)
    assert not permissions.may_use_ai(AnonymousUser())


@pytest.mark.django_db
def test_staff_see_members_of_their_own_unit_tree_only(sam: User, alice, charlie, olivia) -> None:
    visible = set(permissions.verifiable_members(sam).values_list("username", flat=True))
    assert visible == {"alice", "charlie"}


@pytest.mark.django_db
def test_members_and_editors_see_no_member_data(alice, bob, eddie) -> None:
    assert not permissions.verifiable_members(alice).exists()
    assert not permissions.verifiable_members(eddie).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "eddie"])
def test_members_and_editors_may_not_open_the_verification_page(
    client: Client, who: str, request
) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get("/members/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "sam", "eddie"])
def test_only_admins_may_import_rosters(client: Client, who: str, request) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get("/members/roster/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "sam", "eddie"])
def test_only_admins_may_open_the_admin_site(client: Client, who: str, request) -> None:
    client.force_login(request.getfixturevalue(who))
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admins_may_browse_the_audit_log(client: Client, ada, alice) -> None:
    client.force_login(ada)
    assert client.get("/admin/portal/auditevent/").status_code == 200
    assert client.get("/admin/portal/auditevent/add/").status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login_page(client: Client) -> None:
    for path in ("/me/", "/members/", "/members/roster/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_staff_may_not_verify_other_staff(sam: User, units) -> None:
    colleague = people.make_user(
        "cora", role=Role.STAFF, unit=units["factory"], serial=160, verified=False
    )
    assert not permissions.may_verify(sam, colleague)
