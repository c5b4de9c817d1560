"""Django's Redis cache with one connection pool per process.

Django keeps its cache objects in an asgiref Local that is per context under ASGI: every request
(an asyncio task of its own) got a fresh RedisCache, a fresh connection pool, and so a fresh TCP
connection to Redis, with redis-py's handshake (and its version lookup in the package metadata)
on its first command. bench/ask_load.py's profile showed it on every question (the safety list's
version, the rate limit). Here every cache object of a process shares one client per
configuration, and so its pool; redis-py's pools are thread-safe and start afresh after a fork."""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class SharedRedisClient(RedisCacheClient):
    """Django's client, making its redis.Redis once per connection pool rather than once per
    cache call: each redis.Redis builds its table of ~170 reply parsers in a case-insensitive
    dict (0.1 ms; three per question: the safety list's version, the rate limit's read and
    write). A redis.Redis is thread-safe: it takes a connection from its pool per command."""

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._redis: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._redis.get(id(pool))
        if client is None:
            client = self._redis[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


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
                client = _clients[key] = SharedRedisClient(servers, **options)
        return client
