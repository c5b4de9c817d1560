"""Pages of Write."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import Http404

from portal.errors import NotFound

V = TypeVar("V", bound=Callable[..., Any])


def not_found_is_404(view: V) -> V:
    """A draft someone may not see is a 404 page, exactly like a missing one."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapped  # type: ignore[return-value]
