"""Staff on a phone pick 活动方案, fill the form, watch the sections arrive, edit one,
regenerate another, and export (once writer.export is there)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.fakes.server import Behaviour

pytestmark = [pytest.mark.e2e]

SHOTS = Path("/work/shots")
REPLY = "为丰富职工业余文化生活，增强凝聚力，工会组织本次春游活动，请各部门认真做好组织工作[1]。"


def sign_in(phone, server: str) -> None:
    phone.goto(f"{server}/accounts/login/")
    phone.get_by_label("用户名").fill("staff")
    phone.get_by_label("密码").fill("e2e-demo-password")
    phone.get_by_role("button", name="登录").click()


def start_outing(phone, server: str, shots: Path | None = None) -> None:
    phone.goto(f"{server}/writer/")
    phone.locator('[data-template="spring-autumn-outing"]').click()
    expect(phone.get_by_label("工会名称")).to_have_value("虎门镇总工会")
    phone.get_by_label("年度").fill("2026")
    phone.get_by_label("活动类型").select_option("春游")
    phone.get_by_label("目的地").fill("松山湖")
    phone.get_by_label("出发日期").fill("2026-04-18")
    phone.get_by_label("天数").fill("1")
    phone.get_by_label("参加人数").fill("120")
    phone.get_by_label("人均标准（元）").fill("200")
    phone.get_by_label("联系人").fill("王建国")
    phone.get_by_label("活动安排要点").fill("参观科技馆，集体徒步。")
    phone.get_by_label("成文日期").fill("2026-03-20")
    if shots:
        phone.screenshot(path=str(shots / "writer-form.png"), full_page=True)
    phone.get_by_role("button", name="开始起草").click()


@pytest.fixture
def demo(settings, tmp_path, configure, fake_openai):
    settings.KNOWLEDGE_CORPUS_DIR = str(tmp_path)
    settings.DEMO_PASSWORD = "e2e-demo-password"
    call_command("seed_demo")
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["writer"], timeout=5.0)
    fake_openai.reply = REPLY
    fake_openai.default = Behaviour(token_delay=0.08)  # about 3.5 s per section
    return fake_openai


def test_staff_drafts_an_activity_plan_watches_it_arrive_edits_and_regenerates(
    asgi_server, celery_threads_worker, phone, demo, screenshot_dir
) -> None:
    sign_in(phone, asgi_server)
    phone.goto(f"{asgi_server}/writer/")
    phone.screenshot(path=str(screenshot_dir / "writer-home.png"), full_page=True)
    start_outing(phone, asgi_server, screenshot_dir)
    expect(phone.locator("h1.draft-title")).to_have_text(
        "虎门镇总工会关于组织开展2026年职工春游活动的方案"
    )
    writing = phone.locator('[data-status="writing"] [data-body]').first
    expect(writing).to_contain_text("为丰富", timeout=20_000)
    expect(phone.locator("[data-export='docx']")).to_have_class("button disabled")
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(screenshot_dir / "writer-draft-arriving.png"), full_page=True)
    shutil.copy(screenshot_dir / "writer-draft-arriving.png", SHOTS / "writer-draft-arriving.png")
    expect(phone.locator("[data-progress]")).to_have_text("6/6 段完成", timeout=40_000)
    expect(phone.locator('[data-status="done"]')).to_have_count(6)
    cited = phone.locator(".citations a").first
    expect(cited).to_have_attribute("href", re.compile(r"^/ask/documents/\d+/#seg-\d+$"))

    second = phone.locator("#section-2")
    second.get_by_role("button", name="编辑").click()
    second.locator("[data-text]").fill("时间：2026年4月18日。\n\n地点：**松山湖**。")
    second.get_by_role("button", name="预览").click()
    expect(second.locator("[data-preview-out] strong")).to_have_text("松山湖")
    second.get_by_role("button", name="保存").click()
    expect(second.locator("[data-body]")).to_contain_text("地点：松山湖。")
    expect(second.locator("[data-editor]")).to_be_hidden()

    third = phone.locator("#section-3")
    third.get_by_role("button", name="重新生成").click()
    third.get_by_label("补充要求（可不填）").fill("优先安排一线职工")
    third.get_by_role("button", name="重新生成本段").click()
    expect(third.locator("[data-status-label]")).to_have_text("正在写作…", timeout=10_000)
    expect(third.locator("[data-status-label]")).to_have_text("已完成", timeout=30_000)
    sent = json.dumps([r.json() for r in demo.hits("/v1/chat/completions")], ensure_ascii=False)
    assert "补充要求：优先安排一线职工" in sent
    phone.get_by_role("link", name="修订记录").nth(1).click()
    expect(phone.locator(".revision-list li")).to_have_count(2)
    phone.screenshot(path=str(screenshot_dir / "writer-revisions.png"), full_page=True)


def test_staff_exports_the_draft_as_docx_and_pdf(
    asgi_server, celery_threads_worker, phone, demo, tmp_path
) -> None:
    demo.default = Behaviour()
    sign_in(phone, asgi_server)
    start_outing(phone, asgi_server)
    expect(phone.locator("[data-progress]")).to_have_text("6/6 段完成", timeout=40_000)
    with phone.expect_download() as download:
        phone.locator("[data-export='docx']").click()
    assert download.value.suggested_filename.endswith(".docx")
    if importlib_present("writer.export.pdf"):
        with phone.expect_download(timeout=90_000) as pdf:
            phone.locator("[data-export='pdf']").click()
        assert pdf.value.suggested_filename.endswith(".pdf")


def importlib_present(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
