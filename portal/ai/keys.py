"""Provider API keys at rest: Fernet ciphertext keyed from PORTAL_AI_KEY, and their masked form."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(secret: str) -> MultiFernet:
    # Any string works as PORTAL_AI_KEY: each comma-separated part is stretched to a Fernet key.
    parts = [part.strip() for part in secret.split(",") if part.strip()]
    if not parts:
        raise ImproperlyConfigured("PORTAL_AI_KEY is empty")
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(part.encode()).digest())) for part in parts]
    )


def encrypt(clear: str) -> str:
    return _fernet(settings.PORTAL_AI_KEY).encrypt(clear.encode()).decode("ascii")


class UndecryptableKey(Exception):
    """The stored key was encrypted with a PORTAL_AI_KEY that is no longer configured."""


def decrypt(token: str) -> str:
    """The clear key; an empty string when none is stored."""
    if not token:
        return ""
    try:
        return _fernet(settings.PORTAL_AI_KEY).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise UndecryptableKey() from None


def mask(clear: str) -> str:
    """`sk-…abcd`: enough to tell keys apart, never enough to use one."""
    if not clear:
        return ""
    if len(clear) <= 8:
        return "…" + clear[-2:]
    prefix = clear[:3] if clear[:3].isascii() else ""
    return f"{prefix}…{clear[-4:]}"
