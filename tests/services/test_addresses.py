"""Client addresses: only ever input to a rotating HMAC; X-Forwarded-For believed from trusted proxies only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ServerThread, connect, recv, send


def _server(tmp_path: Path, prefix: str, trusted: str) -> ServerThread:
    settings = make_settings(tmp_path, prefix, hellos_per_minute=2, trusted_proxies=trusted)
    upgrade(settings)
    return ServerThread(settings, REDIS_URL).start()


@pytest.fixture
def behind_proxy(tmp_path: Path, prefix: str) -> Iterator[ServerThread]:
    srv = _server(tmp_path, prefix, "127.0.0.1")
    yield srv
    srv.stop()


@pytest.fixture
def no_proxy(tmp_path: Path, prefix: str) -> Iterator[ServerThread]:
    srv = _server(tmp_path, prefix, "")
    yield srv
    srv.stop()


async def hello_from(server: ServerThread, forwarded: str | None) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    ws = await connect(server.ws + "/ws/visitor", additional_headers=headers)
    await send(ws, {"type": "hello", "audience": "youth", "language": "nl"})
    frame = await recv(ws)
    await ws.close()
    return str(frame["type"] if frame["type"] == "session" else frame["code"])


async def test_forwarded_address_from_a_trusted_proxy_counts(behind_proxy: ServerThread) -> None:
    # Two new chats per address per minute: each forwarded address has its own count.
    assert [await hello_from(behind_proxy, "203.0.113.7") for _ in range(3)] == ["session", "session", "rate_limited"]
    assert await hello_from(behind_proxy, "198.51.100.23, 127.0.0.1") == "session"
    # Nothing in Redis names either address: the counters are keyed by an HMAC.
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() async for k in redis.scan_iter(match=f"{behind_proxy.settings.redis_prefix}:*")]
        values = [str(await redis.dump(k)) for k in keys if ":{rate}:" in k]
        assert values, "the rate counters are there to be checked"
        salts = [k for k in keys if ":salt:address:" in k]
        salt_ttl = max([await redis.ttl(k) for k in salts], default=0)
    finally:
        await redis.aclose()
    assert not any("203.0.113.7" in k or "198.51.100.23" in k for k in keys + values)
    # One salt a day, kept a second day (a block made late in the day holds the next morning), then gone.
    assert len(salts) == 1 and 0 < salt_ttl <= 2 * 24 * 3600


async def test_forwarded_header_from_anyone_else_is_ignored(no_proxy: ServerThread) -> None:
    # Without a trusted proxy a client cannot dodge the limit by inventing addresses.
    results = [await hello_from(no_proxy, f"203.0.113.{i}") for i in range(3)]
    assert results == ["session", "session", "rate_limited"]
