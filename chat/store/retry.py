"""Bounded retries of Redis commands that never reached Redis.

A Redis restarting or failing over refuses connections for a moment. A command whose connection could
not even be opened was never sent, so sending it again is safe whatever it does (an append, a session
created, a counter moved). A command that was sent and then lost its reply (a timeout reading, a
connection reset) may have run: it is not retried here. It fails as ``unavailable``, and the client
resends: a resent message carries the same ``client_id``, which the append script answers with its first
seq (docs/operations.md, "Redis outages").

redis-py's ``Retry`` counts attempts; this one also stops at a deadline (``CHAT_REDIS_RETRY_SECONDS``),
so that a visitor waits a bounded time for ``unavailable`` instead of minutes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")


def never_sent(exc: BaseException) -> bool:
    """Whether the failure happened while connecting, before any byte of the command was written.

    redis-py words every connect failure "Error N connecting to ..." or "Timeout connecting to server".
    """
    return "connecting to" in str(exc)


class ConnectRetry(Retry):
    """Retries connect failures with jittered exponential backoff, for at most ``seconds`` in all."""

    def __init__(self, seconds: float, base: float = 0.05, cap: float = 0.5) -> None:
        super().__init__(
            ExponentialWithJitterBackoff(base=base, cap=cap),
            retries=-1,  # bounded by the deadline below instead
            supported_errors=(RedisConnectionError, RedisTimeoutError),
        )
        self.seconds = seconds

    def __deepcopy__(self, memo: dict[int, Any]) -> ConnectRetry:
        # Every connection gets a copy (redis-py deep-copies the retry); the settings are all it holds.
        return ConnectRetry(self.seconds)

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        deadline = time.monotonic() + self.seconds

        def retryable(exc: Exception) -> bool:
            if is_retryable is not None and not is_retryable(exc):
                return False
            return never_sent(exc) and time.monotonic() < deadline

        return await super().call_with_retry(do, fail, retryable, with_failure_count)
