"""Bounded retries of what never reached Redis (chat/store/retry.py), on a redis-server of the test's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from chat.store.client import connect
from chat.store.retry import ConnectRetry
from tests.server.test_outage import OwnRedis


@pytest.fixture
def own(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_a_command_waits_out_a_restart_within_the_retry_window(own: OwnRedis) -> None:
    client = connect(own.url, retry=ConnectRetry(10.0))
    try:
        await client.set("k", "1")
        own.stop()
        await client.connection_pool.disconnect()  # the next command must open a new connection
        restart = threading.Timer(0.5, own.start)  # Redis comes back half a second later (appendonly: same data)
        restart.start()
        try:
            assert await client.get("k") == b"1"  # refused at first, resent, answered: the caller never saw it
        finally:
            restart.join()  # started (or not) before the fixture stops it: no redis-server left behind
    finally:
        await client.aclose()


async def test_past_the_window_the_command_fails_as_unavailable(own: OwnRedis) -> None:
    client = connect(own.url, retry=ConnectRetry(0.3))
    try:
        own.stop()
        await client.connection_pool.disconnect()
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await client.get("k")
        # Bounded: the window plus one backoff step, not redis-py's default of retrying without a deadline.
        # (Generous: this only catches a retry that does not stop.)
        assert time.monotonic() - started < 5
    finally:
        await client.aclose()
