"""Files people made (drafts' exports, images): kept through Django's storage API and served
only by views that have checked who asks, never at a public or guessable URL.

`STORAGES["default"]` is the local `MEDIA_ROOT` by default; another backend there (an
S3-compatible store) lets web and workers on several machines share one store. MEDIA_ROOT is
never mapped to a URL.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.http.response import HttpResponseBase

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\;]')


def private_file(
    name: str, *, filename: str, content_type: str, inline: bool = False
) -> FileResponse:
    """A response streaming stored file `name` to a caller the view has already checked.
    Raises FileNotFoundError when the store no longer has it."""
    handle = default_storage.open(name, "rb")
    response = FileResponse(handle, content_type=content_type)
    private_headers(response, filename, inline=inline)
    return response


def private_headers(response: HttpResponseBase, filename: str, *, inline: bool = False) -> None:
    """The headers of a private file, for a response made in memory (a .docx built on demand)."""
    disposition = "inline" if inline else "attachment"
    # A title is people's text: no line break, quote or backslash may reach the header.
    filename = " ".join(_UNSAFE.sub(" ", filename).split()) or "download"
    ascii_name = filename.encode("ascii", "ignore").decode().strip() or "download"
    response["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
