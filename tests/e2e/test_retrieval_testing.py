"""An editor on a phone asks the demo knowledge base a worker's question in 命中测试."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


WAGE_LAW = """# 工资支付测试规定

<!-- INFO END -->

## 第一章 总则

第一条 用人单位应当按时足额支付劳动者工资，不得克扣或者无故拖欠劳动者的工资。

第二条 劳动者有权参加和组织工会。

第三条 用人单位应当依法为劳动者缴纳社会保险费。
"""


def test_editor_sees_ranked_passages_and_the_lexicon_at_work(
    live_server, phone, settings, screenshot_dir, tmp_path
) -> None:
    (tmp_path / "wage.md").write_text(WAGE_LAW, encoding="utf-8")
    settings.KNOWLEDGE_CORPUS_DIR = str(tmp_path)  # the suite must not need ../shared
    settings.DEMO_PASSWORD = "e2e-demo-password"
    call_command("seed_demo")

    phone.goto(f"{live_server.url}/accounts/login/")
    phone.get_by_label("用户名").fill("editor")
    phone.get_by_label("密码").fill("e2e-demo-password")
    phone.get_by_role("button", name="登录").click()

    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("link", name="知识库", exact=True).click()
    expect(phone.get_by_role("heading", name="知识文档")).to_be_visible()
    phone.get_by_role("link", name="命中测试").click()
    phone.get_by_placeholder("例如：公司不给交社保怎么办？").fill("老板拖欠工资不发怎么办")
    phone.get_by_role("button", name="测试").click()

    passages = phone.get_by_test_id("passage")
    expect(passages.first).to_be_visible()
    expect(passages.first).to_contain_text("不得克扣或者无故拖欠劳动者的工资")
    expect(phone.get_by_test_id("analysis")).to_contain_text("老板 → 用人单位")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    phone.screenshot(path=str(screenshot_dir / "retrieval-test-390.png"), full_page=True)
