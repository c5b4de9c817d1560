"""WhiteNoise's static files, in a middleware chain that stays on the event loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise (6.x) is synchronous only, so under ASGI Django would run every request's
    whole middleware chain through a thread and back, the streamed answers of Ask included
    (bench/ask_load.py measured it). This one passes requests that are not for a static file
    straight on, on the event loop; serving a file still runs in a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], **kwargs: Any) -> None:
        super().__init__(get_response, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if path.startswith(self.static_prefix):
            if self.autorefresh:  # development: look on disk, off the event loop
                static_file = await sync_to_async(self.find_file)(path)
            else:
                static_file = self.files.get(path)
            if static_file is not None:
                response: HttpResponseBase = await sync_to_async(self.serve)(static_file, request)
                return response
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)
