"""A member on a phone asks for a poster, watches it wait in the queue and run, refines it,
sees the lineage and downloads the labelled file."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from imaging.models import ImageRequest
from imaging.services import generation, render, requests
from tests import people
from tests.e2e.conftest import sign_in
from tests.fakes.server import Behaviour

pytestmark = [pytest.mark.e2e]


def sunrise(width: int = 1024, height: int = 1024) -> bytes:
    """What the fake model "draws": a sky over a factory roofline."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)], fill=(int(250 - 120 * t), int(170 - 90 * t), int(90 + 60 * t))
        )
    draw.ellipse((380, 300, 640, 560), fill=(255, 220, 120))
    draw.rectangle((0, 700, width, height), fill=(60, 60, 80))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_member_requests_a_poster_watches_it_run_refines_and_downloads(
    asgi_server, celery_worker, phone, settings, tmp_path, screenshot_dir, configure, fake_openai
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    units = people.make_units()
    people.make_user("member", unit=units["factory"], serial=7)
    other = people.make_user("bob", unit=units["factory"], serial=2)
    configure(
        "ark", f"{fake_openai.url}/v1", chat=None, image="seedream", use_for=["imaging"], timeout=10
    )
    fake_openai.image_bytes = sunrise()
    fake_openai.default = Behaviour(delay=1.5)
    # Someone else's request keeps the worker's one slot busy: ours must wait its turn.
    ahead = requests.submit(other, prompt="工厂的早晨", purpose="poster")

    phone.goto(f"{asgi_server}/accounts/login/")
    phone.get_by_label("用户名").fill("member")
    phone.get_by_label("密码").fill(people.PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.goto(f"{asgi_server}/images/")
    phone.get_by_label("描述您想要的画面").fill("五一劳动节，工厂的清晨，阳光洒在厂房上")
    phone.get_by_label("用途").select_option("poster")
    phone.get_by_label("标题", exact=True).fill("劳动最光荣")
    phone.get_by_label("日期").fill("2026年5月1日")
    phone.get_by_label("主办单位").fill("示范电子厂工会")
    phone.screenshot(path=str(screenshot_dir / "imaging-form.png"), full_page=True)
    phone.get_by_role("button", name="提交生成").click()

    expect(phone.get_by_test_id("queue-position")).to_contain_text("排队中：第 1 位")
    phone.screenshot(path=str(screenshot_dir / "imaging-queued.png"), full_page=True)
    expect(phone.get_by_test_id("status")).to_have_text("进行中", timeout=20_000)
    expect(phone.get_by_test_id("status")).to_have_text("已完成", timeout=20_000)
    expect(phone.get_by_test_id("result-image")).to_be_visible()
    phone.screenshot(path=str(screenshot_dir / "imaging-result.png"), full_page=True)
    assert ImageRequest.objects.get(pk=ahead.pk).status == "succeeded"

    phone.get_by_label("修改描述（不改则沿用）").fill("五一劳动节，工厂的傍晚，晚霞满天")
    phone.get_by_role("button", name="优化", exact=True).click()
    expect(phone.get_by_test_id("status")).to_have_text("已完成", timeout=20_000)
    lineage = phone.get_by_test_id("lineage")
    expect(lineage).to_contain_text("原图")
    expect(lineage).to_contain_text("优化1")
    expect(lineage).to_contain_text("描述改为“五一劳动节，工厂的傍晚，晚霞满天”；原图未记录种子")
    phone.screenshot(path=str(screenshot_dir / "imaging-refined.png"), full_page=True)

    with phone.expect_download() as download_info:
        phone.get_by_test_id("download").first.click()
    saved = tmp_path / "poster.png"
    download_info.value.save_as(saved)
    data = saved.read_bytes()
    label = render.read_label(data)
    assert label is not None and label["Label"] == "1"
    refined = ImageRequest.objects.get(parent__isnull=False)
    assert label["ProduceID"] == f"img-{refined.pk}-0"
    assert Image.open(io.BytesIO(data)).size == (1024, 1024)


def test_my_images_are_square_thumbnails_whatever_the_image_size(
    asgi_server, phone, settings, tmp_path, screenshot_dir
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    units = people.make_units()
    member = people.make_user("member", unit=units["factory"], serial=7)
    # No image model: the portal designs the posters itself, tall and wide.
    for purpose, size in (("mobile-poster", "720x1280"), ("banner", "1280x720")):
        made = requests.submit(
            member, prompt="五一劳动节", purpose=purpose, size=size, texts={"title": "劳动最光荣"}
        )
        generation.run(made.pk)

    sign_in(phone, asgi_server, "member")
    phone.goto(f"{asgi_server}/images/")

    thumbnails = phone.get_by_test_id("gallery-item").locator("img")
    expect(thumbnails).to_have_count(2)
    for n in range(2):
        box = thumbnails.nth(n).bounding_box()
        assert box is not None and box["width"] > 80
        assert abs(box["width"] - box["height"]) <= 1, f"thumbnail {n} is not square: {box}"
        fit = thumbnails.nth(n).evaluate("img => getComputedStyle(img).objectFit")
        assert fit == "cover"
    phone.screenshot(path=str(screenshot_dir / "imaging-gallery.png"), full_page=True)
