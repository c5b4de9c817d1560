"""Provider configuration: encrypted keys shown masked, the command, the admin, who may see it."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from portal import ai
from portal.ai import keys, metering, routing, services
from portal.ai.errors import ProviderAuthFailed
from portal.ai.models import AIModel, Provider, Route, Usage
from portal.ai.services import ConfigurationInvalid
from tests.fakes.fixtures import API_KEY
from tests.fakes.server import Behaviour

QUESTION = [{"role": "user", "content": "你好"}]


def test_a_key_is_stored_encrypted_and_shown_masked(configure, fake_openai):
    provider = configure("deepseek", f"{fake_openai.url}/v1")

    stored = Provider.objects.values("api_key_encrypted", "api_key_hint").get()
    assert API_KEY not in stored["api_key_encrypted"]
    assert keys.decrypt(stored["api_key_encrypted"]) == API_KEY
    assert stored["api_key_hint"] == "sk-…8e0f"
    ciphertext = stored["api_key_encrypted"]
    assert ciphertext not in repr(provider) and ciphertext not in repr(routing.candidates("ask"))


def test_a_key_encrypted_under_another_secret_is_a_clear_error(configure, fake_openai, settings):
    configure("deepseek", f"{fake_openai.url}/v1")
    settings.PORTAL_AI_KEY = "a-different-secret"

    with pytest.raises(ProviderAuthFailed) as caught:
        ai.chat(QUESTION, feature="ask")
    assert "PORTAL_AI_KEY" in caught.value.detail and fake_openai.requests == []


def test_the_key_can_be_rotated_with_the_old_secret_second(configure, fake_openai, settings):
    configure("deepseek", f"{fake_openai.url}/v1")
    settings.PORTAL_AI_KEY = f"new-secret,{settings.PORTAL_AI_KEY}"
    fake_openai.api_key = API_KEY

    assert ai.chat(QUESTION, feature="ask").text == fake_openai.reply


def test_the_key_never_reaches_the_log(configure, fake_openai, caplog):
    caplog.set_level(logging.DEBUG)
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=1)
    fake_openai.api_key = "sk-something-else-0000"

    with pytest.raises(ai.AIError):
        ai.chat(QUESTION, feature="ask")

    assert "ai_auth_failed" in caplog.text
    assert API_KEY not in caplog.text and API_KEY[-12:] not in caplog.text


def test_the_command_creates_a_provider_and_puts_its_models_first(db, fake_openai, fake_openai_b):
    out = StringIO()
    call_command(
        "configure_provider",
        "--name=doubao",
        "--kind=openai-compatible",
        f"--base-url={fake_openai_b.url}/v1",
        "--api-key=ark-0000-1111-2222-3333",
        "--chat-model=doubao-pro",
        "--use-for=ask,writer",
        stdout=out,
    )
    call_command(
        "configure_provider",
        "--name=deepseek",
        "--preset=deepseek",
        f"--base-url={fake_openai.url}/v1",
        f"--api-key={API_KEY}",
        "--chat-model=deepseek-chat",
        "--embedding-model=deepseek-embed",
        "--use-for=ask,embedding",
        stdout=out,
    )

    assert [s.provider_name for s in routing.candidates("ask")] == ["deepseek", "doubao"]
    assert [s.provider_name for s in routing.candidates("writer")] == ["doubao"]
    assert [s.name for s in routing.candidates("embedding")] == ["deepseek-embed"]
    assert "ark…3333" in out.getvalue() and "sk-…8e0f" in out.getvalue()
    assert API_KEY not in out.getvalue() and "1111-2222" not in out.getvalue()


def test_running_the_command_again_updates_without_duplicating(db, fake_openai):
    args = ["--name=ollama", "--preset=ollama", "--chat-model=qwen2.5", "--use-for=ask"]
    call_command("configure_provider", *args, stdout=StringIO())
    call_command("configure_provider", *args, "--timeout=30", stdout=StringIO())

    provider = Provider.objects.get()
    assert provider.is_local and provider.base_url == "http://127.0.0.1:11434/v1"
    assert AIModel.objects.get().timeout == 30 and Route.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind=sdwebui", "--base-url=http://127.0.0.1:7860", "--chat-model=x"], "不提供"),
        (["--preset=deepseek", "--chat-model=x", "--use-for=imaging"], "图像"),
        (["--preset=deepseek", "--chat-model=x", "--use-for=draw"], "未知的功能"),
        (["--kind=openai-compatible", "--base-url=not-a-url"], "接口地址无效"),
    ],
)
def test_the_command_refuses_a_bad_configuration_and_changes_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("configure_provider", "--name=p", *args, stdout=StringIO())
    assert not Provider.objects.exists()


def test_admins_set_a_key_in_the_admin_without_ever_seeing_the_stored_one(
    configure, fake_openai, ada
):
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    client = Client()
    client.force_login(ada)
    url = f"/admin/ai/provider/{provider.pk}/change/"

    page = client.get(url).content.decode()
    assert "sk-…8e0f" in page
    assert API_KEY not in page and provider.api_key_encrypted not in page

    form = {
        "name": "deepseek",
        "kind": "openai-compatible",
        "base_url": f"{fake_openai.url}/v1",
        "api_key": "sk-new-key-9999-zzzz",
        "enabled": "on",
        "connect_timeout": "5",
        "options": "{}",
        "models-TOTAL_FORMS": "1",
        "models-INITIAL_FORMS": "1",
        "models-MIN_NUM_FORMS": "0",
        "models-MAX_NUM_FORMS": "1000",
        "models-0-id": str(AIModel.objects.get().pk),
        "models-0-provider": str(provider.pk),
        "models-0-name": "fake-chat",
        "models-0-capability": "chat",
        "models-0-enabled": "on",
        "models-0-timeout": "2",
        "models-0-max_retries": "1",
        "models-0-batch_size": "32",
    }
    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert keys.decrypt(provider.api_key_encrypted) == "sk-new-key-9999-zzzz"
    assert provider.api_key_hint == "sk-…zzzz"
    assert "sk-new-key-9999-zzzz" not in client.get(url).content.decode()


@pytest.mark.parametrize("who", ["alice", "sam", "eddie"])
@pytest.mark.parametrize(
    "path",
    [
        "/admin/ai/provider/",
        "/admin/ai/aimodel/",
        "/admin/ai/featuresetting/",
        "/admin/ai/usage/",
        "/admin/ai/usage/summary/",
        "/admin/ai/sensitiveterm/",
    ],
)
def test_only_admins_reach_the_provider_pages(db, request, who, path):
    client = Client()
    client.force_login(request.getfixturevalue(who))

    response = client.get(path)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_model_the_provider_kind_cannot_serve_is_refused(configure, fake_sdwebui):
    from django.core.exceptions import ValidationError

    provider = configure("sd", fake_sdwebui.url, kind="sdwebui", chat=None, use_for=[])

    with pytest.raises(ValidationError, match="不提供"):
        AIModel(provider=provider, name="x", capability="chat").full_clean()


def test_a_key_the_provider_echoes_in_its_error_is_redacted(configure, fake_openai, caplog):
    configure("deepseek", f"{fake_openai.url}/v1", max_retries=0)
    fake_openai.then(
        Behaviour(
            status=400,
            body=f'{{"error": {{"message": "bad request for Bearer {API_KEY}"}}}}'.encode(),
        )
    )

    with pytest.raises(ai.AIError) as caught:
        ai.chat([{"role": "user", "content": "你好"}], feature="ask")

    assert API_KEY not in caught.value.detail and "***" in caught.value.detail
    assert API_KEY not in caplog.text
    metering.flush()
    assert not Usage.objects.filter(error_detail__contains=API_KEY).exists()


def test_an_address_with_credentials_in_it_is_refused(db):
    with pytest.raises(ConfigurationInvalid):
        services.configure_provider(
            name="x",
            kind="openai-compatible",
            base_url="https://u:p@api.example.com/v1?key=abc",
            api_key=None,
            chat_model="m",
            embedding_model=None,
            image_model=None,
            use_for=["ask"],
        )
    assert not Provider.objects.exists()


def test_a_provider_moved_to_a_cloud_address_is_no_longer_local(configure, fake_openai):
    provider = configure("box", f"{fake_openai.url}/v1", is_local=True)
    services.configure_provider(
        name="box",
        kind="openai-compatible",
        base_url="https://api.deepseek.com/v1",
        api_key=None,
        chat_model="fake-chat",
        embedding_model=None,
        image_model=None,
        use_for=["ask"],
    )
    provider.refresh_from_db()
    assert not provider.is_local
