"""Signing in: pages, lock-out, API tokens that expire, idle sessions, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal.models import AuditAction, AuditEvent, User
from tests.people import PASSWORD


def login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.mark.django_db
def test_a_member_signs_in_and_the_login_is_audited(client: Client, alice: User) -> None:
    response = login(client, "alice", PASSWORD, REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="phone")
    assert response.status_code == 302
    assert client.get("/me/").status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.LOGIN)
    assert (event.actor, event.ip_address, event.user_agent) == (alice, "10.1.2.3", "phone")


@pytest.mark.django_db
def test_a_wrong_password_is_refused_in_chinese_and_audited(client: Client, alice: User) -> None:
    response = login(client, "alice", "not-the-password")
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.actor_name == "alice" and event.actor is None


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client: Client, alice: User
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "alice", "wrong").status_code == 200
    locked = login(client, "alice", "wrong")
    assert locked.status_code == 429
    assert "锁定" in locked.content.decode()
    assert login(client, "alice", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=AuditAction.LOCKED_OUT, actor_name="alice").exists()


@pytest.mark.django_db
def test_a_lock_out_of_one_address_does_not_lock_the_member_out_elsewhere(
    client: Client, alice: User
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "wrong", REMOTE_ADDR="10.9.9.9")
    assert login(Client(), "alice", PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 302


@pytest.mark.django_db
def test_the_session_ends_after_the_idle_timeout(client: Client, alice: User) -> None:
    login(client, "alice", PASSWORD)
    assert client.get("/me/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    if settings.SESSION_ENGINE.endswith("cached_db"):
        from django.core.cache import cache

        cache.clear()
    response = client.get("/me/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_each_request_pushes_the_idle_timeout_back(client: Client, alice: User) -> None:
    login(client, "alice", PASSWORD)
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=1))
    client.get("/me/")
    expiry = Session.objects.get().expire_date
    assert expiry > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


@pytest.mark.django_db
def test_token_endpoint_issues_a_token_that_authenticates(api, alice: User) -> None:
    response = api(None).post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = api(None)
    me.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert me.get("/api/v1/me/").json()["username"] == "alice"
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, actor=alice).exists()


@pytest.mark.django_db
def test_token_endpoint_refuses_a_wrong_password(api, alice: User) -> None:
    response = api(None).post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "用户名或密码不正确。", "code": "invalid_credentials"}
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_token_endpoint_names_missing_fields(api) -> None:
    response = api(None).post("/api/v1/auth/token/", {"username": "alice"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


@pytest.mark.django_db
def test_token_endpoint_locks_out_after_repeated_failures(api, alice: User) -> None:
    client = api(None)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/v1/auth/token/", {"username": "alice", "password": "x"}, format="json")
    response = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_an_expired_token_is_refused_with_a_clear_message(api, alice: User) -> None:
    token = Token.objects.create(user=alice)
    Token.objects.filter(pk=token.pk).update(
        created=timezone.now() - settings.API_TOKEN_TTL - timedelta(minutes=1)
    )
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert "过期" in response.json()["detail"]


@pytest.mark.django_db
def test_signing_in_again_replaces_an_expired_token(api, alice: User) -> None:
    old = Token.objects.create(user=alice)
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - settings.API_TOKEN_TTL * 2)
    response = api(None).post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.json()["token"] != old.key


@pytest.mark.django_db
def test_an_unknown_token_is_refused(api) -> None:
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_a_deactivated_user_cannot_get_a_token(api, alice: User) -> None:
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    response = api(None).post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_logout_is_audited(client: Client, alice: User) -> None:
    login(client, "alice", PASSWORD)
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor=alice).exists()
    assert client.get("/me/").status_code == 302


@pytest.mark.django_db
def test_a_deactivated_members_token_is_refused(api, alice: User) -> None:
    token = Token.objects.create(user=alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_a_token_brings_its_member_with_profile_and_unit_in_one_query(alice: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.auth import ExpiringTokenAuthentication

    key = Token.objects.create(user=alice).key
    with CaptureQueriesContext(connection) as queries:
        user, token = ExpiringTokenAuthentication().authenticate_credentials(key)
        assert (user, token.key) == (alice, key)
        assert user.member_profile.user_id == alice.pk and user.union_unit == alice.union_unit
    assert len(queries) == 1


def token_of(api, username: str, password: str) -> str:
    response = api(None).post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200
    return str(response.json()["token"])


@pytest.mark.django_db
def test_changing_the_password_ends_the_api_tokens_issued_before(
    api, client: Client, alice: User
) -> None:
    old = token_of(api, "alice", PASSWORD)
    login(client, "alice", PASSWORD)
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-pass-9",
            "new_password2": "a-brand-new-pass-9",
        },
    )
    assert changed.status_code == 302
    assert client.get("/me/").status_code == 200  # this browser stays signed in
    stolen = api(None)
    stolen.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert stolen.get("/api/v1/me/").status_code == 401
    assert token_of(api, "alice", "a-brand-new-pass-9") != old


@pytest.mark.django_db
def test_a_token_is_revoked_by_whoever_holds_it(api, alice: User, bob: User) -> None:
    mine, theirs = token_of(api, "alice", PASSWORD), token_of(api, "bob", PASSWORD)
    holder = api(None)
    holder.credentials(HTTP_AUTHORIZATION=f"Token {mine}")

    assert holder.delete("/api/v1/auth/token/").status_code == 204

    assert holder.get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED, actor=alice).exists()
    other = api(None)
    other.credentials(HTTP_AUTHORIZATION=f"Token {theirs}")
    assert other.get("/api/v1/me/").status_code == 200  # bob's token lives on
    assert token_of(api, "alice", PASSWORD) != mine  # signing in again issues a new one


@pytest.mark.django_db
def test_revoking_needs_the_token_itself(api, alice: User) -> None:
    token_of(api, "alice", PASSWORD)
    anonymous = api(None).delete("/api/v1/auth/token/")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    forged = api(None)
    forged.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert forged.delete("/api/v1/auth/token/").status_code == 401
    assert Token.objects.filter(user=alice).exists()
