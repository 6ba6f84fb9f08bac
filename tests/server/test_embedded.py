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
    env.update(CHAT_DATA_DIR=str(tmp_path / "data"), CHAT_DEDUCE_CACHE_DIR=str(deduce_cache), CHAT_DRAIN_SECONDS="0")
    server = ServerProcess(env)
    server.env = env
    server.start()
    try:
        assert any("chat counselor add" in line for line in server.lines), "first start says how to add a counselor"
        url_file = tmp_path / "data" / "redis.url"
        assert url_file.read_text().startswith("unix://")
        async with httpx.AsyncClient(base_url=server.http) as client:
            assert (await client.get("/readyz")).json()["status"] == "ready"
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


async def test_embedded_redis_full_answers_unavailable_and_recovers(tmp_path: Path) -> None:
    """maxmemory with noeviction: nothing live is evicted; when full, a documented `unavailable` (1013 / 503)."""
    import redis as redis_sync

    from chat.server.embedded import EmbeddedRedis
    from chat.store.migrate import upgrade
    from tests.conftest import make_settings
    from tests.helpers import ServerThread, connect, until_closed

    embedded = EmbeddedRedis(tmp_path / "data", maxmemory="8mb")
    url = embedded.start()
    client = redis_sync.Redis.from_url(url)
    settings = make_settings(tmp_path, "full", redis_url=url)
    await asyncio.to_thread(upgrade, settings)
    srv = await asyncio.to_thread(ServerThread(settings, url).start)
    try:
        config = {str(k): str(v) for k, v in client.config_get("maxmemory*").items()}
        assert config["maxmemory"] == str(8 * 1024 * 1024) and config["maxmemory-policy"] == "noeviction"
        live = await connect(srv.ws + "/ws/visitor")
        await send(live, {"type": "hello", "audience": "youth", "language": "nl", "first_message": "ik ben er"})
        session = await recv(live)
        assert session["type"] == "session"
        # Fill the memory until Redis refuses a write: it refuses, it does not evict.
        filled = 0
        while True:
            try:
                client.set(f"junk:{filled}", b"x" * 200_000)
                filled += 1
            except redis_sync.exceptions.OutOfMemoryError:
                break
        # Client buffers come and go around the edge; hold Redis firmly over its limit for the checks below.
        client.config_set("maxmemory", "1mb")
        # The live session was not evicted.
        assert client.exists(srv.rt.keys.session(session["session_id"]))
        # A new chat: `unavailable` and 1013 (try again later), not `internal`.
        refused = await connect(srv.ws + "/ws/visitor")
        await send(refused, {"type": "hello", "audience": "parent", "language": "nl"})
        frames = await until_closed(refused)
        assert [(f["type"], f["code"]) for f in frames] == [("error", "unavailable")]
        assert refused.close_code == 1013
        # A message in the live chat: the same answer.
        await send(live, {"type": "message", "client_id": "m1", "text": "hallo?"})
        frames = await until_closed(live)
        assert ("error", "unavailable") in [(f["type"], f.get("code")) for f in frames], frames
        assert live.close_code == 1013
        async with httpx.AsyncClient(base_url=srv.http) as http:
            response = await http.post("/api/rating", json={"score": 5, "language": "nl"})
            assert response.status_code == 503 and response.json() == {"detail": "unavailable"}
            assert response.headers["retry-after"]
        # Room again: chats start again.
        client.delete(*[f"junk:{i}" for i in range(filled)])
        client.config_set("maxmemory", "8mb")
        # `unavailable` means "try again later": a client that does so gets a chat once Redis has room (the
        # outage probe may still be answering for the outage for a moment on a busy machine).
        answers = []
        for _ in range(20):
            again = await connect(srv.ws + "/ws/visitor")
            await send(again, {"type": "hello", "audience": "parent", "language": "nl"})
            answer = await recv(again)
            await again.close()
            answers.append((answer["type"], answer.get("code")))
            if answer["type"] == "session":
                break
            await asyncio.sleep(0.5)
        assert answers[-1][0] == "session" and set(answers[:-1]) <= {("error", "unavailable")}, answers
    finally:
        client.close()
        await asyncio.to_thread(srv.stop)
        embedded.stop()
