"""Reasoning models: the thinking, in each of its forms, never becomes the answer."""

from __future__ import annotations

import asyncio

import pytest

from portal import ai
from portal.ai import metering, sse
from portal.ai.models import Outcome, Usage
from portal.ai.reasoning import Piece, ThinkSplitter, split_content

QUESTION = [{"role": "user", "content": "加班费怎么算？"}]
THOUGHT = "用户问加班费，先想想劳动法第四十四条"
ANSWER = ["按", "百分之一百五十", "支付。"]
FORMS = ["reasoning_content", "reasoning", "think"]


def _split(chunks: list[str]) -> Piece:
    splitter = ThinkSplitter()
    pieces = [splitter.feed(chunk) for chunk in chunks] + [splitter.end()]
    return Piece("".join(p.text for p in pieces), "".join(p.reasoning for p in pieces))


@pytest.mark.parametrize(
    "chunks",
    [
        ["<think>想一想</think>\n\n答案"],
        ["<th", "ink>想", "一想</th", "ink>", "\n", "答案"],
        ["\n<", "t", "h", "i", "n", "k", ">", "想一想", "<", "/", "think", ">答", "案"],
    ],
)
def test_a_think_block_is_thinking_however_its_tags_are_split(chunks):
    assert _split(chunks) == Piece("答案", "想一想")


def test_a_think_block_that_never_ends_leaves_no_answer():
    assert _split(["<think>想了又想", "，还在想</thi"]) == Piece("", "想了又想，还在想</thi")


@pytest.mark.parametrize(
    "content", ["答案里提到 <think> 标签", "<thought>不是标签", "<", "  普通回答"]
)
def test_text_that_only_looks_like_a_tag_is_the_answer(content):
    assert split_content(content) == Piece(content, "")


@pytest.fixture
def thinker(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.reasoning = THOUGHT
    fake_openai.tokens = list(ANSWER)
    return fake_openai


@pytest.mark.parametrize("form", FORMS)
def test_a_whole_answer_keeps_its_thinking_apart(thinker, form, alice):
    thinker.reasoning_as = form

    result = ai.chat(QUESTION, feature="ask", user=alice)

    assert result.text == "".join(ANSWER)
    assert result.reasoning == THOUGHT
    assert Usage.objects.get().tokens_out == len(ANSWER)


@pytest.mark.parametrize("form", FORMS)
def test_a_stream_yields_only_the_answer_and_times_its_first_word(thinker, form, alice):
    thinker.reasoning_as = form
    thinker.think_piece = 2  # "<t", "hi", "nk", ">…": the tags cut in pieces

    stream = ai.stream_chat(QUESTION, feature="ask", user=alice)
    pieces = list(stream)

    assert pieces == ANSWER
    assert stream.result is not None and stream.result.reasoning == THOUGHT
    row = Usage.objects.get()
    assert row.outcome == Outcome.OK and row.tokens_out == len(ANSWER)
    assert row.ttft_ms is not None


@pytest.mark.parametrize("form", FORMS)
def test_deltas_tell_thinking_from_answer(thinker, form):
    thinker.reasoning_as = form

    pieces = list(ai.stream_chat(QUESTION, feature="ask").deltas())

    assert "".join(p.reasoning for p in pieces) == THOUGHT
    assert "".join(p.text for p in pieces) == "".join(ANSWER)
    # All the thinking comes before the first word of the answer.
    first_text = next(i for i, p in enumerate(pieces) if p.text)
    assert not any(p.reasoning for p in pieces[first_text:])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("form", FORMS)
def test_the_async_stream_and_answer_keep_thinking_apart(thinker, form):
    thinker.reasoning_as = form

    async def consume() -> tuple[list[str], ai.ChatResult | None, ai.ChatResult]:
        stream = ai.astream_chat(QUESTION, feature="ask")
        try:
            pieces = [piece async for piece in stream]
            return pieces, stream.result, await ai.achat(QUESTION, feature="ask")
        finally:
            await sse.aclose()

    pieces, streamed, whole = asyncio.run(consume())

    metering.flush()
    assert pieces == ANSWER
    assert streamed is not None and streamed.reasoning == THOUGHT
    assert whole.text == "".join(ANSWER) and whole.reasoning == THOUGHT
    assert Usage.objects.filter(outcome=Outcome.OK).count() == 2


def test_a_model_that_only_thinks_gives_an_empty_answer_and_is_metered(thinker):
    thinker.reasoning_as = "think"
    thinker.think_closed = False
    thinker.tokens = []

    stream = ai.stream_chat(QUESTION, feature="ask")
    pieces = list(stream)
    whole = ai.chat(QUESTION, feature="ask")

    assert pieces == []
    assert stream.result is not None and stream.result.text == ""
    assert stream.result.reasoning == THOUGHT
    assert whole.text == "" and whole.reasoning == THOUGHT
    rows = list(Usage.objects.order_by("id"))
    assert [r.outcome for r in rows] == [Outcome.OK, Outcome.OK]
    assert rows[0].ttft_ms is None  # no first word was ever said


def test_a_reader_who_leaves_while_the_model_thinks_is_metered_as_stopped(thinker):
    thinker.reasoning_as = "reasoning"

    pieces = ai.stream_chat(QUESTION, feature="ask").deltas()
    assert next(pieces).reasoning
    pieces.close()

    assert Usage.objects.get().outcome == Outcome.CANCELLED


def test_a_block_the_prompt_opened_is_thinking_for_a_provider_that_says_so(configure, fake_openai):
    configure("vllm", f"{fake_openai.url}/v1", options={"thinks_open": True})
    fake_openai.reasoning_as = "think"
    fake_openai.think_opened = True  # the content starts inside the block: only </think>
    fake_openai.reasoning = THOUGHT
    fake_openai.tokens = list(ANSWER)

    stream = ai.stream_chat(QUESTION, feature="ask")
    pieces = list(stream)
    whole = ai.chat(QUESTION, feature="ask")

    assert pieces == ANSWER and stream.result is not None
    assert stream.result.reasoning == THOUGHT
    assert (whole.text, whole.reasoning) == ("".join(ANSWER), THOUGHT)


def test_an_opened_block_splitter_still_reads_an_answer_without_thinking():
    splitter = ThinkSplitter(opened=True)
    assert splitter.feed("想") == Piece(reasoning="想")
    assert splitter.feed("</th") == Piece()
    assert splitter.feed("ink>答") == Piece("答", "")
    assert splitter.end() == Piece()
