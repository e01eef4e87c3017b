"""Rate-limit counters: in memory, in Redis (one round trip), or Redis with a memory fallback.

:class:`RedisCounters` sends every counter of a request to Redis in one Lua
script (:data:`HIT_SCRIPT`, run with ``EVALSHA``); :class:`FallbackCounters`
moves the counting to memory while Redis fails and back within about a
second of it answering; :class:`MemoryCounters` keeps them in this process
(``limits``' :class:`~limits.storage.MemoryStorage`).  Each ``hit`` takes a
sequence of :class:`Hit` and returns ``(count, reset_at)`` for each, with
``reset_at`` in Unix seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from limits.storage import MemoryStorage

logger = logging.getLogger("bastion.security")

#: Schemes of a Redis storage URI (TLS or not).
REDIS_SCHEMES = ("redis://", "rediss://")
#: A prefix older configurations put before ``redis://``; it is ignored.
FALLBACK_PREFIX = "fallback+"


def redis_url(storage_uri: str) -> str:
    """The plain ``redis://`` URL of a storage URI (an old ``fallback+`` prefix removed)."""
    return str(storage_uri).removeprefix(FALLBACK_PREFIX)


def uses_redis(storage_uri: str) -> bool:
    """True when ``storage_uri`` (``RATELIMIT_STORAGE_URI``) names a Redis server."""
    return redis_url(storage_uri).startswith(REDIS_SCHEMES)


class Hit(NamedTuple):
    """One counter to read and add to: ``amount`` (0 to read only) per ``expiry`` seconds."""

    key: str
    expiry: int
    amount: int


#: Adds ARGV[2i] to KEYS[i] (a fixed window of ARGV[2i-1] seconds, started
#: by its first hit) or only reads it when that is 0; returns each count and
#: its time to live in milliseconds.  A counter found without an expiry
#: (written by something else) gets one, so no key lives forever.
HIT_SCRIPT = """
local result = {}
for i, key in ipairs(KEYS) do
    local expiry = tonumber(ARGV[2 * i - 1])
    local amount = tonumber(ARGV[2 * i])
    local count
    if amount > 0 then
        count = redis.call("INCRBY", key, amount)
    else
        count = tonumber(redis.call("GET", key) or "0")
    end
    local ttl = redis.call("PTTL", key)
    if count > 0 and ttl < 0 then
        redis.call("EXPIRE", key, expiry)
        ttl = expiry * 1000
    end
    result[2 * i - 1] = count
    result[2 * i] = ttl
end
return result
"""


class MemoryCounters:
    """Counters in this process (``limits``' :class:`~limits.storage.MemoryStorage`)."""

    def __init__(self) -> None:
        self.storage = MemoryStorage()

    def hit(self, hits: Sequence[Hit]) -> list[tuple[int, float]]:
        """Add each hit; return ``(count, reset_at)`` for each (Unix seconds)."""
        counts: list[tuple[int, float]] = []
        for item in hits:
            if item.amount:
                count = self.storage.incr(item.key, item.expiry, item.amount)
            else:
                count = self.storage.get(item.key)
            reset_at = self.storage.get_expiry(item.key) if count else time.time() + item.expiry
            counts.append((count, reset_at))
        return counts

    def check(self) -> bool:
        """Always ``True``: memory is always there."""
        return True

    def reset(self) -> None:
        """Forget every counter."""
        self.storage.reset()


class RedisCounters:
    """Counters in Redis, all of a request's in one ``EVALSHA``.

    :param url: ``redis://`` or ``rediss://`` URL.
    :param options: passed to :meth:`redis.Redis.from_url` (for example
        ``socket_timeout`` in seconds).
    :raises ValueError: for a malformed URL.
    """

    def __init__(self, url: str, **options: Any) -> None:
        import redis

        self.errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, **options)
        self.script = self.client.register_script(HIT_SCRIPT)

    def hit(self, hits: Sequence[Hit]) -> list[tuple[int, float]]:
        """Add each hit in one round trip; ``(count, reset_at)`` for each.

        :raises redis.RedisError: when Redis fails (refused, timed out, any error).
        """
        args: list[int] = []
        for item in hits:
            args += (item.expiry, item.amount)
        answer = self.script(keys=[item.key for item in hits], args=args)
        now = time.time()
        return [
            (int(answer[2 * i]), now + max(int(answer[2 * i + 1]), 0) / 1000)
            for i in range(len(hits))
        ]

    def check(self) -> bool:
        """True when Redis answers a ``PING`` (never raises)."""
        try:
            return bool(self.client.ping())
        except Exception:
            return False


class FallbackCounters:
    """Redis counters that move to memory while Redis fails, and come back.

    :param primary: the Redis counters.
    """

    #: Seconds between attempts to reach Redis again while it is down.
    retry_interval: float = 1.0

    def __init__(self, primary: RedisCounters) -> None:
        self.primary = primary
        self.fallback = MemoryCounters()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.lock = threading.Lock()

    def now(self) -> float:
        """The clock of the retries, in seconds (monotonic; tests may override it)."""
        return time.monotonic()

    @property
    def using_fallback(self) -> bool:
        """True while counts are kept in memory."""
        return self.down_since is not None

    def hit(self, hits: Sequence[Hit]) -> list[tuple[int, float]]:
        """Count in Redis, or in memory while it is down (never raises a Redis error)."""
        if self.down_since is not None and self.now() < self.retry_at:
            return self.fallback.hit(hits)
        try:
            counts = self.primary.hit(hits)
        except self.primary.errors as error:
            with self.lock:
                if self.down_since is None:
                    self.down_since = self.now()
                    logger.warning(
                        "rate-limit storage unreachable (%s); counting in memory until it answers",
                        type(error).__name__,
                    )
                self.retry_at = self.now() + self.retry_interval
            return self.fallback.hit(hits)
        if self.down_since is not None:
            with self.lock:
                if self.down_since is not None:
                    logger.info(
                        "rate-limit storage recovered after %.1f s; counting in Redis again",
                        self.now() - self.down_since,
                    )
                    self.down_since = None
        return counts

    def check(self) -> bool:
        """True when Redis answers a ``PING``."""
        return self.primary.check()


Counters = MemoryCounters | RedisCounters | FallbackCounters


def counters_from_config(config: Any) -> Counters:
    """The counters ``RATELIMIT_STORAGE_URI`` names, with the fallback if enabled.

    :raises ValueError: for a storage URI that is neither ``memory://`` nor Redis.
    """
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if uri.startswith("memory://"):
        return MemoryCounters()
    if not uses_redis(uri):
        raise ValueError(
            "RATELIMIT_STORAGE_URI must start with memory://, redis:// or rediss://, "
            f"not {uri.split(':')[0]}"
        )
    primary = RedisCounters(redis_url(uri), **dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {}))
    if config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True):
        return FallbackCounters(primary)
    return primary
