"""Static files under ASGI: served by WhiteNoise, without taking other requests off the loop."""

from __future__ import annotations

import warnings

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient

from portal.middleware import StaticFilesMiddleware


async def _page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("page")


def _sync_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("page")


def test_the_middleware_stays_async_in_an_async_chain_and_sync_in_a_sync_one() -> None:
    assert iscoroutinefunction(StaticFilesMiddleware(_page))
    assert not iscoroutinefunction(StaticFilesMiddleware(_sync_page))


@pytest.mark.django_db
def test_static_files_and_pages_are_both_served_under_asgi() -> None:
    async def fetch() -> tuple[int, bytes, int]:
        client = AsyncClient()
        script = await client.get("/static/js/ask.js")
        body = b"".join([part async for part in script])  # type: ignore[attr-defined]
        page = await client.get("/accounts/login/")
        return script.status_code, body, page.status_code

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, body, page = async_to_sync(fetch)()
    assert status == 200 and b"text/event-stream" in body
    assert page == 200
    # Streamed as the event loop reads it: Django warned of every static file it had to read
    # through a thread ("must consume synchronous iterators"), a line in the log each.
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
