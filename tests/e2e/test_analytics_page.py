"""An editor on a phone reads the question analytics and answers an unanswered question with
a new FAQ entry in two taps."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from knowledge.retrieval import search
from knowledge.seed import ensure_categories
from knowledge.services import analytics
from tests.knowledge.conftest import make_document
from tests.knowledge.questions import HARDSHIP, HOLIDAY_WORK, WAGES, add_wage_words, ask
from tests.people import PASSWORD

NOW = datetime(2025, 6, 18, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday morning

# The clock ticks on from NOW for the live server and the browser's requests alike.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.time_machine(NOW),
]


def test_editor_reads_the_charts_and_turns_an_unanswered_question_into_an_faq(
    live_server, phone, screenshot_dir, eddie
) -> None:
    categories = ensure_categories()
    law = make_document(eddie, categories)
    add_wage_words()
    for week in range(10):  # ten weeks of questions, fewer unanswered as time goes on
        for i in range(3 + week):
            ask(
                WAGES[i % 3],
                at=NOW - timedelta(weeks=9 - week, hours=i + 1),
                category=categories["rights"],
                abstained=i < 3 - week // 4,
            )
        hardship = categories["hardship-aid"]
        ask(HARDSHIP, at=NOW - timedelta(weeks=9 - week, hours=1), category=hardship)
    ask(HOLIDAY_WORK, at=NOW - timedelta(minutes=5), abstained=True)
    ask("国庆节被叫去加班钱怎么算？", at=NOW - timedelta(minutes=1), abstained=True)
    analytics.refresh_question_analytics()

    phone.goto(f"{live_server.url}/accounts/login/")
    phone.get_by_label("用户名").fill("eddie")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("link", name="知识库", exact=True).click()
    phone.get_by_role("link", name="提问分析").click()

    expect(phone.get_by_role("heading", name="提问分析")).to_be_visible()
    expect(phone.get_by_test_id("chart-weeks")).to_be_visible()
    expect(phone.get_by_test_id("chart-abstention")).to_be_visible()
    expect(phone.get_by_test_id("chart-topics")).to_contain_text(WAGES[0])
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    phone.screenshot(path=str(screenshot_dir / "analytics-390.png"), full_page=True)

    holiday = phone.get_by_test_id("pending-group").first
    expect(holiday.locator(".badge")).to_have_text("2 次")  # both wordings of the question
    holiday.get_by_role("link", name="新建问答").click()
    expect(phone.get_by_label("问题")).to_have_value("国庆节被叫去加班钱怎么算？")
    phone.get_by_label("解答").fill("国庆节是法定休假日，安排加班的，工资不低于平时的三倍。")
    phone.get_by_label("分类").select_option(label="维权服务")
    phone.get_by_label("依据条款").fill("《测试劳动法》第三条")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(screenshot_dir / "analytics-faq-390.png"), full_page=True)
    phone.get_by_role("button", name="发布问答").click()

    expect(phone.get_by_role("status")).to_contain_text("已发布常见问题")
    expect(phone.get_by_test_id("pending-group").first).not_to_contain_text("国庆节")
    answer = search(HOLIDAY_WORK)
    assert not answer.abstained
    assert answer.passages[0].segment_id == law.segments.get(heading="第三条").pk
