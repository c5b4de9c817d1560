"""Django's Redis cache with one connection pool per process.

Django keeps its cache objects in an asgiref Local that is per context under ASGI: every request
(an asyncio task of its own) got a fresh RedisCache, a fresh connection pool, and so a fresh TCP
connection to Redis, with redis-py's handshake (and its version lookup in the package metadata)
on its first command. bench/ask_load.py's profile showed it on every question (the safety list's
version, the rate limit). Here every cache object of a process shares one client per
configuration, and so its pool; redis-py's pools are thread-safe and start afresh after a fork."""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[tuple[str, ...], str], RedisCacheClient] = {}
_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        servers, options = self._servers, self._options  # type: ignore[attr-defined]
        key = (tuple(servers), repr(sorted(options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = RedisCacheClient(servers, **options)
        return client
