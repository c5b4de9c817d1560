"""Every change to the model services and the word list leaves an audit entry naming who and
what, never a key; only admins may make one, whoever calls the service."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from portal import audit
from portal.ai import services
from portal.ai.models import AIModel, Provider, SensitiveTerm
from portal.errors import NotPermitted
from portal.models import AuditAction, AuditEvent, User
from tests.fakes.fixtures import API_KEY

NEW_KEY = "sk-new-key-9999-zzzz"


def provider_form(provider: Provider, **changes: str) -> dict[str, str]:
    model = AIModel.objects.get(provider=provider)
    return {
        "name": provider.name,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "enabled": "on",
        "connect_timeout": "5",
        "options": "{}",
        "models-TOTAL_FORMS": "1",
        "models-INITIAL_FORMS": "1",
        "models-MIN_NUM_FORMS": "0",
        "models-MAX_NUM_FORMS": "1000",
        "models-0-id": str(model.pk),
        "models-0-provider": str(provider.pk),
        "models-0-name": model.name,
        "models-0-capability": model.capability,
        "models-0-enabled": "on",
        "models-0-timeout": "2",
        "models-0-max_retries": "1",
        "models-0-batch_size": "32",
        **changes,
    }


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_key_in_the_log(*keys: str) -> bool:
    logged = json.dumps(list(AuditEvent.objects.values("target", "detail")), ensure_ascii=False)
    return not any(key in logged or key[-8:] in logged for key in keys)


def test_the_command_records_the_provider_and_its_key_as_the_system(db, fake_openai) -> None:
    call_command(
        "configure_provider",
        "--name=deepseek",
        "--preset=deepseek",
        f"--base-url={fake_openai.url}/v1",
        f"--api-key={API_KEY}",
        "--chat-model=deepseek-chat",
        "--use-for=ask",
        stdout=StringIO(),
    )
    changed = AuditEvent.objects.get(action=AuditAction.PROVIDER_CHANGED)
    key = AuditEvent.objects.get(action=AuditAction.PROVIDER_KEY_CHANGED)
    assert (changed.actor_name, changed.target, changed.detail["change"]) == (
        "system",
        "deepseek",
        "created",
    )
    assert changed.detail["models"] == {"chat": "deepseek-chat"}
    assert (key.actor_name, key.target) == ("system", "deepseek")
    assert no_key_in_the_log(API_KEY)


def test_an_admin_changing_a_key_leaves_an_entry_without_the_key(
    configure, fake_openai, ada: User
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    AuditEvent.objects.all().delete()
    url = f"/admin/ai/provider/{provider.pk}/change/"
    response = admin_client(ada).post(url, provider_form(provider, api_key=NEW_KEY))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.PROVIDER_KEY_CHANGED)
    assert (event.actor, event.target, event.detail) == (ada, "deepseek", {"key": "replaced"})
    assert no_key_in_the_log(NEW_KEY, API_KEY)


def test_an_admin_changing_a_provider_leaves_an_entry_naming_the_fields(
    configure, fake_openai, ada: User
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    AuditEvent.objects.all().delete()
    url = f"/admin/ai/provider/{provider.pk}/change/"
    response = admin_client(ada).post(url, provider_form(provider, connect_timeout="9"))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.PROVIDER_CHANGED)
    assert (event.actor, event.target) == (ada, "deepseek")
    assert event.detail["change"] == "updated" and "connect_timeout" in event.detail["fields"]
    assert not AuditEvent.objects.filter(action=AuditAction.PROVIDER_KEY_CHANGED).exists()


def test_an_admin_deleting_a_provider_leaves_an_entry(configure, fake_openai, ada: User) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    url = f"/admin/ai/provider/{provider.pk}/delete/"
    assert admin_client(ada).post(url, {"post": "yes"}).status_code == 302
    event = AuditEvent.objects.filter(action=AuditAction.PROVIDER_CHANGED).latest("id")
    assert (event.actor, event.target, event.detail) == (ada, "deepseek", {"change": "deleted"})


def test_an_admin_adding_a_sensitive_word_leaves_an_entry(db, ada: User) -> None:
    response = admin_client(ada).post(
        "/admin/ai/sensitiveterm/add/",
        {"term": "黑工厂", "category": "自定义", "action": "review", "enabled": "on"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.WORD_LIST_CHANGED)
    assert (event.actor, event.target) == (ada, "黑工厂")
    assert event.detail == {"change": "added", "terms": ["黑工厂"]}


def test_an_admin_deleting_sensitive_words_leaves_an_entry(db, ada: User) -> None:
    term = services.save_term("黑工厂", category="自定义")
    response = admin_client(ada).post(f"/admin/ai/sensitiveterm/{term.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action=AuditAction.WORD_LIST_CHANGED).latest("id")
    assert (event.actor, event.target, event.detail["change"]) == (ada, "黑工厂", "deleted")


@pytest.mark.parametrize("who", ["alice", "sam", "eddie"])
def test_only_admins_may_change_a_key_through_the_service(
    configure, fake_openai, who: str, request
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    with pytest.raises(NotPermitted):
        services.set_api_key(provider, NEW_KEY, actor=request.getfixturevalue(who))
    provider.refresh_from_db()
    assert provider.api_key_hint == "sk-…8e0f"


def test_an_editor_may_not_configure_a_provider_through_the_service(db, eddie: User) -> None:
    with pytest.raises(NotPermitted):
        services.configure_provider(
            name="ollama",
            kind="openai-compatible",
            base_url="http://127.0.0.1:11434/v1",
            actor=eddie,
        )
    assert not Provider.objects.exists()


def test_an_editor_may_not_add_a_sensitive_word_through_the_service(db, eddie: User) -> None:
    with pytest.raises(NotPermitted):
        services.save_term("黑工厂", category="自定义", actor=eddie)
    assert not SensitiveTerm.objects.filter(term="黑工厂").exists()


def test_an_admin_deleting_a_model_leaves_an_entry_for_its_provider(
    configure, fake_openai, ada: User
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    model = AIModel.objects.get(provider=provider)
    url = f"/admin/ai/aimodel/{model.pk}/delete/"
    assert admin_client(ada).post(url, {"post": "yes"}).status_code == 302
    event = AuditEvent.objects.filter(action=AuditAction.PROVIDER_CHANGED).latest("id")
    assert (event.actor, event.target) == (ada, "deepseek")
    assert event.detail["fields"] == [f"{model.name} deleted"]


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("http://user:pass@llm.example.com/v1?key=abc#top", "http://llm.example.com/v1"),
        ("https://sk-123@api.example.com:8443/v1?api_key=x", "https://api.example.com:8443/v1"),
        ("http://[::1]:11434/v1", "http://[::1]:11434/v1"),
        ("https://api.deepseek.com/v1", "https://api.deepseek.com/v1"),
    ],
)
def test_an_address_is_logged_without_credentials_query_or_fragment(url: str, logged: str) -> None:
    assert services.loggable_url(url) == logged


def test_the_admin_refuses_an_address_with_credentials_and_stores_nothing(
    configure, fake_openai, ada: User
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    AuditEvent.objects.all().delete()
    url = f"/admin/ai/provider/{provider.pk}/change/"
    secret_url = "https://user:pass@api.example.com/v1?key=abc"
    response = admin_client(ada).post(url, provider_form(provider, base_url=secret_url))
    assert response.status_code == 200
    assert "接口地址里不能带用户名、密码或查询参数" in response.content.decode()
    provider.refresh_from_db()
    assert provider.base_url == f"{fake_openai.url}/v1"
    assert not AuditEvent.objects.filter(action=AuditAction.PROVIDER_CHANGED).exists()


def test_an_admin_moving_a_provider_leaves_its_new_address_in_the_entry(
    configure, fake_openai, ada: User
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    AuditEvent.objects.all().delete()
    url = f"/admin/ai/provider/{provider.pk}/change/"
    moved = "https://api.example.com/v2"
    assert admin_client(ada).post(url, provider_form(provider, base_url=moved)).status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.PROVIDER_CHANGED)
    assert event.detail["base_url"] == moved and "base_url" in event.detail["fields"]


class AuditWriteFailed(Exception):
    pass


def fail_audit_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    def record(*args: object, **kwargs: object) -> None:
        raise AuditWriteFailed

    monkeypatch.setattr(audit, "record", record)


def bulk_delete(client: Client, changelist: str, *pks: int) -> None:
    client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [str(pk) for pk in pks], "post": "yes"},
    )


def test_a_bulk_delete_of_providers_is_undone_when_its_entry_cannot_be_written(
    configure, fake_openai, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    client = admin_client(ada)  # signing in is audited too: before the writes fail
    fail_audit_writes(monkeypatch)
    with pytest.raises(AuditWriteFailed):
        bulk_delete(client, "/admin/ai/provider/", provider.pk)
    assert Provider.objects.filter(pk=provider.pk).exists()
    assert AIModel.objects.filter(provider=provider).exists()


def test_a_bulk_delete_of_models_is_undone_when_its_entry_cannot_be_written(
    configure, fake_openai, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = configure("deepseek", f"{fake_openai.url}/v1")
    model = AIModel.objects.get(provider=provider)
    client = admin_client(ada)  # signing in is audited too: before the writes fail
    fail_audit_writes(monkeypatch)
    with pytest.raises(AuditWriteFailed):
        bulk_delete(client, "/admin/ai/aimodel/", model.pk)
    assert AIModel.objects.filter(pk=model.pk).exists()


def test_a_bulk_delete_of_sensitive_words_is_undone_when_its_entry_cannot_be_written(
    db, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    term = services.save_term("黑工厂", category="自定义")
    client = admin_client(ada)  # signing in is audited too: before the writes fail
    fail_audit_writes(monkeypatch)
    with pytest.raises(AuditWriteFailed):
        bulk_delete(client, "/admin/ai/sensitiveterm/", term.pk)
    assert SensitiveTerm.objects.filter(pk=term.pk).exists()


def test_an_admin_deleting_several_providers_leaves_an_entry_for_each(
    configure, fake_openai, ada: User
) -> None:
    first = configure("deepseek", f"{fake_openai.url}/v1")
    second = configure("doubao", f"{fake_openai.url}/v1")
    bulk_delete(admin_client(ada), "/admin/ai/provider/", first.pk, second.pk)
    assert not Provider.objects.exists()
    deleted = AuditEvent.objects.filter(
        action=AuditAction.PROVIDER_CHANGED, detail={"change": "deleted"}
    )
    assert sorted(deleted.values_list("target", flat=True)) == ["deepseek", "doubao"]


def test_an_editor_may_not_delete_providers_through_the_service(
    configure, fake_openai, eddie: User
) -> None:
    configure("deepseek", f"{fake_openai.url}/v1")
    with pytest.raises(NotPermitted):
        services.delete_providers(Provider.objects.all(), actor=eddie)
    assert Provider.objects.exists()
