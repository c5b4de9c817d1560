"""An upload handler that stops reading a file as soon as it passes the size limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def limit_bytes() -> int:
    """The largest upload accepted (KNOWLEDGE_MAX_UPLOAD_MB)."""
    return int(settings.KNOWLEDGE_MAX_UPLOAD_MB) * 1024 * 1024


class SizeLimitedUploadHandler(FileUploadHandler):
    """First in the chain: counts each file's bytes and abandons the whole upload past the
    limit, marking the request so that the view can say why (`upload_too_large`)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > limit_bytes():
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            # The rest of the body is read and dropped, so the browser gets our answer.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
