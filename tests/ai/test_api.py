"""The model-service API: feature availability for clients, providers for admins only."""

from __future__ import annotations

import pytest

from tests.fakes.fixtures import API_KEY


def test_a_client_learns_which_features_have_a_model(api, alice, configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])

    response = api(alice).get("/api/v1/ai/features/")

    assert response.status_code == 200
    available = {item["feature"]: item["available"] for item in response.json()}
    assert available == {
        "ask": True,
        "writer": False,
        "imaging": False,
        "prompt_rewrite": False,
        "embedding": False,
    }


def test_anonymous_clients_are_refused(api, db):
    assert api(None).get("/api/v1/ai/features/").status_code == 401
    assert api(None).get("/api/v1/ai/providers/").status_code == 401


def test_admins_see_providers_with_the_key_masked(api, ada, configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")

    response = api(ada).get("/api/v1/ai/providers/")

    assert response.status_code == 200
    [provider] = response.json()
    assert provider["api_key"] == "sk-…8e0f" and provider["models"][0]["name"] == "fake-chat"
    assert API_KEY not in response.content.decode()
    assert "api_key_encrypted" not in provider


@pytest.mark.parametrize("who", ["alice", "sam", "eddie"])
def test_nobody_but_admins_sees_providers(request, api, who, configure, fake_openai):
    configure("deepseek", f"{fake_openai.url}/v1")

    response = api(request.getfixturevalue(who)).get("/api/v1/ai/providers/")

    assert response.status_code == 403 and response.json()["code"] == "not_permitted"


def test_no_name_portal_ai_exports_is_shadowed_by_one_of_its_modules():
    import pkgutil

    from portal import ai

    modules = {module.name for module in pkgutil.iter_modules(ai.__path__)}
    assert not set(ai.__all__) & modules
    assert all(callable(getattr(ai, name)) for name in ai.__all__)
