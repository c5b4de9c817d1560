"""A member asks a reasoning model: the page says 思考中… while it thinks and never shows the
thoughts, then the answer streams in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from knowledge.seed import ensure_categories
from tests.fakes.server import Behaviour
from tests.knowledge.conftest import make_document
from tests.people import PASSWORD

pytestmark = [pytest.mark.e2e]

REPLY = "每月延长工作时间不得超过三十六小时[1]。"


def test_the_page_says_thinking_and_never_shows_the_thoughts(
    asgi_server, phone, screenshot_dir, configure, fake_openai, alice, eddie
) -> None:
    make_document(eddie, ensure_categories())
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])
    fake_openai.reasoning_as = "think"  # <think>…</think> in the content, tags split
    fake_openai.reasoning = "让我想想" * 12
    fake_openai.think_piece = 2
    fake_openai.reply = REPLY
    fake_openai.default = Behaviour(token_delay=0.05)  # about 1.3 s of thinking

    phone.goto(f"{asgi_server}/accounts/login/")
    phone.get_by_label("用户名").fill("alice")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.goto(f"{asgi_server}/ask/")
    # Every text the answer shows on its way to the end.
    phone.evaluate(
        """() => {
        window.answerTexts = [];
        new MutationObserver(() => {
          const text = document.querySelector('[data-answer] [data-answer-text]');
          if (text) window.answerTexts.push(text.textContent);
        }).observe(document.querySelector('[data-thread]'),
                   {subtree: true, childList: true, characterData: true});
    }"""
    )
    phone.locator("[data-ask-form] textarea").fill("延长工作时间每月不得超过多少小时？")
    phone.get_by_role("button", name="发送").click()

    answer = phone.locator("[data-answer]").last
    expect(answer.locator("[data-answer-text]")).to_have_text("思考中…")
    phone.screenshot(path=str(screenshot_dir / "ask-thinking-390.png"))
    expect(answer.locator("[data-answer-text]")).to_contain_text("三十六小时")
    expect(answer).not_to_have_class("streaming")
    shown = phone.evaluate("window.answerTexts")
    assert "思考中…" in shown
    assert not [t for t in shown if "想想" in t or "think" in t], shown
