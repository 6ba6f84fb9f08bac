"""SIGKILL an archiver in the middle of archiving a session: another one completes it, once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from chat.store.keys import Keys
from chat.store.migrate import upgrade
from chat.store.sql import ChatSummary, Transcript, make_engine
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ArchiverProcess, ServerThread, recv_until, send, visitor_hello


@pytest.fixture
def crash_env(tmp_path: Path, prefix: str, deduce_cache: Path) -> Iterator[tuple[ServerThread, dict[str, str]]]:
    db = tmp_path / "chat.sqlite3"
    settings = make_settings(tmp_path, prefix, database_url=f"sqlite:///{db}")
    upgrade(settings)
    server = ServerThread(settings, REDIS_URL).start()
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATABASE_URL": f"sqlite:///{db}",
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_DEDUCE_CACHE_DIR": str(deduce_cache),
        "CHAT_ARCHIVE_LEASE_SECONDS": "2",
    }
    yield server, env
    server.stop()


async def count(url: str, model: type, sid: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(model).where(model.session_id == sid)  # type: ignore[attr-defined]
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def test_killed_archiver_is_taken_over(crash_env: tuple[ServerThread, dict[str, str]]) -> None:
    server, env = crash_env
    settings = server.settings
    keys = Keys(settings.redis_prefix)
    visitor, session = await visitor_hello(server, first_message="Ik ben Sanne Jansen en ik ben bang")
    sid = session["session_id"]
    await send(visitor, {"type": "message", "client_id": "a", "text": "bel me op 06-12345678"})
    await recv_until(visitor, "ack")
    await send(visitor, {"type": "end"})
    await recv_until(visitor, "ended")

    redis = Redis.from_url(REDIS_URL)
    try:
        # The first archiver stops right after claiming the session; it is killed there.
        first = ArchiverProcess({**env, "CHAT_ARCHIVER_PAUSE": "claimed:120"}).start()
        for _ in range(200):
            if await redis.zscore(keys.archive_processing, sid) is not None:
                break
            await asyncio.sleep(0.05)
        assert await redis.zscore(keys.archive_processing, sid) is not None, first.lines
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        assert await count(settings.sqlalchemy_url, Transcript, sid) == 0
        assert await redis.exists(keys.events(sid))

        # The second one takes the session over once the lease has run out.
        second = ArchiverProcess(env).start()
        try:
            for _ in range(300):
                if await count(settings.sqlalchemy_url, Transcript, sid):
                    break
                await asyncio.sleep(0.1)
            for _ in range(50):
                if not await redis.exists(keys.events(sid)):
                    break
                await asyncio.sleep(0.1)
        finally:
            second.stop()
        assert await count(settings.sqlalchemy_url, Transcript, sid) == 1
        assert await count(settings.sqlalchemy_url, ChatSummary, sid) == 1
        assert not await redis.exists(*keys.session_keys(sid))
        assert await redis.zscore(keys.archive_processing, sid) is None
        assert await redis.zscore(keys.archive_queue, sid) is None
    finally:
        await redis.aclose()
