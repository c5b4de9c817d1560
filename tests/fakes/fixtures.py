"""Fixtures of the model-service tests: fake providers on loopback and quick retries (imported
by tests/conftest.py, so every test starts with clean model caches)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import pytest

from portal.ai import breaker, clients, routing, services, sse
from portal.ai.models import AIModel, Provider
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.hunyuan import FakeHunyuan
from tests.fakes.openai import FakeOpenAI
from tests.fakes.sdwebui import FakeSDWebUI
from tests.fakes.server import FakeServer

API_KEY = "sk-test-4f9a2c7e1b3d5a6c8e0f"


@pytest.fixture(autouse=True)
def _ai_settings(settings) -> Iterator[None]:
    # Test transactions never commit, so the on-commit cache flush would never run.
    settings.AI_ROUTE_CACHE_SECONDS = 0
    settings.AI_RETRY_BACKOFF_MS = 10
    routing.forget()
    clients.forget()
    sse.forget()
    breaker.reset_local()
    yield
    clients.forget()
    sse.forget()
    breaker.reset_local()


S = TypeVar("S", bound=FakeServer)


def _running(server: S) -> Iterator[S]:
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    yield from _running(FakeOpenAI())


@pytest.fixture
def fake_openai_b() -> Iterator[FakeOpenAI]:
    yield from _running(FakeOpenAI())


@pytest.fixture
def fake_hunyuan() -> Iterator[FakeHunyuan]:
    yield from _running(FakeHunyuan())


@pytest.fixture
def fake_sdwebui() -> Iterator[FakeSDWebUI]:
    yield from _running(FakeSDWebUI())


@pytest.fixture
def fake_comfyui() -> Iterator[FakeComfyUI]:
    yield from _running(FakeComfyUI())


Configure = Callable[..., Provider]


@pytest.fixture
def configure(db: None) -> Configure:
    """Configure a provider against a fake, with one retry and short timeouts by default."""

    def make(
        name: str,
        base_url: str,
        *,
        kind: str = "openai-compatible",
        chat: str | None = "fake-chat",
        embedding: str | None = None,
        image: str | None = None,
        use_for: Sequence[str] = ("ask",),
        api_key: str | None = API_KEY,
        is_local: bool = False,
        timeout: float = 2.0,
        max_retries: int = 1,
        options: dict[str, object] | None = None,
    ) -> Provider:
        result = services.configure_provider(
            name=name,
            kind=kind,
            base_url=base_url,
            api_key=api_key,
            chat_model=chat,
            embedding_model=embedding,
            image_model=image,
            use_for=use_for,
            is_local=is_local,
            timeout=timeout,
        )
        AIModel.objects.filter(provider=result.provider).update(max_retries=max_retries)
        if options:
            result.provider.options = options
            result.provider.save(update_fields=["options"])
        return result.provider

    return make
