"""A member signs in on a phone, opens the beta page, and sees the places left and their status."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_member_sees_places_left_and_their_status(
    live_server, phone, settings, screenshot_dir, tmp_path
) -> None:
    settings.KNOWLEDGE_CORPUS_DIR = str(tmp_path)
    settings.DEMO_PASSWORD = "e2e-demo-password"
    call_command("seed_demo")

    phone.goto(f"{live_server.url}/")
    expect(phone.get_by_role("heading", name="智能对话")).to_be_visible()
    phone.screenshot(path=str(screenshot_dir / "home-390.png"), full_page=True)

    # On a phone the home page itself leads to signing in (the menu is folded away).
    phone.get_by_test_id("sign-in").get_by_role("link", name="登录", exact=True).click()
    phone.get_by_label("用户名").fill("member")
    phone.get_by_label("密码").fill("e2e-demo-password")
    phone.get_by_role("button", name="登录").click()
    expect(phone.get_by_text("李晓红，您好！")).to_be_visible()

    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("link", name="内测报名", exact=True).click()
    expect(phone.get_by_test_id("places-left")).to_contain_text("99")
    expect(phone.get_by_test_id("places-left")).to_contain_text("/ 100")
    expect(phone.get_by_test_id("my-status")).to_have_text("已获得内测资格")
    phone.screenshot(path=str(screenshot_dir / "beta-390.png"), full_page=True)
