"""Ask with a reasoning model: the member sees "thinking", never the thoughts."""

from __future__ import annotations

import pytest

from knowledge.models import AskedQuestion, Message, MessageRole
from knowledge.retrieval import search
from portal.ai import metering
from tests.fakes.server import Behaviour
from tests.knowledge.test_ask import OVERTIME, client_for, post, sse

pytestmark = pytest.mark.django_db(transaction=True)

# A thought that names an article and words a member must never see as the answer.
THOUGHT = "先想想：第九十条说的是罚款[2]，不对，应该引用第一条"
REPLY = "每月延长工作时间不得超过三十六小时[1]。"


@pytest.fixture
def thinker(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])
    fake_openai.reasoning = THOUGHT
    fake_openai.reply = REPLY
    fake_openai.think_piece = 4
    yield fake_openai
    metering.flush()


@pytest.mark.parametrize("form", ["reasoning_content", "reasoning", "think"])
def test_the_stream_says_thinking_then_answers_without_the_thoughts(alice, law, thinker, form):
    thinker.reasoning_as = form

    events = sse(post(client_for(alice), question=OVERTIME, stream=True))

    names = [name for name, _ in events]
    assert names[:2] == ["citations", "thinking"] and names.count("thinking") == 1
    assert set(names[2:-1]) == {"delta"} and names[-1] == "done"
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert streamed == done["answer"] == REPLY
    assert "先想想" not in str(events)
    # The citations are read from the answer ([1]), not from the thoughts ([2]).
    assert [c["n"] for c in done["citations"]] == [1]
    stored = Message.objects.get(role=MessageRole.ASSISTANT)
    assert stored.text == REPLY and "think" not in stored.text
    # First-text time is the answer's first word, after the thinking.
    assert stored.timings["first_token_ms"] is not None


def test_a_model_that_only_thinks_gets_the_quoted_law_with_a_notice(alice, law, thinker):
    thinker.reasoning_as = "think"
    thinker.think_closed = False
    thinker.tokens = []

    events = sse(post(client_for(alice), question=OVERTIME, stream=True))

    done = events[-1][1]
    assert "thinking" in [name for name, _ in events]
    assert done["fallback"] is True and done["mode"] == "extractive"
    assert "暂时不可用" in done["answer"] and "三十六小时" in done["answer"]
    assert "先想想" not in done["answer"] and "<think>" not in done["answer"]
    assert not AskedQuestion.objects.get().abstained


def test_a_model_that_thinks_on_past_the_deadline_ends_with_the_quoted_law(
    alice, law, thinker, settings
):
    settings.AI_MAX_ANSWER_SECONDS = 1
    thinker.reasoning_as = "think"
    thinker.think_closed = False
    thinker.reasoning = "想" * 400
    thinker.then(Behaviour(token_delay=0.02))  # 100 chunks of 4: eight seconds of thinking

    data = post(client_for(alice), question=OVERTIME).json()

    assert data["fallback"] is True and "三十六小时" in data["answer"]
    assert "想想想" not in data["answer"]
    assert data["timings"]["total_ms"] < 6000


def test_query_rewriting_searches_the_answer_not_the_thoughts(alice, law, thinker, settings):
    settings.KNOWLEDGE_QUERY_REWRITE = True
    thinker.reasoning_as = "think"
    thinker.reasoning = "工会经费"
    thinker.reply = "用人单位安排延长工作时间的限制"

    result = search("老板让我天天加班合法吗")

    rewritten = {e.target for e in result.analysis.expansions if e.kind == "rewrite"}
    assert "延长" in rewritten or "工作时间" in rewritten
    assert not rewritten & {"工会", "经费", "工会经费", "think"}
