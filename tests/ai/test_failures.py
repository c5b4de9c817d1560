"""Every way a provider fails becomes a typed error with a clear message; retries, fallback and
the circuit breaker decide who answers next."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from portal import ai
from portal.ai import breaker
from portal.ai.errors import (
    BadResponse,
    ProviderAuthFailed,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnreachable,
)
from portal.ai.models import Outcome, Usage
from tests.fakes.server import Behaviour

QUESTION = [{"role": "user", "content": "工会会费交多少？"}]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_wrong_key_is_an_auth_error_and_is_not_retried(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", api_key="sk-wrong-key-000000")
    fake_openai.api_key = "sk-the-right-one-0000"

    with pytest.raises(ProviderAuthFailed) as caught:
        ai.chat(QUESTION, feature="ask")

    assert caught.value.message == "模型服务认证失败，请联系管理员检查密钥。"
    assert "401" in caught.value.detail
    assert len(fake_openai.requests) == 1
    assert Usage.objects.get().error_code == "ai_auth_failed"


def test_a_model_name_the_provider_rejects_is_a_clear_error(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", chat="deepseek-chatt")
    fake_openai.models = {"deepseek-chat"}

    with pytest.raises(ProviderRejected) as caught:
        ai.chat(QUESTION, feature="ask")

    assert "deepseek-chatt" in caught.value.detail and "404" in caught.value.detail
    assert "模型配置" in caught.value.message
    assert len(fake_openai.requests) == 1


def test_a_bad_request_is_not_retried(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=2)
    fake_openai.then(Behaviour(status=400))

    with pytest.raises(ProviderRejected):
        ai.chat(QUESTION, feature="ask")
    assert len(fake_openai.requests) == 1


def test_an_unreachable_base_url_is_a_typed_error(configure):
    configure("ollama", f"http://127.0.0.1:{closed_port()}/v1", max_retries=0)

    with pytest.raises(ProviderUnreachable) as caught:
        ai.chat(QUESTION, feature="ask")
    assert caught.value.message == "无法连接模型服务，请稍后再试。"


def test_a_provider_that_hangs_times_out_without_hanging_the_caller(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", timeout=0.5, max_retries=0)
    fake_openai.default = Behaviour(hang=True)
    started = time.monotonic()

    with pytest.raises(ProviderTimeout) as caught:
        ai.chat(QUESTION, feature="ask")

    assert time.monotonic() - started < 5
    assert caught.value.message == "模型服务响应超时，请稍后再试。"


def test_a_stream_that_stalls_times_out(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", timeout=0.5, max_retries=0)
    fake_openai.default = Behaviour(token_delay=3)

    with pytest.raises(ProviderTimeout):
        list(ai.stream_chat(QUESTION, feature="ask"))


async def _read_all(stream: ai.AsyncChatStream) -> list[str]:
    from portal.ai import sse

    try:
        return [piece async for piece in stream]
    finally:
        await sse.aclose()


@pytest.mark.django_db(transaction=True)
def test_an_async_stream_that_stalls_times_out_but_a_slow_one_goes_on(configure, fake_openai):
    from portal.ai import metering

    configure("deepseek", f"{fake_openai.url}/v1", timeout=0.5, max_retries=0)
    fake_openai.tokens = ["慢", "慢", "来", "。"]
    # A token every 0.3 s: 1.2 s in all, more than the read timeout, never silent that long.
    fake_openai.then(Behaviour(token_delay=0.3))
    assert asyncio.run(_read_all(ai.astream_chat(QUESTION, feature="ask"))) == fake_openai.tokens

    fake_openai.then(Behaviour(token_delay=3))  # silent after the first chunk
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        asyncio.run(_read_all(ai.astream_chat(QUESTION, feature="ask")))
    assert time.monotonic() - started < 2.5  # not the 3 s the token would have taken
    metering.flush()
    assert list(Usage.objects.order_by("created_at").values_list("outcome", flat=True)) == [
        Outcome.OK,
        Outcome.ERROR,
    ]


def test_an_answer_that_is_not_json_is_a_typed_error(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.then(Behaviour(malformed=True))

    with pytest.raises(BadResponse) as caught:
        ai.chat(QUESTION, feature="ask")
    assert caught.value.message == "模型服务返回了无法识别的结果，请稍后再试。"


def test_an_html_error_page_is_a_typed_error(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.then(Behaviour(body=b"<html>502 Bad Gateway</html>", content_type="text/html"))

    with pytest.raises(BadResponse):
        ai.chat(QUESTION, feature="ask")


def test_a_server_error_is_retried_and_then_answered(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=2)
    fake_openai.then(Behaviour(status=500))

    result = ai.chat(QUESTION, feature="ask")

    assert result.text == fake_openai.reply
    assert len(fake_openai.requests) == 2
    assert list(Usage.objects.order_by("pk").values_list("outcome", flat=True)) == [
        Outcome.ERROR,
        Outcome.OK,
    ]


def test_a_rate_limit_is_retried_after_the_pause_the_provider_asked_for(configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=1)
    fake_openai.then(Behaviour(status=429, retry_after="1"))

    ai.chat(QUESTION, feature="ask")

    first, second = fake_openai.requests
    assert second.at - first.at >= 0.95


def test_a_rate_limit_asking_for_a_long_pause_hands_over_to_the_next_model(
    configure, fake_openai, fake_openai_b
):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=3)
    configure("doubao", f"{fake_openai_b.url}/v1")
    # Make deepseek the first choice again.
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=3)
    fake_openai.then(Behaviour(status=429, retry_after="3600"))

    result = ai.chat(QUESTION, feature="ask")

    assert result.provider == "doubao" and len(fake_openai.requests) == 1


def test_the_next_model_takes_over_in_the_configured_order(configure, fake_openai, fake_openai_b):
    configure("doubao", f"{fake_openai_b.url}/v1", max_retries=0)
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)  # now first for ask
    fake_openai.default = Behaviour(status=503)

    result = ai.chat(QUESTION, feature="ask")

    assert result.provider == "doubao"
    rows = list(Usage.objects.order_by("pk").values_list("provider_name", "outcome"))
    assert rows == [("deepseek", Outcome.ERROR), ("doubao", Outcome.OK)]


def test_a_stream_falls_back_before_its_first_word(configure, fake_openai, fake_openai_b):
    configure("doubao", f"{fake_openai_b.url}/v1", max_retries=0)
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.default = Behaviour(status=500)
    fake_openai_b.tokens = ["好", "的"]

    stream = ai.stream_chat(QUESTION, feature="ask")
    assert list(stream) == ["好", "的"]
    assert stream.result is not None and stream.result.provider == "doubao"


def test_a_dead_provider_is_skipped_by_every_process_until_its_circuit_closes(
    configure, fake_openai, fake_openai_b, settings
):
    settings.AI_BREAKER_FAILURES = 2
    dead = configure("doubao", f"{fake_openai_b.url}/v1", max_retries=0)
    dead = configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.default = Behaviour(status=502)

    for _ in range(2):
        ai.chat(QUESTION, feature="ask")
    assert len(fake_openai.requests) == 2
    breaker.reset_local()  # as if another process asked: the state lives in the shared cache

    result = ai.chat(QUESTION, feature="ask")

    assert result.provider == "doubao"
    assert len(fake_openai.requests) == 2
    assert breaker.is_open(dead.pk)


def test_when_every_model_fails_the_last_error_reaches_the_caller(
    configure, fake_openai, fake_openai_b
):
    configure("doubao", f"{fake_openai_b.url}/v1", max_retries=0)
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.default = Behaviour(status=500)
    fake_openai_b.default = Behaviour(status=401)

    with pytest.raises(ProviderAuthFailed):
        ai.chat(QUESTION, feature="ask")
    assert Usage.objects.filter(outcome=Outcome.ERROR).count() == 2


def test_a_feature_pinned_to_local_models_never_calls_the_cloud(
    configure, fake_openai, fake_openai_b
):
    from portal.ai import services

    configure("ollama", f"{fake_openai_b.url}/v1", is_local=True)
    configure("deepseek", f"{fake_openai.url}/v1")  # first for ask, but in the cloud
    services.set_local_only("ask", True)

    result = ai.chat(QUESTION, feature="ask")

    assert result.provider == "ollama" and fake_openai.requests == []


def test_a_local_pin_with_only_cloud_models_leaves_the_feature_without_models(
    configure, fake_openai
):
    from portal.ai import services

    configure("deepseek", f"{fake_openai.url}/v1")
    services.set_local_only("ask", True)

    assert not ai.has_models("ask")
    with pytest.raises(ai.NoModelConfigured):
        ai.chat(QUESTION, feature="ask")
    assert fake_openai.requests == []


@pytest.mark.django_db(transaction=True)
def test_the_async_stream_fails_over_and_reports_typed_errors(
    configure, fake_openai, fake_openai_b
):
    from portal.ai import metering, sse

    configure("doubao", f"{fake_openai_b.url}/v1", max_retries=0)
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.then(Behaviour(status=429, retry_after="3600"))
    fake_openai_b.tokens = ["好"]

    async def consume(stream: ai.AsyncChatStream) -> list[str]:
        try:
            return [piece async for piece in stream]
        finally:
            await sse.aclose()

    assert asyncio.run(consume(ai.astream_chat(QUESTION, feature="ask"))) == ["好"]
    fake_openai_b.then(Behaviour(truncate_after=0))
    fake_openai.then(Behaviour(status=401))
    with pytest.raises(ai.AIError) as caught:
        asyncio.run(consume(ai.astream_chat(QUESTION, feature="ask")))
    metering.flush()

    assert caught.value.code == "ai_bad_response"
    rows = Usage.objects.order_by("created_at")
    outcomes = list(rows.values_list("provider_name", "error_code"))
    assert outcomes == [
        ("deepseek", "ai_busy"),
        ("doubao", ""),
        ("deepseek", "ai_auth_failed"),
        ("doubao", "ai_bad_response"),
    ]


def test_with_every_circuit_open_the_caller_hears_so_without_a_call(
    configure, fake_openai, settings
):
    settings.AI_BREAKER_FAILURES = 1
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.then(Behaviour(status=503))
    with pytest.raises(ai.AIError):
        ai.chat(QUESTION, feature="ask")

    with pytest.raises(ai.AIError) as caught:
        ai.chat(QUESTION, feature="ask")

    assert caught.value.code == "ai_circuit_open"
    assert caught.value.message == "模型服务暂时不可用，请稍后再试。"
    assert len(fake_openai.requests) == 1


def test_an_answer_that_trickles_on_forever_is_cut_off(configure, fake_openai, settings):
    settings.AI_MAX_ANSWER_SECONDS = 1
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.tokens = ["字"] * 100
    fake_openai.default = Behaviour(token_delay=0.05)  # each token within the read timeout
    received = []

    with pytest.raises(ProviderTimeout):
        for piece in ai.stream_chat(QUESTION, feature="ask"):
            received.append(piece)

    assert 5 < len(received) < 100


def test_a_stream_that_ends_before_its_first_word_goes_to_the_next_model(
    configure, fake_openai, fake_openai_b
):
    configure("doubao", f"{fake_openai_b.url}/v1", max_retries=0)
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    # A well-formed event stream that stops without an answer or a finish_reason.
    fake_openai.then(
        Behaviour(body=b"data: [DONE]\n\n", content_type="text/event-stream"),
    )
    fake_openai_b.tokens = ["好"]

    assert list(ai.stream_chat(QUESTION, feature="ask")) == ["好"]


def test_a_celery_time_limit_is_not_taken_for_a_provider_failure(
    configure, fake_openai, fake_openai_b
):
    from celery.exceptions import SoftTimeLimitExceeded

    from portal.ai.serving import serve

    configure("first", f"{fake_openai.url}/v1")
    configure("second", f"{fake_openai_b.url}/v1")
    tried: list[str] = []

    def call(spec, reading):
        tried.append(spec.provider_name)
        raise SoftTimeLimitExceeded()

    with pytest.raises(SoftTimeLimitExceeded):
        serve("ask", None, call)
    assert tried == ["second"]  # no retry, no fallback: the task must stop


def test_no_attempt_starts_after_the_calls_deadline(configure, fake_openai, settings):
    configure("slow", f"{fake_openai.url}/v1", max_retries=3)
    settings.AI_CALL_DEADLINE_SECONDS = 1
    settings.AI_RETRY_BACKOFF_MS = 2000  # the first backoff alone would pass the deadline
    fake_openai.then(*[Behaviour(status=500)] * 4)

    with pytest.raises(ai.AIError):
        ai.chat([{"role": "user", "content": "你好"}], feature="ask")

    assert len(fake_openai.requests) == 1  # no waiting for a retry that could not finish
