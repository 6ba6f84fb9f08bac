"""The archiver in this process against real Redis and SQL: redaction, wrap-up, idempotence, retention."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from chat.archiver import Archiver
from chat.settings import Settings
from chat.store.migrate import upgrade
from chat.store.sql import ChatSummary, Transcript, make_engine, make_sessionmaker
from tests.conftest import REDIS_URL, MakeServer, make_settings
from tests.helpers import (
    ServerThread,
    add_counselor,
    counselor_ws,
    login,
    recv_match,
    recv_until,
    send,
    visitor_hello,
)


@pytest.fixture
def arch_server(make_server: MakeServer, database_url: str) -> ServerThread:
    return make_server(database_url, wrapup_wait_seconds=600)


@pytest.fixture
async def archiver(arch_server: ServerThread, redactor: Any) -> AsyncIterator[Archiver]:
    redis = Redis.from_url(REDIS_URL)
    engine = make_engine(arch_server.settings.sqlalchemy_url)
    yield Archiver(arch_server.settings, redis, engine, redactor)
    await redis.aclose()
    await engine.dispose()


async def rows(settings: Settings, model: Any, sid: str) -> list[Any]:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            return list((await db.execute(select(model).where(model.session_id == sid))).scalars())
    finally:
        await engine.dispose()


async def chat_and_end(server: ServerThread, name: str) -> tuple[str, Any]:
    await add_counselor(server.settings, name, display_name="Mila")
    counselor = await counselor_ws(server, await login(server.http, name))
    visitor, session = await visitor_hello(
        server, topic="mijn dochter Sanne Jansen", first_message="Hoi, ik ben de moeder van Sanne Jansen."
    )
    await send(counselor, {"type": "accept"})
    sid = (await recv_until(counselor, "assigned"))["session_id"]
    await send(
        visitor, {"type": "message", "client_id": "v1", "text": "Bel me op 06-12345678 of mail sanne.jansen@gmail.com"}
    )
    await recv_match(counselor, type="message", seq=2)
    await send(counselor, {"type": "resource", "session_id": sid, "client_id": "k1", "snippet_id": "veilig-thuis-nl"})
    await recv_until(counselor, "ack")
    await send(counselor, {"type": "end", "session_id": sid})
    await recv_match(counselor, type="ended")
    await visitor.close()
    return sid, counselor


async def test_archives_redacted_transcript_and_wrapup(arch_server: ServerThread, archiver: Archiver) -> None:
    sid, counselor = await chat_and_end(arch_server, "mila")
    # It waits for the wrap-up: nothing is ready yet.
    assert await archiver.run_once() == 0
    await send(
        counselor,
        {
            "type": "wrapup",
            "session_id": sid,
            "category": "worry_about_child",
            "risk": "medium",
            "referral": "veilig_thuis",
        },
    )
    assert (await recv_until(counselor, "wrapup_saved"))["session_id"] == sid
    # Free text and unknown choices are refused.
    await send(counselor, {"type": "wrapup", "session_id": sid, "category": "Sanne", "risk": "low", "referral": "none"})
    assert (await recv_until(counselor, "error"))["code"] == "bad_request"
    await send(
        counselor,
        {"type": "wrapup", "session_id": "s_not_mine", "category": "other", "risk": "low", "referral": "none"},
    )
    assert (await recv_until(counselor, "error"))["code"] == "not_in_session"

    assert await archiver.run_once() == 1
    [summary] = await rows(arch_server.settings, ChatSummary, sid)
    assert (summary.wrapup_category, summary.risk_level, summary.referral) == (
        "worry_about_child",
        "medium",
        "veilig_thuis",
    )
    assert summary.paired and summary.end_reason == "counselor" and summary.messages == 2
    assert summary.audience == "parent" and summary.wait_seconds is not None
    # The counselor who had it, the Amsterdam day and the hour it began (for review and staffing).
    assert summary.counselor_id is not None and summary.opened_hour is not None
    began = summary.opened_hour if summary.opened_hour.tzinfo else summary.opened_hour.replace(tzinfo=UTC)
    assert began.minute == 0 and summary.day == began.astimezone(ZoneInfo("Europe/Amsterdam")).date()
    [transcript] = await rows(arch_server.settings, Transcript, sid)
    events = json.loads(transcript.events)
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["sender"] for e in events] == ["visitor", "visitor", "counselor", "system"]
    assert "[NAAM]" in events[0]["text"] and "Sanne" not in transcript.events
    assert "[TELEFOON]" in events[1]["text"] and "[EMAIL]" in events[1]["text"]
    assert "06-12345678" not in transcript.events and "gmail" not in transcript.events
    assert events[2]["snippet_id"] == "veilig-thuis-nl"
    assert events[3] == {"seq": 4, "type": "ended", "sender": "system", "reason": "counselor"}
    assert transcript.topic is not None and "Sanne" not in transcript.topic
    for moment in (transcript.opened_at, transcript.paired_at, transcript.ended_at):
        assert moment is not None and moment.second == 0 and moment.microsecond == 0

    # The raw session is gone from Redis: its keys and the visitor's token.
    redis = archiver.redis
    assert not await redis.exists(*archiver.keys.session_keys(sid))
    leftovers = [k async for k in redis.scan_iter(match=f"{archiver.keys.prefix}:*")]
    assert not any(sid.encode() in k for k in leftovers)
    assert not [k for k in leftovers if b":vtoken:" in k]
    assert await redis.zscore(archiver.keys.archive_processing, sid) is None
    await counselor.close()


async def test_archiving_twice_stores_once(arch_server: ServerThread, archiver: Archiver, redactor: Any) -> None:
    sid, counselor = await chat_and_end(arch_server, "joep")
    await counselor.close()
    second = Archiver(arch_server.settings, archiver.redis, archiver.engine, redactor)
    # Two archivers on the same session at once (as after a lease ran out under a slow one).
    results = await asyncio.gather(archiver.archive(sid), second.archive(sid))
    assert any(results)
    assert len(await rows(arch_server.settings, ChatSummary, sid)) == 1
    assert len(await rows(arch_server.settings, Transcript, sid)) == 1
    # And once more after the raw data is gone: nothing changes.
    assert await archiver.archive(sid) is False
    assert len(await rows(arch_server.settings, Transcript, sid)) == 1


async def test_abandoned_in_queue_is_archived_at_once(arch_server: ServerThread, archiver: Archiver) -> None:
    visitor, session = await visitor_hello(arch_server, audience="youth", first_message="ik durf het niet te zeggen")
    await send(visitor, {"type": "quick_exit"})
    await recv_until(visitor, "ended")
    assert await archiver.run_once() == 1
    [summary] = await rows(arch_server.settings, ChatSummary, session["session_id"])
    # Abandoned in the queue: its wait (until the visitor left) counts in the wait percentiles too.
    assert summary.paired is False and summary.wait_seconds is not None and summary.wait_seconds >= 0
    assert summary.end_reason == "quick_exit" and summary.counselor_id is None
    assert summary.audience == "youth"


@pytest.fixture
def off_server(make_server: MakeServer) -> ServerThread:
    return make_server(store_transcripts=False)


async def test_transcripts_off_keeps_only_the_summary(off_server: ServerThread, redactor: Any) -> None:
    settings = off_server.settings
    visitor, session = await visitor_hello(off_server, first_message="Mijn naam is Sanne Jansen")
    await send(visitor, {"type": "end"})
    await recv_until(visitor, "ended")
    redis = Redis.from_url(REDIS_URL)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        assert await Archiver(settings, redis, engine, redactor).run_once() == 1
    finally:
        await redis.aclose()
        await engine.dispose()
    assert len(await rows(settings, ChatSummary, session["session_id"])) == 1
    assert await rows(settings, Transcript, session["session_id"]) == []


async def test_retention_purges_old_transcripts(arch_server: ServerThread, archiver: Archiver) -> None:
    settings = arch_server.settings
    engine = make_engine(settings.sqlalchemy_url)
    old = datetime.now(UTC) - timedelta(days=settings.transcript_retention_days + 1)
    fresh = datetime.now(UTC) - timedelta(days=1)
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    async with make_sessionmaker(engine)() as db:
        for name, when in (("old", old), ("fresh", fresh)):
            db.add(
                Transcript(
                    session_id=f"s_{name}_{tag}",
                    audience="parent",
                    language="nl",
                    topic=None,
                    urgent=False,
                    opened_at=when,
                    paired_at=None,
                    ended_at=when,
                    events="[]",
                )
            )
        await db.commit()
    assert await archiver.purge() >= 1
    async with make_sessionmaker(engine)() as db:
        left = {t.session_id for t in (await db.execute(select(Transcript))).scalars()}
        count = (await db.execute(select(func.count()).select_from(Transcript))).scalar_one()
    await engine.dispose()
    assert f"s_fresh_{tag}" in left and f"s_old_{tag}" not in left
    assert count == len(left)


def test_purge_command(tmp_path: Path, prefix: str) -> None:
    import subprocess
    import sys

    settings = make_settings(tmp_path, prefix, transcript_retention_days=7)
    upgrade(settings)

    async def seed_and_count(seed: bool) -> set[str]:
        engine = make_engine(settings.sqlalchemy_url)
        try:
            async with make_sessionmaker(engine)() as db:
                if seed:
                    for name, age in (("old", 8), ("new", 6)):
                        when = datetime.now(UTC) - timedelta(days=age)
                        db.add(
                            Transcript(
                                session_id=f"s_{name}",
                                audience="youth",
                                language="nl",
                                topic=None,
                                urgent=False,
                                opened_at=when,
                                paired_at=None,
                                ended_at=when,
                                events="[]",
                            )
                        )
                    await db.commit()
                return {t.session_id for t in (await db.execute(select(Transcript))).scalars()}
        finally:
            await engine.dispose()

    assert asyncio.run(seed_and_count(True)) == {"s_old", "s_new"}
    env = {
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_DATABASE_URL": settings.database_url or "",
        "CHAT_TRANSCRIPT_RETENTION_DAYS": "7",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run([sys.executable, "-m", "chat", "purge"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "purged 1 transcript(s) older than 7 days" in done.stdout
    assert asyncio.run(seed_and_count(False)) == {"s_new"}


async def test_staff_notes_are_kept_redacted_in_the_transcript_and_gone_from_redis(
    arch_server: ServerThread, archiver: Archiver
) -> None:
    await add_counselor(arch_server.settings, "noor", display_name="Noor")
    counselor = await counselor_ws(arch_server, await login(arch_server.http, "noor"))
    visitor, _ = await visitor_hello(arch_server, first_message="Hoi")
    await send(counselor, {"type": "accept"})
    sid = (await recv_until(counselor, "assigned"))["session_id"]
    note = "Haar oom Pieter de Groot haalt haar op, bel 06-98765432 als het misgaat."
    await send(counselor, {"type": "whisper", "session_id": sid, "client_id": "w1", "text": note})
    await recv_match(counselor, type="whisper_ack", client_id="w1")
    await send(visitor, {"type": "message", "client_id": "v1", "text": "Ben je er nog?"})
    await recv_match(counselor, type="message", seq=2)
    await send(counselor, {"type": "end", "session_id": sid})
    await recv_match(counselor, type="ended")
    await send(counselor, {"type": "wrapup", "session_id": sid, "category": "other", "risk": "low", "referral": "none"})
    await recv_until(counselor, "wrapup_saved")
    assert await archiver.run_once() == 1
    [transcript] = await rows(arch_server.settings, Transcript, sid)
    events = json.loads(transcript.events)
    assert [e["type"] for e in events] == ["message", "staff_note", "message", "ended"]
    staff = events[1]
    assert staff["sender"] == "counselor" and staff["after_seq"] == 1
    assert "[NAAM]" in staff["text"] and "[TELEFOON]" in staff["text"]
    assert "Pieter" not in transcript.events and "98765432" not in transcript.events
    [summary] = await rows(arch_server.settings, ChatSummary, sid)
    assert summary.messages == 2  # staff notes are not visitor/counselor messages
    redis = Redis.from_url(REDIS_URL)
    try:
        assert await redis.keys(f"{arch_server.settings.redis_prefix}:{{{sid}}}:*") == []
    finally:
        await redis.aclose()
    await counselor.close()
    await visitor.close()
