"""Members imported from the roster activate their account with their ID, then sign in."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from portal.models import AuditAction, AuditEvent, User
from tests.people import id_number

HEADER = "username,real_name,id_number,member_no,union_unit,phone\n"


@pytest.fixture
def rostered(tmp_path: Path, db: None) -> User:
    path = tmp_path / "r.csv"
    path.write_text(HEADER + f"zhao6,赵六,{id_number(80)},ZL080,东莞市总工会/厚街镇总工会,\n")
    call_command("import_roster", str(path))
    return User.objects.get(username="zhao6")


def activate(client: Client, **overrides: str):
    data = {
        "member_no": "ZL080",
        "id_number": id_number(80),
        "password": "my-own-long-password",
        "password_again": "my-own-long-password",
    }
    data.update(overrides)
    return client.post("/accounts/activate/", data, follow=True)


def signs_in(client: Client, username: str, password: str) -> bool:
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def test_a_rostered_member_activates_and_signs_in(client: Client, rostered: User) -> None:
    page = activate(client).content.decode()
    assert "账户已激活" in page and "zhao6" in page
    assert signs_in(client, "zhao6", "my-own-long-password")
    assert AuditEvent.objects.filter(action=AuditAction.ACTIVATED, actor=rostered).exists()


def test_a_wrong_id_number_does_not_activate(client: Client, rostered: User) -> None:
    page = activate(client, id_number=id_number(81)).content.decode()
    assert "不匹配" in page
    rostered.refresh_from_db()
    assert not rostered.has_usable_password()
    assert AuditEvent.objects.filter(action=AuditAction.ACTIVATION_FAILED).count() == 1


def test_an_unknown_membership_number_gets_the_same_message(client: Client, rostered) -> None:
    assert "不匹配" in activate(client, member_no="NOPE").content.decode()


def test_an_activated_account_cannot_be_activated_again(client: Client, rostered: User) -> None:
    activate(client)
    page = activate(
        client, password="another-long-password", password_again="another-long-password"
    )
    assert "已经激活" in page.content.decode()
    assert signs_in(Client(), "zhao6", "my-own-long-password")


def test_repeated_failures_block_activation_for_a_while(client: Client, rostered: User) -> None:
    for _ in range(5):
        activate(client, id_number=id_number(82))
    page = activate(client).content.decode()
    assert "尝试次数过多" in page
    rostered.refresh_from_db()
    assert not rostered.has_usable_password()


def test_a_malformed_id_number_is_explained(client: Client, rostered) -> None:
    assert "18位" in activate(client, id_number="12345").content.decode()


def test_a_weak_password_is_refused(client: Client, rostered: User) -> None:
    activate(client, password="1234567890", password_again="1234567890")
    rostered.refresh_from_db()
    assert not rostered.has_usable_password()


def test_a_self_registered_member_with_a_password_cannot_activate(client: Client, alice) -> None:
    page = activate(
        client, member_no=alice.member_profile.member_no, id_number=id_number(1)
    ).content.decode()
    assert "已经激活" in page
