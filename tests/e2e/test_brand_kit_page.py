"""Staff on a phone set their unit's brand kit; a member's poster then carries it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from imaging.models import BrandKit
from imaging.services import brands
from portal.models import Role
from tests import people
from tests.imaging.conftest import png

pytestmark = [pytest.mark.e2e]


def test_staff_set_the_brand_kit_that_members_posters_carry(
    live_server, phone, settings, tmp_path, screenshot_dir
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    units = people.make_units()
    people.make_user("sam", role=Role.STAFF, unit=units["town"])
    member = people.make_user("alice", unit=units["factory"], serial=1)
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(200, 200, (200, 16, 46)))

    phone.goto(f"{live_server.url}/accounts/login/")
    phone.get_by_label("用户名").fill("sam")
    phone.get_by_label("密码").fill(people.PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.goto(f"{live_server.url}/images/brand/")
    phone.get_by_label("主办单位署名").fill("虎门镇总工会")
    phone.get_by_label("颜色 1").fill("#C8102E")
    phone.get_by_label("标志（PNG、JPEG 或 WebP，不超过2MB）").set_input_files(str(logo))
    phone.get_by_role("button", name="保存").click()

    expect(phone.get_by_role("status")).to_contain_text("品牌套件已保存")
    phone.screenshot(path=str(screenshot_dir / "imaging-brand-kit.png"), full_page=True)
    kit = BrandKit.objects.get(unit=units["town"])
    assert kit.colours == ["#C8102E"] and kit.logo
    carried = brands.brand_for(member)
    assert carried is not None and carried.name == "虎门镇总工会" and carried.logo
