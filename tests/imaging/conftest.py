"""Fixtures of Draw's tests: files in a temporary MEDIA_ROOT, quick retries and sweeps, an
`imaging` model routed to a fake, real-size images."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imaging.models import ImageRequest
from imaging.services import requests
from portal.ai import safety
from portal.ai.models import Provider, SafetyAction, SensitiveTerm
from portal.models import User
from tests.fakes.fixtures import Configure
from tests.waiting import wait_for

PROMPT = "五一劳动节，工人们在工厂前微笑合影，阳光明媚"
POSTER = {"prompt": PROMPT, "purpose": "poster", "size": "1024x1024"}


@pytest.fixture(autouse=True)
def _imaging_settings(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGING_RETRY_BACKOFF_SECONDS = 0
    settings.IMAGING_HEARTBEAT_SECONDS = 1
    settings.IMAGING_MAX_ATTEMPTS = 2
    settings.IMAGING_DAILY_QUOTA = 20
    yield


def png(width: int = 512, height: int = 512, colour: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def bomb_png(side: int = 20000) -> bytes:
    """A small file that claims side × side pixels (all black): a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    squeezer = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(squeezer.compress(row) for _ in range(side)) + squeezer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@pytest.fixture(autouse=True)
def _blocked_word(request: pytest.FixtureRequest) -> None:
    """The word the tests write into prompts to be blocked (a transactional test before this
    one may have flushed the seeded list). Tests without the database are left alone."""
    uses_db = {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db and request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db" if "transactional_db" not in uses_db else "transactional_db")
    SensitiveTerm.objects.update_or_create(
        term="冰毒", defaults={"category": "违禁品", "action": SafetyAction.BLOCK, "enabled": True}
    )
    safety.list_changed()


@pytest.fixture
def draw_model(configure: Configure, fake_openai: Any) -> Provider:
    """An OpenAI-compatible image model (Seedream-like) on the fake, drawing 512×512."""
    fake_openai.image_bytes = png()
    return configure(
        "ark", f"{fake_openai.url}/v1", chat=None, image="seedream", use_for=["imaging"]
    )


@pytest.fixture
def submit() -> Callable[..., ImageRequest]:
    def make(user: User, **params: Any) -> ImageRequest:
        return requests.submit(user, **{**POSTER, **params})

    return make


def wait_status(request_id: int, *statuses: str, timeout: float = 30) -> ImageRequest:
    def ended() -> ImageRequest | None:
        found = ImageRequest.objects.get(pk=request_id)
        return found if found.status in statuses else None

    found = wait_for(ended, timeout=timeout, what=f"image request {request_id} to be {statuses}")
    assert found is not None
    return found
