"""Rate-limit storage that keeps counting in memory while Redis is down.

Flask-Limiter has an in-memory fallback of its own, but it is switched on by
*any* exception raised while limits are checked (a database error in a key
function included), and it comes back to Redis only after a back-off that
grows to 32 seconds.  :class:`FallbackStorage` is a ``limits`` storage (the
library's documented extension point, "Custom storage backends") that wraps
a :class:`~limits.storage.RedisStorage` and a
:class:`~limits.storage.MemoryStorage`:

* every call goes to Redis while it answers;
* when Redis raises one of its connection errors, the call is answered from
  memory, one warning is logged, and Redis is tried again at most every
  :attr:`FallbackStorage.retry_interval` seconds (1 s by default), so limits
  return to Redis within about a second of it coming back;
* Flask-Limiter never sees a storage error, so its own fallback stays idle;
* one round trip per limit: the increment returns the counter's time to live
  with its value, and the rate-limit headers Flask-Limiter computes next
  (``get`` and ``get_expiry`` of the same key) are answered from that, so
  the default two limits cost two Redis round trips per request instead of
  four.  The answers are kept per thread and per request only
  (:meth:`FallbackStorage.begin_request`).

While Redis is down each worker counts on its own, so the effective limit is
(workers x limit); that is the price of staying up.  ``/readyz`` reports the
outage.

Select it with ``RATELIMIT_STORAGE_URI=fallback+redis://host:6379/0``
(``fallback+rediss://`` for TLS); :func:`flask_bastion.ratelimit.init_ratelimit`
does that for a plain ``redis://`` URI when ``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``
is on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from limits.storage import (
    MemoryStorage,
    MovingWindowSupport,
    RedisStorage,
    SlidingWindowCounterSupport,
    Storage,
)

logger = logging.getLogger("bastion.security")
T = TypeVar("T")

#: URI scheme prefix that selects :class:`FallbackStorage`.
FALLBACK_PREFIX = "fallback+"

#: ``limits``' fixed-window increment (INCRBY, EXPIRE on the first hit) that
#: also returns the key's time to live in milliseconds.
INCR_WITH_TTL = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("pttl", KEYS[1])}
"""
#: Seconds an answer of :meth:`FallbackStorage.incr` may serve ``get`` and
#: ``get_expiry`` (a safety net; :meth:`FallbackStorage.begin_request` clears them).
RECALL_SECONDS = 1.0


class FallbackStorage(Storage, MovingWindowSupport, SlidingWindowCounterSupport):
    """Redis rate-limit storage with an in-memory fallback and a fast return.

    :param uri: ``fallback+redis://...`` or ``fallback+rediss://...``.
    :param wrap_exceptions: passed to ``limits`` (unused: no error escapes).
    :param options: passed to :class:`~limits.storage.RedisStorage` (for
        example ``socket_timeout`` in seconds).
    :raises limits.errors.ConfigurationError: for a malformed Redis URI.
    """

    STORAGE_SCHEME = ["fallback+redis", "fallback+rediss"]

    #: Seconds between attempts to reach Redis again while it is down.
    retry_interval: float = 1.0

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.primary = RedisStorage(uri.removeprefix(FALLBACK_PREFIX), **options)
        self.fallback = MemoryStorage()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.incr_with_ttl = self.primary.get_connection().register_script(INCR_WITH_TTL)
        self.local = threading.local()

    def begin_request(self) -> None:
        """Forget the counters remembered for the previous request of this thread."""
        self.local.seen = {}

    def _remember(self, key: str, count: int, expires_at: float) -> None:
        seen = getattr(self.local, "seen", None)
        if seen is None:
            seen = self.local.seen = {}
        seen[key] = (count, expires_at, time.monotonic())

    def _recall(self, key: str) -> tuple[int, float] | None:
        entry = getattr(self.local, "seen", {}).get(key)
        if entry is None or time.monotonic() - entry[2] > RECALL_SECONDS:
            return None
        return entry[0], entry[1]

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """The exceptions that mean "Redis is unreachable" (from the Redis storage)."""
        return self.primary.base_exceptions

    def now(self) -> float:
        """The clock used for retries, in seconds (monotonic; tests may override it)."""
        return time.monotonic()

    @property
    def using_fallback(self) -> bool:
        """True while calls are answered from memory."""
        return self.down_since is not None

    def _call(self, method: Callable[[Storage], T]) -> T:
        """Run ``method`` on Redis, or on the memory storage while Redis is down."""
        if self.down_since is not None and self.now() < self.retry_at:
            return method(self.fallback)
        try:
            result = method(self.primary)
        except self.primary.base_exceptions as error:
            if self.down_since is None:
                self.down_since = self.now()
                logger.warning(
                    "rate-limit storage unreachable (%s); counting in memory until it answers",
                    type(error).__name__,
                )
            self.retry_at = self.now() + self.retry_interval
            return method(self.fallback)
        if self.down_since is not None:
            logger.info(
                "rate-limit storage recovered after %.1f s; counting in Redis again",
                self.now() - self.down_since,
            )
            self.down_since = None
        return result

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the counter ``key`` that expires after ``expiry`` seconds.

        One round trip to Redis, which also returns the time to live; both are
        remembered for this request's ``get`` and ``get_expiry`` of ``key``.
        """

        def increment(storage: Storage) -> int:
            if storage is self.fallback:
                return self.fallback.incr(key, expiry, amount)
            count, ttl_ms = self.incr_with_ttl([self.primary.prefixed_key(key)], [expiry, amount])
            count = int(count)
            self._remember(key, count, time.time() + max(int(ttl_ms), 0) / 1000)
            return count

        return self._call(increment)

    def get(self, key: str) -> int:
        """The counter ``key`` (0 when absent); no round trip right after :meth:`incr`."""
        recalled = self._recall(key)
        if recalled is not None and not self.using_fallback:
            return recalled[0]
        return self._call(lambda storage: storage.get(key))

    def get_expiry(self, key: str) -> float:
        """When the counter ``key`` expires, as a Unix timestamp in seconds."""
        recalled = self._recall(key)
        if recalled is not None and not self.using_fallback:
            return recalled[1]
        return self._call(lambda storage: storage.get_expiry(key))

    def check(self) -> bool:
        """True when Redis answers a ``PING`` (never raises)."""
        try:
            return bool(self.primary.check())
        except Exception:
            return False

    def reset(self) -> int | None:
        """Remove every rate-limit key from Redis and memory; the count removed from Redis."""
        self.fallback.reset()
        return self.primary.reset()

    def clear(self, key: str) -> None:
        """Remove the counter ``key``."""
        getattr(self.local, "seen", {}).pop(key, None)
        self._call(lambda storage: storage.clear(key))

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Moving window: take ``amount`` entries of ``limit`` per ``expiry`` seconds."""
        return self._call(lambda storage: storage.acquire_entry(key, limit, expiry, amount))  # type: ignore[attr-defined]

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """Moving window: (start of the window, entries in it)."""
        return self._call(lambda storage: storage.get_moving_window(key, limit, expiry))  # type: ignore[attr-defined]

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        """Sliding-window counter: take ``amount`` of ``limit`` per ``expiry`` seconds."""
        return self._call(
            lambda storage: storage.acquire_sliding_window_entry(key, limit, expiry, amount)  # type: ignore[attr-defined]
        )

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        """Sliding-window counter: the previous and current windows' counts and TTLs."""
        return self._call(lambda storage: storage.get_sliding_window(key, expiry))  # type: ignore[attr-defined]

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        """Sliding-window counter: remove both windows of ``key``."""
        self._call(lambda storage: storage.clear_sliding_window(key, expiry))  # type: ignore[attr-defined]
