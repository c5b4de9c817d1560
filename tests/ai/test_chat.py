"""Chat through the routed models: answers, streams, DeepSeek's reasoning, metering."""

from __future__ import annotations

import asyncio

import pytest

from portal import ai
from portal.ai import metering, sse
from portal.ai.models import Outcome, Usage
from tests.fakes.fixtures import API_KEY
from tests.fakes.server import Behaviour

QUESTION = [{"role": "user", "content": "加班费怎么算？"}]


def test_a_complete_answer_names_its_model_and_counts_tokens(configure, fake_openai, alice):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.api_key = API_KEY

    result = ai.chat(QUESTION, feature="ask", user=alice)

    assert result.text == fake_openai.reply
    assert (result.provider, result.model) == ("deepseek", "fake-chat")
    assert result.usage.tokens_out == len(fake_openai.reply)
    row = Usage.objects.get()
    assert (row.user, row.feature, row.provider_name, row.model_name) == (
        alice,
        "ask",
        "deepseek",
        "fake-chat",
    )
    assert row.outcome == Outcome.OK and row.tokens_in > 0 and row.tokens_out == len(result.text)
    assert not row.streamed and row.ttft_ms is None


def test_a_stream_yields_the_answer_piece_by_piece_and_records_time_to_first_token(
    configure, fake_openai, alice
):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.tokens = ["依法", "支付", "加班费。"]

    stream = ai.stream_chat(QUESTION, feature="ask", user=alice)
    pieces = list(stream)

    assert pieces == ["依法", "支付", "加班费。"]
    assert stream.result is not None and stream.result.text == "依法支付加班费。"
    row = Usage.objects.get()
    assert row.streamed and row.outcome == Outcome.OK
    assert row.ttft_ms is not None and row.tokens_out == 3
    assert fake_openai.requests[0].json()["stream_options"] == {"include_usage": True}


def test_deepseek_reasoning_stays_out_of_the_answer_and_out_of_the_next_turn(
    configure, fake_openai
):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.reasoning = "先想想劳动法第四十四条"
    fake_openai.tokens = ["按", "百分之一百五十支付。"]

    pieces = list(ai.stream_chat(QUESTION, feature="ask"))
    answer = ai.chat(
        [
            *QUESTION,
            {"role": "assistant", "content": "".join(pieces), "reasoning_content": "先想想"},
            {"role": "user", "content": "周末呢？"},
        ],
        feature="ask",
    )

    assert "".join(pieces) == "按百分之一百五十支付。" and "劳动法" not in "".join(pieces)
    assert "劳动法" not in answer.text
    sent = fake_openai.requests[-1].json()["messages"]
    assert all(set(message) == {"role", "content"} for message in sent)


def test_the_model_limit_caps_what_a_caller_asks_for(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")
    from portal.ai.models import AIModel

    AIModel.objects.update(max_output_tokens=300)

    ai.chat(QUESTION, feature="ask", max_tokens=2000, temperature=0.2)

    body = fake_openai.requests[0].json()
    assert body["max_tokens"] == 300 and body["temperature"] == 0.2


@pytest.mark.django_db(transaction=True)
def test_the_async_stream_serves_the_event_loop(configure, fake_openai, alice):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.tokens = ["一", "二", "三"]

    async def consume() -> tuple[list[str], object]:
        stream = ai.astream_chat(QUESTION, feature="ask", user=alice)
        try:
            return [piece async for piece in stream], stream.result
        finally:
            await sse.aclose()

    pieces, result = asyncio.run(consume())
    whole = asyncio.run(ai.achat(QUESTION, feature="ask"))

    metering.flush()
    assert pieces == ["一", "二", "三"] and getattr(result, "text", None) == "一二三"
    assert whole.text == "一二三"
    assert Usage.objects.filter(outcome=Outcome.OK).count() == 2
    assert Usage.objects.filter(streamed=True, user=alice).exists()


def test_a_reader_who_stops_early_is_metered_as_stopped(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.tokens = ["一", "二", "三", "四"]

    stream = iter(ai.stream_chat(QUESTION, feature="ask"))
    assert next(stream) == "一"
    stream.close()  # type: ignore[attr-defined]

    assert Usage.objects.get().outcome == Outcome.CANCELLED


def test_a_stream_cut_off_mid_answer_is_a_typed_error_and_metered(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.tokens = ["一", "二", "三", "四"]
    fake_openai.then(Behaviour(truncate_after=2))
    received = []

    with pytest.raises(ai.AIError) as caught:
        for piece in ai.stream_chat(QUESTION, feature="ask"):
            received.append(piece)

    assert received == ["一", "二"]
    assert caught.value.code == "ai_bad_response" and caught.value.message
    assert Usage.objects.get().outcome == Outcome.ERROR


def test_a_feature_without_models_says_so(db):
    assert not ai.has_models("ask")
    with pytest.raises(ai.NoModelConfigured) as caught:
        ai.chat(QUESTION, feature="ask")
    assert caught.value.message == "该功能尚未配置可用的模型。" and caught.value.status == 503


def test_messages_without_text_are_refused_before_any_call(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")
    with pytest.raises(ValueError, match="role"):
        ai.chat([{"role": "tool", "content": "x"}], feature="ask")
    assert fake_openai.requests == []


@pytest.mark.django_db(transaction=True)
def test_an_sse_reader_who_goes_away_is_metered_as_stopped(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")
    fake_openai.tokens = ["一", "二", "三", "四"]

    async def read_one_then_leave() -> str:
        stream = aiter(ai.astream_chat(QUESTION, feature="ask"))
        try:
            return await anext(stream)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            await sse.aclose()

    assert asyncio.run(read_one_then_leave()) == "一"
    metering.flush()
    assert Usage.objects.get().outcome == Outcome.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_async_views_have_their_own_doors_to_models_embeddings_and_the_word_list(
    configure, fake_openai
):
    configure("bge", f"{fake_openai.url}/v1", chat="chat", embedding="bge", use_for=["embedding"])
    from portal.ai import services

    services.save_term("冰毒", category="毒品")  # transactional tests start without the seed

    async def ask() -> tuple[bool, bool, list[list[float]], str]:
        return (
            await ai.ahas_models("embedding"),
            await ai.ahas_models("ask"),
            await ai.aembed(["工会"]),
            (await ai.acheck_text("冰毒", where="ask.prompt")).action,
        )

    embedding, asking, vectors, action = asyncio.run(ask())

    assert (embedding, asking, action) == (True, False, "block")
    assert len(vectors) == 1 and len(vectors[0]) == 8
