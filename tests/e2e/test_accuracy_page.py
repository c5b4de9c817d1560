"""An editor imports a question set, runs it twice around a change to the knowledge base, and
reads the figures and what changed, on a phone and on a desktop screen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from knowledge.models import DocumentStatus
from knowledge.seed import ensure_categories
from knowledge.services import curation
from tests.knowledge.conftest import make_document
from tests.knowledge.test_accuracy import QUESTIONS
from tests.people import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/work/shots")


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("用户名").fill("eddie")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def run_and_wait(page: Page) -> None:
    page.get_by_role("button", name="运行测试").click()
    # The page polls the run's progress and reloads itself with the figures when it ends.
    expect(page.get_by_test_id("progress")).to_have_count(0, timeout=60_000)
    expect(page.get_by_test_id("figures")).to_be_visible()


def test_editor_measures_accuracy_before_and_after_a_change(
    live_server, celery_worker, browser, phone, screenshot_dir, tmp_path, eddie
) -> None:
    law = make_document(eddie, ensure_categories())
    questions = tmp_path / "本会问题.jsonl"
    questions.write_text(QUESTIONS, encoding="utf-8")

    sign_in(phone, live_server.url)
    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("link", name="知识库", exact=True).click()
    phone.get_by_role("link", name="命中率").click()
    phone.get_by_label("新问题集名称").fill("本会常见问题")
    phone.get_by_label("JSONL 文件").set_input_files(str(questions))
    phone.get_by_role("button", name="导入").click()
    expect(phone.get_by_role("status")).to_contain_text("已导入 3 个问题")

    run_and_wait(phone)
    expect(phone.get_by_test_id("figures")).to_contain_text("100.0%")
    curation.set_status(law, DocumentStatus.DRAFT, author=eddie)  # the law is unpublished
    run_and_wait(phone)

    expect(phone.get_by_test_id("change")).to_have_count(2)
    expect(phone.get_by_test_id("changes")).to_contain_text("变差")
    expect(phone.get_by_test_id("run")).to_have_count(2)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    phone.screenshot(path=str(screenshot_dir / "accuracy-390.png"), full_page=True)
    set_page = phone.url
    phone.get_by_role("link", name="全部问题集").click()
    expect(phone.get_by_test_id("question-set")).to_contain_text("本会常见问题")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(screenshot_dir / "accuracy-sets-390.png"), full_page=True)

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desktop.new_page()
    sign_in(page, live_server.url)
    page.goto(set_page)
    expect(page.get_by_test_id("figures")).to_contain_text("0.0%")
    page.screenshot(path=str(screenshot_dir / "accuracy-1280.png"), full_page=True)
    desktop.close()
    if SHOTS.is_dir():  # where the report's screenshots are collected
        for name in ("accuracy-390.png", "accuracy-sets-390.png", "accuracy-1280.png"):
            shutil.copy(screenshot_dir / name, SHOTS / name)
