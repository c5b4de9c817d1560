"""Registration with real-name data, and verification by a staff decision."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from portal.models import AuditAction, AuditEvent, MemberProfile, User
from portal.services import accounts
from tests.people import id_number


def form(units: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    data = {
        "username": "newbie",
        "password": "a-long-enough-pass",
        "password_again": "a-long-enough-pass",
        "real_name": "新会员",
        "id_number": id_number(60),
        "member_no": "DG060",
        "union_unit": units["factory"].pk,
        "phone": "13912345678",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_registration_creates_an_unverified_member_with_a_masked_id(
    client: Client, units, caplog
) -> None:
    caplog.set_level("DEBUG")
    response = client.post("/accounts/register/", form(units))
    assert response.status_code == 302
    profile = MemberProfile.objects.get(user__username="newbie")
    assert not profile.is_verified
    assert profile.id_masked == id_number(60)[:4] + "*" * 10 + id_number(60)[-4:]
    assert id_number(60) not in str(list(MemberProfile.objects.values()))
    assert id_number(60) not in caplog.text


@pytest.mark.django_db
def test_registration_refuses_an_invalid_id_number(client: Client, units) -> None:
    bad = id_number(61)[:17] + ("0" if id_number(61)[17] != "0" else "1")
    response = client.post("/accounts/register/", form(units, id_number=bad))
    assert response.status_code == 200
    assert "校验位" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_registration_refuses_an_id_number_already_registered(client: Client, units, alice) -> None:
    response = client.post("/accounts/register/", form(units, id_number=id_number(1)))
    assert "已登记" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_registration_refuses_a_weak_password(client: Client, units) -> None:
    response = client.post(
        "/accounts/register/", form(units, password="12345678", password_again="12345678")
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="newbie").exists()
    assert "密码" in response.content.decode()


@pytest.mark.django_db
def test_registration_refuses_mismatched_passwords(client: Client, units) -> None:
    response = client.post("/accounts/register/", form(units, password_again="something-else"))
    assert "两次输入的密码不一致" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_staff_verify_a_member_of_their_unit_tree_and_it_is_recorded(
    client: Client, sam: User, charlie: User
) -> None:
    client.force_login(sam)
    assert "charlie" in client.get("/members/").content.decode()
    response = client.post(f"/members/{charlie.pk}/verify/", REMOTE_ADDR="10.0.0.8")
    assert response.status_code == 302
    profile = MemberProfile.objects.get(user=charlie)
    assert profile.is_verified and profile.verified_by == sam
    assert profile.verification_source == "staff"
    event = AuditEvent.objects.get(action=AuditAction.VERIFIED)
    assert (event.actor, event.target, event.ip_address) == (sam, "charlie", "10.0.0.8")


@pytest.mark.django_db
def test_staff_may_not_verify_a_member_of_another_unit(
    client: Client, sam: User, olivia: User
) -> None:
    client.force_login(sam)
    assert "olivia" not in client.get("/members/").content.decode()
    assert client.post(f"/members/{olivia.pk}/verify/").status_code == 404
    assert not MemberProfile.objects.get(user=olivia).is_verified


@pytest.mark.django_db
def test_a_member_may_not_verify_anyone(client: Client, alice: User, charlie: User) -> None:
    client.force_login(alice)
    assert client.post(f"/members/{charlie.pk}/verify/").status_code == 403
    assert not MemberProfile.objects.get(user=charlie).is_verified


@pytest.mark.django_db
def test_verifying_twice_keeps_the_first_decision(sam: User, ada: User, charlie: User) -> None:
    accounts.verify_member(sam, charlie)
    accounts.verify_member(ada, charlie)
    assert MemberProfile.objects.get(user=charlie).verified_by == sam
    assert AuditEvent.objects.filter(action=AuditAction.VERIFIED).count() == 1


@pytest.mark.django_db
def test_a_role_change_is_audited_with_before_and_after(ada: User, alice: User) -> None:
    accounts.change_role(ada, alice, "staff")
    alice.refresh_from_db()
    assert alice.role == "staff" and not alice.is_staff
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED)
    assert event.detail == {"from": "member", "to": "staff"} and event.actor == ada


def admin_form(user: User, **changes: str | None) -> dict[str, Any]:
    profile = user.member_profile
    data: dict[str, Any] = {
        "username": user.username,
        "role": user.role,
        "union_unit": user.union_unit_id,
        "is_active": "on",
        "first_name": "",
        "last_name": "",
        "email": "",
        "member_profile-TOTAL_FORMS": "1",
        "member_profile-INITIAL_FORMS": "1",
        "member_profile-MIN_NUM_FORMS": "0",
        "member_profile-MAX_NUM_FORMS": "1",
        "member_profile-0-id": profile.pk,
        "member_profile-0-user": user.pk,
        "member_profile-0-real_name": profile.real_name,
        "member_profile-0-member_no": profile.member_no,
        "member_profile-0-phone": profile.phone,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
def test_a_role_change_through_the_admin_site_is_audited(
    client: Client, ada: User, alice: User
) -> None:
    client.force_login(ada)
    page = client.get(f"/admin/portal/user/{alice.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/portal/user/{alice.pk}/change/", admin_form(alice, role="editor")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    alice.refresh_from_db()
    assert alice.role == "editor"
    assert AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED).detail["to"] == "editor"


@pytest.mark.django_db
def test_a_member_may_not_change_roles(alice: User, bob: User) -> None:
    from portal.errors import NotPermitted

    with pytest.raises(NotPermitted):
        accounts.change_role(alice, bob, "admin")
    bob.refresh_from_db()
    assert bob.role == "member"


@pytest.mark.django_db
def test_deactivating_an_account_in_the_admin_site_is_audited(
    client: Client, ada: User, alice: User
) -> None:
    client.force_login(ada)
    response = client.post(
        f"/admin/portal/user/{alice.pk}/change/", admin_form(alice, is_active=None)
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_STATUS)
    assert (event.actor, event.target, event.detail) == (ada, "alice", {"active": False})


@pytest.mark.django_db
def test_registration_is_no_free_oracle_for_whose_id_number_has_an_account(
    client: Client, units, alice
) -> None:
    probe = "10.9.9.9"
    for attempt in range(accounts.REGISTRATION_TAKEN_LIMIT):
        taken = client.post(
            "/accounts/register/",
            form(units, username=f"probe{attempt}", id_number=id_number(1)),
            REMOTE_ADDR=probe,
        )
        assert "已登记" in taken.content.decode()
    # From that address, even a number nobody holds is not looked up any more.
    refused = client.post(
        "/accounts/register/",
        form(units, id_number=id_number(62), member_no="DG062"),
        REMOTE_ADDR=probe,
    )
    assert "尝试次数过多" in refused.content.decode()
    assert not User.objects.filter(username="newbie").exists()
    # Someone else registers as usual.
    elsewhere = Client().post(
        "/accounts/register/",
        form(units, id_number=id_number(62), member_no="DG062"),
        REMOTE_ADDR="10.1.1.1",
    )
    assert elsewhere.status_code == 302


@pytest.mark.django_db
def test_a_weak_password_is_refused_before_the_id_number_is_looked_up(
    client: Client, units, alice
) -> None:
    response = client.post(
        "/accounts/register/",
        form(units, id_number=id_number(1), password="12345678", password_again="12345678"),
    )
    assert "已登记" not in response.content.decode()
