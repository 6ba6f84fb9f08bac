"""`chat serve` with no configuration: embedded Redis, SQLite, and an archiver child, all from one command."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
from sqlalchemy import func, select

from chat.settings import Settings
from chat.store.sql import ChatSummary, make_engine
from tests.helpers import ServerProcess, recv, recv_until, send


async def test_one_command_runs_everything(tmp_path: Path, deduce_cache: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update(CHAT_DATA_DIR=str(tmp_path / "data"), CHAT_DEDUCE_CACHE_DIR=str(deduce_cache))
    server = ServerProcess(env)
    server.env = env
    server.start()
    try:
        assert any("chat counselor add" in line for line in server.lines), "first start says how to add a counselor"
        url_file = tmp_path / "data" / "redis.url"
        assert url_file.read_text().startswith("unix://")
        async with httpx.AsyncClient(base_url=server.http) as client:
            assert (await client.get("/readyz")).json() == {"status": "ready"}
            assert (await client.get("/api/status")).json()["open"] is True
        from tests.helpers import connect

        visitor = await connect(server.ws + "/ws/visitor")
        await send(visitor, {"type": "hello", "audience": "youth", "language": "en", "first_message": "hi"})
        first = await recv(visitor)
        assert first["type"] == "session", first
        sid = first["session_id"]
        await send(visitor, {"type": "end"})
        await recv_until(visitor, "ended")
        await visitor.close()
        # The archiver child on the embedded Redis archives it.
        settings = Settings(data_dir=tmp_path / "data")
        engine = make_engine(settings.sqlalchemy_url)
        try:
            archived = 0
            for _ in range(600):
                async with engine.connect() as conn:
                    query = select(func.count()).select_from(ChatSummary).where(ChatSummary.session_id == sid)
                    archived = (await conn.execute(query)).scalar_one()
                if archived:
                    break
                await asyncio.sleep(0.1)
            assert archived == 1, server.lines
        finally:
            await engine.dispose()
    finally:
        assert server.stop(signal.SIGTERM) == 0
    # Graceful exit: the embedded Redis and its socket are gone.
    assert not (tmp_path / "data" / "redis.url").exists()
