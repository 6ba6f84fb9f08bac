"""A chat full of personal data through real processes; afterwards none of it is anywhere but redacted.

`chat serve` and `chat archiver` run as real child processes on real Redis and
a real SQLite file. Afterwards every log line of both, every row of every SQL
table and every Redis key of this run are searched for the personal data,
the tokens, the user agent and the client address.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import MetaData, select

from chat.store.migrate import upgrade
from chat.store.sql import Transcript, make_engine
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ArchiverProcess, ServerProcess, add_counselor, recv, recv_match, recv_until, send

PERSONAL = [
    "Sanne",
    "Jansen",
    "06-12345678",
    "0612345678",
    "sanne.jansen@gmail.com",
    "Kerkstraat 12",
    "1234 AB",
    "NL91ABNA0417164300",
    "111222333",
    "12-ABC-3",
    "mo_ahmadi2009",
    "14-03-2010",
    "192.168.1.34",
    "Stedelijk Gymnasium",
    "Kevin",
    "de Boer",
    "Amersfoort",
]
VISITOR_LINES = [
    # A postcode right after the house number is part of the [ADRES]; on its own it is a [POSTCODE].
    "Ik woon op de Kerkstraat 12 in Amersfoort, postcode 1234 AB",
    "Bel me op 06-12345678 of mail sanne.jansen@gmail.com",
    "Hij heet Kevin de Boer en zijn auto heeft kenteken 12-ABC-3",
    "Zijn insta is @mo_ahmadi2009 en ik ben geboren op 14-03-2010",
    "Mijn BSN is 111222333 en mijn rekening NL91ABNA0417164300",
    "Ik zit op het Stedelijk Gymnasium, mijn ip is 192.168.1.34",
]
AGENT = "PrivacyProbeAgent/9.9"


@pytest.fixture
def processes(tmp_path: Path, prefix: str, deduce_cache: Path) -> Iterator[tuple[ServerProcess, ArchiverProcess, Any]]:
    db = tmp_path / "chat.sqlite3"
    settings = make_settings(tmp_path, prefix, database_url=f"sqlite:///{db}")
    upgrade(settings)
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATABASE_URL": f"sqlite:///{db}",
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_SECRET_KEY": "s" * 40,
        "CHAT_DEDUCE_CACHE_DIR": str(deduce_cache),
    }
    archiver = ArchiverProcess(env).start()
    server = ServerProcess(env).start()
    yield server, archiver, settings
    server.stop()
    archiver.stop()


async def connect_as(url: str) -> Any:
    import websockets

    return await websockets.connect(url, compression=None, user_agent_header=AGENT)


async def dump_redis(prefix: str) -> str:
    redis = Redis.from_url(REDIS_URL)
    parts: list[str] = []
    try:
        async for key in redis.scan_iter(match=f"{prefix}:*"):
            kind = (await redis.type(key)).decode()
            parts.append(key.decode(errors="replace"))
            if kind == "string":
                parts.append(str(await redis.get(key)))
            elif kind == "hash":
                parts.append(str(await redis.hgetall(key)))
            elif kind == "zset":
                parts.append(str(await redis.zrange(key, 0, -1, withscores=True)))
            elif kind == "set":
                parts.append(str(await redis.smembers(key)))
            elif kind == "list":
                parts.append(str(await redis.lrange(key, 0, -1)))
            elif kind == "stream":
                parts.append(str(await redis.xrange(key)))
    finally:
        await redis.aclose()
    return "\n".join(parts)


async def dump_sql(url: str) -> str:
    engine = make_engine(url)
    parts: list[str] = []
    try:
        async with engine.connect() as conn:
            meta = MetaData()
            await conn.run_sync(meta.reflect)
            for table in meta.sorted_tables:
                for row in (await conn.execute(select(table))).all():
                    parts.append(f"{table.name}: {tuple(row)!r}")
    finally:
        await engine.dispose()
    return "\n".join(parts)


async def test_no_trace_but_the_redacted_transcript(processes: tuple[ServerProcess, ArchiverProcess, Any]) -> None:
    server, archiver, settings = processes
    await add_counselor(settings, "fatima", password="een goed wachtwoord", display_name="Fatima")
    async with httpx.AsyncClient(base_url=server.http, headers={"User-Agent": AGENT}) as client:
        login = await client.post("/api/auth/login", json={"username": "fatima", "password": "een goed wachtwoord"})
        counselor_token = login.json()["token"]
        await client.get("/api/status")

    counselor = await connect_as(server.ws + "/ws/counselor")
    await send(counselor, {"type": "auth", "token": counselor_token})
    assert (await recv(counselor))["type"] == "welcome"
    visitor = await connect_as(server.ws + "/ws/visitor")
    await send(
        visitor,
        {
            "type": "hello",
            "audience": "parent",
            "language": "nl",
            "topic": "Sanne Jansen (14) en een loverboy",
            "first_message": "Hallo, ik ben de moeder van Sanne Jansen.",
        },
    )
    session = await recv(visitor)
    visitor_token = session["token"]
    await send(counselor, {"type": "accept"})
    sid = (await recv_until(counselor, "assigned"))["session_id"]
    for i, line in enumerate(VISITOR_LINES[:3]):
        await send(visitor, {"type": "message", "client_id": f"v{i}", "text": line})
        await recv_match(counselor, type="message", text=line)
    await send(
        counselor,
        {
            "type": "message",
            "session_id": sid,
            "client_id": "k1",
            "text": "Dank je. Weet Sanne dat Kevin de Boer haar nummer 06-12345678 heeft?",
        },
    )
    await recv_until(counselor, "ack")
    # The visitor drops and comes back with the token.
    await visitor.close()
    visitor = await connect_as(server.ws + "/ws/visitor")
    await send(visitor, {"type": "resume", "token": visitor_token, "last_seq": 0})
    assert (await recv(visitor))["resumed"] is True
    for i, line in enumerate(VISITOR_LINES[3:]):
        await send(visitor, {"type": "message", "client_id": f"w{i}", "text": line})
        await recv_match(counselor, type="message", text=line)
    await send(counselor, {"type": "end", "session_id": sid})
    await recv_match(visitor, type="ended")
    await send(
        counselor,
        {"type": "wrapup", "session_id": sid, "category": "sexual_exploitation", "risk": "high", "referral": "police"},
    )
    await recv_until(counselor, "wrapup_saved")
    await counselor.close()
    await visitor.close()

    # The archiver takes it over; wait for the transcript.
    engine = make_engine(settings.sqlalchemy_url)
    transcript = None
    try:
        for _ in range(300):
            async with engine.connect() as conn:
                transcript = (await conn.execute(select(Transcript).where(Transcript.session_id == sid))).first()
            if transcript is not None:
                break
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    assert transcript is not None, archiver.lines
    events = json.loads(transcript.events)
    texts = " ".join(e.get("text", "") for e in events)
    for placeholder in (
        "[NAAM]",
        "[TELEFOON]",
        "[EMAIL]",
        "[ADRES]",
        "[POSTCODE]",
        "[KENTEKEN]",
        "[ACCOUNT]",
        "[BSN]",
        "[IBAN]",
        "[IP]",
        "[INSTELLING]",
    ):
        assert placeholder in texts, placeholder
    # Give the archiver a moment to delete the raw session after committing.
    for _ in range(50):
        if sid not in await dump_redis(settings.redis_prefix):
            break
        await asyncio.sleep(0.1)

    logs = "".join(server.lines + archiver.lines)
    sql = await dump_sql(settings.sqlalchemy_url)
    redis = await dump_redis(settings.redis_prefix)
    secrets = [*PERSONAL, visitor_token, counselor_token, AGENT, "PrivacyProbe"]
    for where, text in (("logs", logs), ("sql", sql), ("redis", redis)):
        found = [s for s in secrets if s.lower() in text.lower()]
        assert not found, f"{where} holds {found}"
    # The only address in the logs is the server's own listening line; none in SQL or Redis.
    assert [line for line in server.lines + archiver.lines if "127.0.0.1" in line] == [server.ready_line]
    assert "127.0.0.1" not in sql and "127.0.0.1" not in redis
    # Nothing of the session is left in Redis.
    assert sid not in redis
