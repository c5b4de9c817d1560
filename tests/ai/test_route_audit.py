"""Which models serve a feature, and whether it may use cloud providers at all, decide where
members' questions go: every change of them leaves an audit entry with the routes as they now
stand, and only admins may make one, whoever calls the service."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from portal.ai import services
from portal.ai.models import AIModel, FeatureSetting, Provider, Route
from portal.errors import NotPermitted
from portal.models import AuditAction, AuditEvent, User
from tests.fakes.fixtures import Configure

LOCAL_URL = "http://127.0.0.1:11434/v1"
CLOUD_URL = "https://api.deepseek.com/v1"


def route_entries() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.FEATURE_ROUTES_CHANGED).order_by("id"))


@pytest.fixture
def two_routes(configure: Configure) -> FeatureSetting:
    """ask: the local model first, the cloud one second; the audit log empty."""
    configure("deepseek", CLOUD_URL, chat="deepseek-chat")
    configure("ollama", LOCAL_URL, chat="qwen2.5", is_local=True)
    AuditEvent.objects.all().delete()
    return FeatureSetting.objects.get(feature="ask")


def admin_form(setting: FeatureSetting, *, local_only: bool, order: list[str]) -> dict[str, str]:
    """The change form of a feature, its routes in the given order (by provider name)."""
    routes = {r.model.provider.name: r for r in setting.routes.select_related("model__provider")}
    data = {
        "feature": setting.feature,
        "routes-TOTAL_FORMS": str(len(routes)),
        "routes-INITIAL_FORMS": str(len(routes)),
        "routes-MIN_NUM_FORMS": "0",
        "routes-MAX_NUM_FORMS": "1000",
    }
    if local_only:
        data["local_only"] = "on"
    for i, name in enumerate(order):
        route = routes[name]
        data |= {
            f"routes-{i}-id": str(route.pk),
            f"routes-{i}-feature": str(setting.pk),
            f"routes-{i}-position": str(i),
            f"routes-{i}-model": str(route.model_id),
        }
    return data


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_reordering_a_features_models_leaves_an_entry_with_the_new_order(
    two_routes: FeatureSetting, ada: User
) -> None:
    url = f"/admin/ai/featuresetting/{two_routes.pk}/change/"
    form = admin_form(two_routes, local_only=False, order=["deepseek", "ollama"])
    assert admin_client(ada).post(url, form).status_code == 302
    [entry] = route_entries()
    assert (entry.actor, entry.target) == (ada, "ask")
    assert entry.detail == {
        "feature": "ask",
        "local_only": False,
        "routes": ["deepseek / deepseek-chat", "ollama / qwen2.5"],
    }


def test_an_admin_pinning_a_feature_to_local_models_leaves_an_entry(
    two_routes: FeatureSetting, ada: User
) -> None:
    url = f"/admin/ai/featuresetting/{two_routes.pk}/change/"
    form = admin_form(two_routes, local_only=True, order=["ollama", "deepseek"])
    assert admin_client(ada).post(url, form).status_code == 302
    [entry] = route_entries()
    assert entry.actor == ada
    assert entry.detail == {
        "feature": "ask",
        "local_only": True,
        "routes": ["ollama / qwen2.5", "deepseek / deepseek-chat"],
    }


def test_a_feature_setting_cannot_be_deleted_in_the_admin(
    two_routes: FeatureSetting, ada: User
) -> None:
    url = f"/admin/ai/featuresetting/{two_routes.pk}/delete/"
    assert admin_client(ada).post(url, {"post": "yes"}).status_code == 403
    assert Route.objects.filter(feature=two_routes).count() == 2


def test_set_local_only_leaves_an_entry_naming_the_system(two_routes: FeatureSetting) -> None:
    services.set_local_only("ask", True)
    [entry] = route_entries()
    assert (entry.actor, entry.actor_name, entry.target) == (None, "system", "ask")
    assert entry.detail == {
        "feature": "ask",
        "local_only": True,
        "routes": ["ollama / qwen2.5", "deepseek / deepseek-chat"],
    }


def test_set_local_only_names_the_admin_who_asked(two_routes: FeatureSetting, ada: User) -> None:
    services.set_local_only("ask", True, actor=ada)
    [entry] = route_entries()
    assert entry.actor == ada


def test_set_local_only_without_a_change_leaves_no_entry(two_routes: FeatureSetting) -> None:
    services.set_local_only("ask", False)
    assert route_entries() == []


@pytest.mark.parametrize("who", ["alice", "sam", "eddie"])
def test_only_admins_may_pin_a_feature_through_the_service(
    two_routes: FeatureSetting, who: str, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(NotPermitted):
        services.set_local_only("ask", True, actor=request.getfixturevalue(who))
    two_routes.refresh_from_db()
    assert two_routes.local_only is False
    assert route_entries() == []


def test_an_editor_may_not_put_a_model_first_through_the_service(
    two_routes: FeatureSetting, eddie: User
) -> None:
    cloud = AIModel.objects.get(name="deepseek-chat")
    with pytest.raises(NotPermitted):
        services.put_first("ask", cloud, actor=eddie)
    assert [r.model.name for r in two_routes.routes.order_by("position")] == [
        "qwen2.5",
        "deepseek-chat",
    ]


def test_the_commands_use_for_leaves_an_entry_with_the_routes(two_routes: FeatureSetting) -> None:
    call_command(
        "configure_provider",
        "--name=deepseek",
        f"--base-url={CLOUD_URL}",
        "--kind=openai-compatible",
        "--chat-model=deepseek-chat",
        "--use-for=ask",
        stdout=StringIO(),
    )
    [entry] = route_entries()
    assert (entry.actor_name, entry.target) == ("system", "ask")
    assert entry.detail["routes"] == ["deepseek / deepseek-chat", "ollama / qwen2.5"]


def test_the_command_leaves_no_routes_entry_when_the_order_stands(
    two_routes: FeatureSetting,
) -> None:
    call_command(
        "configure_provider",
        "--name=ollama",
        f"--base-url={LOCAL_URL}",
        "--kind=openai-compatible",
        "--chat-model=qwen2.5",
        "--use-for=ask",
        stdout=StringIO(),
    )
    assert route_entries() == []
    assert Provider.objects.count() == 2
