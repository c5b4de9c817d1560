"""The admin speaks Chinese throughout: our own models, and django-axes' (locking out repeated
failed logins), which ships no Chinese of its own (portal/locale, portal.lockout.AxesConfig)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client

from portal.models import User


@pytest.mark.django_db
def test_the_admin_names_the_login_lockout_and_its_columns_in_chinese(
    client: Client, ada: User, alice: User
) -> None:
    AccessAttempt.objects.create(
        user_agent="Mozilla/5.0",
        ip_address="10.0.0.8",
        username="alice",
        http_accept="*/*",
        path_info="/accounts/login/",
        get_data="",
        post_data="",
        failures_since_start=2,
    )
    client.force_login(ada)
    index = client.get("/admin/").content.decode()
    assert "登录防护" in index and "登录尝试" in index and "登录记录" in index
    assert "Access attempts" not in index and "Axes" not in index
    attempts = client.get("/admin/axes/accessattempt/").content.decode()
    assert "尝试时间" in attempts and "IP 地址" in attempts and "Attempt Time" not in attempts
    users = client.get("/admin/portal/user/").content.decode()
    assert "姓名" in users and "Display name" not in users and "alice的真名" in users
