"""Who may use the AI services and who may see or change member data, and who may NOT."""

from __future__ import annotations

import pytest
from django.test import Client

from portal import permissions
from portal.errors import NotPermitted
from portal.models import AuditEvent, BetaEnrolment, BetaProgramme, EnrolmentStatus, Role, User
from portal.services import accounts, beta, roster
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


# --- the one entry point: has_perm / require, for every rule ---------------------------------

REFUSED = [
    (permissions.Perm.USE_AI, "alice"),  # verified, but no place while the beta gates the services
    (permissions.Perm.USE_AI, "charlie"),  # not verified
    (permissions.Perm.READ_KNOWLEDGE, "alice"),
    (permissions.Perm.READ_KNOWLEDGE, "charlie"),
    (permissions.Perm.DRAFT_MATERIALS, "alice"),
    (permissions.Perm.MANAGE_TEMPLATES, "alice"),
    (permissions.Perm.MANAGE_TEMPLATES, "sam"),
    (permissions.Perm.VERIFY_MEMBERS, "alice"),
    (permissions.Perm.VERIFY_MEMBERS, "eddie"),
    (permissions.Perm.CURATE_KNOWLEDGE, "alice"),
    (permissions.Perm.CURATE_KNOWLEDGE, "sam"),
    (permissions.Perm.VIEW_ANALYTICS, "alice"),
    (permissions.Perm.VIEW_ANALYTICS, "sam"),
    *(
        (perm, who)
        for perm in (
            permissions.Perm.IMPORT_ROSTER,
            permissions.Perm.MANAGE_PROVIDERS,
            permissions.Perm.MANAGE_BETA,
            permissions.Perm.MANAGE_USERS,
            permissions.Perm.VIEW_AUDIT_LOG,
        )
        for who in ("alice", "sam", "eddie")
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("perm", "who"), REFUSED)
def test_require_refuses_whoever_may_not(open_programme, perm, who: str, request) -> None:
    user = request.getfixturevalue(who)
    assert not permissions.has_perm(user, perm)
    with pytest.raises(NotPermitted) as refused:
        permissions.require(user, perm)
    assert refused.value.status == 403 and refused.value.code == "not_permitted"
    assert refused.value.message == str(permissions.REFUSALS[perm])


@pytest.mark.django_db
@pytest.mark.parametrize("perm", list(permissions.Perm))
def test_nobody_signed_out_or_deactivated_may_do_anything(perm, ada: User) -> None:
    from django.contrib.auth.models import AnonymousUser

    ada.is_active = False
    assert not permissions.has_perm(ada, perm)
    assert not permissions.has_perm(AnonymousUser(), perm)


@pytest.mark.django_db
def test_the_entry_point_applies_the_beta_rule_to_use_ai(
    open_programme: BetaProgramme, alice: User
) -> None:
    assert not permissions.has_perm(alice, permissions.Perm.USE_AI)
    beta.enrol(alice, open_programme)
    assert permissions.require(alice, permissions.Perm.USE_AI) == alice


@pytest.mark.django_db
def test_whoever_may_use_ai_may_read_the_knowledge_base(open_programme, alice: User) -> None:
    beta.enrol(alice, open_programme)
    assert permissions.has_perm(alice, permissions.Perm.READ_KNOWLEDGE)


@pytest.mark.django_db
def test_editors_may_read_the_knowledge_base(open_programme, eddie: User) -> None:
    assert permissions.has_perm(eddie, permissions.Perm.READ_KNOWLEDGE)


@pytest.mark.django_db
def test_a_policy_refusal_is_a_403_page(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/members/roster/")
    assert response.status_code == 403
    assert "没有权限" in response.content.decode()


@pytest.mark.django_db
def test_a_policy_refusal_in_the_api_is_not_permitted(api, alice: User) -> None:
    response = api(alice).get("/api/v1/ai/providers/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": str(permissions.REFUSALS[permissions.Perm.MANAGE_PROVIDERS]),
        "code": "not_permitted",
    }


# --- services refuse a user who may not, whoever calls them ----------------------------------


@pytest.mark.django_db
def test_staff_may_not_create_accounts_through_the_service(sam: User, bob: User) -> None:
    with pytest.raises(NotPermitted):
        accounts.account_created(sam, bob)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_staff_may_not_promote_the_waiting_list(
    open_programme: BetaProgramme, alice, bob, sam: User, units
) -> None:
    beta.enrol(alice, open_programme)
    beta.enrol(bob, open_programme)
    carol = people.make_user("carol", unit=units["factory"], serial=50)
    beta.enrol(carol, open_programme)
    open_programme.capacity = 3
    open_programme.save(update_fields=["capacity"])
    with pytest.raises(NotPermitted):
        beta.promote_waitlist(open_programme, actor=sam)
    assert BetaEnrolment.objects.get(user=carol).status == EnrolmentStatus.WAITLISTED


@pytest.mark.django_db
def test_staff_may_not_import_a_roster_through_the_service(sam: User) -> None:
    rows = roster.parse_roster(
        "username,real_name,id_number,member_no,union_unit,phone\n"
        f"zhang3,张三,{people.id_number(11)},DG001,东莞市总工会/某某公司工会,\n"
    )
    with pytest.raises(NotPermitted):
        roster.import_roster(rows, actor=sam)
    assert not User.objects.filter(username="zhang3").exists()
