"""Review and the counselor's day on the server: transcripts with their audit, ratings per counselor,
staffing per hour of the week, a counselor's own wrap-ups, and the transfer note that stays with a chat.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from chat.store.sql import ChatSummary, Counselor, CounselorRating, Rating, Transcript, make_engine, make_sessionmaker
from tests.conftest import MakeServer, MakeTeam
from tests.helpers import ServerThread, counselor_ws, recv_match, recv_until, send, visitor_hello

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """An empty database of this test's own: SQLite is a fresh file already; PostgreSQL gets one too.

    These tests count rows (ratings, audit entries, transcripts) that other tests also write, and
    the session's PostgreSQL database is shared by the whole run.
    """
    if database_url.startswith("sqlite"):
        yield database_url
        return
    import asyncio

    import asyncpg

    base, _, _ = database_url.rpartition("/")
    name = f"review_{os.getpid()}_{os.urandom(3).hex()}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def review_server(make_server: MakeServer, own_database: str) -> ServerThread:
    return make_server(own_database, own_transcript_days=7)


@pytest.fixture
async def team(review_server: ServerThread, make_team: MakeTeam) -> dict[str, str]:
    return await make_team(review_server)


def client(server: ServerThread, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.http, headers=headers, timeout=30)


async def counselor_ids(server: ServerThread, tokens: dict[str, str]) -> dict[str, int]:
    engine = make_engine(server.settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = (await db.execute(select(Counselor.username, Counselor.id))).all()
    finally:
        await engine.dispose()
    return {name: cid for name, cid in rows if name in tokens}


async def add_chat(
    server: ServerThread,
    sid: str,
    *,
    counselor_id: int | None,
    ended: datetime,
    category: str | None = "other",
    risk: str | None = "none",
    paired: bool = True,
    wait: int = 30,
    text: str = "Hallo, ik ben [NAAM]",
    transcript: bool = True,
) -> None:
    """One archived chat as the archiver leaves it: the text-free summary and the redacted transcript."""
    opened = ended - timedelta(minutes=20)
    engine = make_engine(server.settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.add(
                ChatSummary(
                    session_id=sid,
                    day=opened.astimezone(AMSTERDAM).date(),
                    audience="parent",
                    language="nl",
                    urgent=False,
                    triage_categories=None,
                    paired=paired,
                    wait_seconds=wait,
                    duration_seconds=1200 if paired else None,
                    end_reason="counselor" if paired else "visitor",
                    messages=2,
                    wrapup_category=category,
                    risk_level=risk,
                    referral="none" if category else None,
                    counselor_id=counselor_id,
                    opened_hour=opened.replace(minute=0, second=0, microsecond=0),
                )
            )
            if transcript:
                events = [
                    {"seq": 1, "type": "message", "sender": "visitor", "text": text},
                    {"seq": 2, "type": "ended", "sender": "system", "reason": "counselor"},
                ]
                db.add(
                    Transcript(
                        session_id=sid,
                        audience="parent",
                        language="nl",
                        topic=None,
                        urgent=False,
                        opened_at=opened.replace(second=0, microsecond=0),
                        paired_at=opened.replace(second=0, microsecond=0),
                        ended_at=ended.replace(second=0, microsecond=0),
                        events=json.dumps(events),
                    )
                )
            await db.commit()
    finally:
        await engine.dispose()


async def test_transcripts_search_open_and_audit(review_server: ServerThread, team: dict[str, str]) -> None:
    ids = await counselor_ids(review_server, team)
    now = datetime.now(UTC)
    tag = os.urandom(3).hex()
    recent, bos, old = f"s_{tag}_recent", f"s_{tag}_bo", f"s_{tag}_old"
    await add_chat(
        review_server, recent, counselor_id=ids["anna"], ended=now - timedelta(hours=1), category="worry_about_child"
    )
    await add_chat(review_server, bos, counselor_id=ids["bo"], ended=now - timedelta(days=1), risk="high")
    await add_chat(review_server, old, counselor_id=ids["anna"], ended=now - timedelta(days=10), text="oud gesprek")
    today = now.astimezone(AMSTERDAM).date()

    async with client(review_server, team["sam"]) as sam:
        listed = (await sam.get("/api/transcripts")).json()
        assert [t["session_id"] for t in listed] == [recent, bos, old]
        # The search shows no text at all.
        assert "events" not in listed[0] and "topic" not in listed[0] and "NAAM" not in json.dumps(listed)
        assert listed[0]["counselor"] == {"username": "anna", "name": "Anna"}
        assert listed[0]["category"] == "worry_about_child" and listed[1]["risk"] == "high"
        found = {
            "counselor=anna": [recent, old],
            "category=worry_about_child": [recent],
            "risk=high": [bos],
            f"from={(today - timedelta(days=3)).isoformat()}": [recent, bos],
            f"to={(today - timedelta(days=3)).isoformat()}": [old],
            f"from={today.isoformat()}&to={today.isoformat()}&counselor=bo": [],
            "counselor=nobody": [],
        }
        for query, expected in found.items():
            assert [t["session_id"] for t in (await sam.get(f"/api/transcripts?{query}")).json()] == expected, query
        for bad in ("category=Sanne", "risk=extreme", "from=gisteren", "limit=0"):
            assert (await sam.get(f"/api/transcripts?{bad}")).status_code == 422, bad

        # Each opening is one more audit entry, every time (no ten-minute de-duplication as for monitoring).
        before = len((await sam.get("/api/audit?limit=1000")).json())
        for _ in range(2):
            opened = await sam.get(f"/api/transcripts/{recent}")
            assert opened.status_code == 200
        body = opened.json()
        assert body["events"][0] == {"seq": 1, "type": "message", "sender": "visitor", "text": "Hallo, ik ben [NAAM]"}
        assert body["counselor"]["username"] == "anna" and body["session_id"] == recent
        entries = (await sam.get("/api/audit?limit=1000")).json()
        assert len(entries) == before + 2
        assert entries[0]["actor"] == "sam" and entries[0]["action"] == "transcript"
        assert entries[0]["session_id"] == recent and "NAAM" not in json.dumps(entries)
        assert (await sam.get("/api/transcripts/s_unknown")).status_code == 404
        assert len((await sam.get("/api/audit?limit=1000")).json()) == before + 2

    async with client(review_server, team["ada"]) as ada:
        assert (await ada.get(f"/api/transcripts/{old}")).status_code == 200

    # A counselor: only their own chats, and only for CHAT_OWN_TRANSCRIPT_DAYS after the end.
    async with client(review_server, team["anna"]) as anna:
        assert [t["session_id"] for t in (await anna.get("/api/transcripts")).json()] == [recent]
        assert [t["session_id"] for t in (await anna.get("/api/transcripts?counselor=anna")).json()] == [recent]
        assert (await anna.get("/api/transcripts?counselor=bo")).status_code == 403
        assert (await anna.get(f"/api/transcripts/{bos}")).status_code == 403
        too_old = await anna.get(f"/api/transcripts/{old}")
        assert too_old.status_code == 403 and "7 days" in too_old.json()["detail"]
        assert (await anna.get(f"/api/transcripts/{recent}")).status_code == 200
    async with client(review_server, team["sam"]) as sam:
        mine = [e for e in (await sam.get("/api/audit?limit=1000")).json() if e["actor"] == "anna"]
        assert [(e["action"], e["session_id"]) for e in mine] == [("transcript", recent)]
    async with client(review_server) as nobody:
        assert (await nobody.get("/api/transcripts")).status_code == 401
        assert (await nobody.get(f"/api/transcripts/{recent}")).status_code == 401


async def test_my_wrapups(review_server: ServerThread, team: dict[str, str]) -> None:
    ids = await counselor_ids(review_server, team)
    now = datetime.now(UTC)
    tag = os.urandom(3).hex()
    await add_chat(review_server, f"s_{tag}_1", counselor_id=ids["anna"], ended=now - timedelta(days=9))
    await add_chat(review_server, f"s_{tag}_2", counselor_id=ids["bo"], ended=now - timedelta(hours=3))
    await add_chat(review_server, f"s_{tag}_3", counselor_id=ids["anna"], ended=now - timedelta(hours=2), risk="low")
    await add_chat(
        review_server, f"s_{tag}_4", counselor_id=ids["anna"], ended=now - timedelta(hours=1), category=None, risk=None
    )
    async with client(review_server, team["anna"]) as anna:
        rows = (await anna.get("/api/wrapups/mine")).json()
        assert [r["session_id"] for r in rows] == [f"s_{tag}_4", f"s_{tag}_3", f"s_{tag}_1"]
        assert rows[0]["wrapup"] is None  # archived without a wrap-up
        assert rows[1]["wrapup"] == {"category": "other", "risk": "low", "referral": "none"}
        assert [r["transcript"] for r in rows] == [True, True, False]  # the oldest is past the 7 days
        assert len((await anna.get("/api/wrapups/mine?limit=1")).json()) == 1
        assert (await anna.get("/api/wrapups/mine?limit=0")).status_code == 422
    async with client(review_server, team["bo"]) as bo:
        assert [r["session_id"] for r in (await bo.get("/api/wrapups/mine")).json()] == [f"s_{tag}_2"]
    async with client(review_server) as nobody:
        assert (await nobody.get("/api/wrapups/mine")).status_code == 401


async def test_ratings_per_counselor_without_naming_the_visitor(
    review_server: ServerThread, team: dict[str, str]
) -> None:
    anna = await counselor_ws(review_server, team["anna"])
    chats = []
    for _ in range(2):
        visitor, session = await visitor_hello(review_server)
        await send(anna, {"type": "accept"})
        await recv_until(anna, "assigned")
        await send(visitor, {"type": "end"})
        await recv_until(visitor, "ended")
        chats.append((visitor, session))
    queued, unanswered = await visitor_hello(review_server)
    await send(queued, {"type": "end"})
    await recv_until(queued, "ended")
    async with client(review_server) as widget:
        for body in (
            {"score": 5, "token": chats[0][1]["token"]},
            {"score": 1, "token": chats[0][1]["token"]},  # the same chat again: counted, but for nobody
            {"score": 4, "language": "en", "token": chats[1][1]["token"]},
            {"score": 2, "token": unanswered["token"]},  # nobody answered: for nobody
            {"score": 3, "token": "made-up"},
            {"score": 3},
        ):
            assert (await widget.post("/api/rating", json=body)).status_code == 204, body
        assert (await widget.post("/api/rating", json={"score": 3, "token": ""})).status_code == 422
        assert (await widget.post("/api/rating", json={"score": 3, "token": "x" * 201})).status_code == 422

    for name in ("sam", "ada"):
        async with client(review_server, team[name]) as boss:
            shown = (await boss.get("/api/ratings?days=30")).json()
        assert shown["total"]["count"] == 6
        assert shown["counselors"] == [
            {
                "username": "anna",
                "name": "Anna",
                "count": 2,
                "mean": 4.5,
                "scores": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
            }
        ]
        [day] = shown["days"]
        assert day["day"] == datetime.now(AMSTERDAM).date().isoformat() and day["count"] == 6
        assert day["scores"] == {"1": 1, "2": 1, "3": 2, "4": 1, "5": 1}
    for name in ("anna", "bo"):
        async with client(review_server, team[name]) as plain:
            assert (await plain.get("/api/ratings")).status_code == 403
    # What SQL keeps: counts per day (and language, or counselor) and score; no token, no session.
    engine = make_engine(review_server.settings.sqlalchemy_url)
    try:
        async with make_sessionmaker(engine)() as db:
            per_counselor = (await db.execute(select(CounselorRating))).scalars().all()
            overall = (await db.execute(select(Rating))).scalars().all()
    finally:
        await engine.dispose()
    assert sorted((r.score, r.count) for r in per_counselor) == [(4, 1), (5, 1)]
    assert sum(r.count for r in overall) == 6
    dumped = str([vars(r) for r in [*per_counselor, *overall]])
    assert all(s["session_id"] not in dumped and s["token"] not in dumped for _, s in [*chats, (None, unanswered)])
    for ws, _ in chats:
        await ws.close()
    await queued.close()
    await anna.close()


async def test_staffing_per_hour_of_the_week_and_per_day(review_server: ServerThread, team: dict[str, str]) -> None:
    now = datetime.now(UTC)
    tag = os.urandom(3).hex()
    # Three chats that began in the same Amsterdam hour of the week, one and two weeks ago; one abandoned.
    # (Wall-clock arithmetic in Amsterdam time: the same hour of the week across a change to summer time.)
    local = (now - timedelta(days=7)).astimezone(AMSTERDAM).replace(minute=25, second=0, microsecond=0)
    for i, (weeks, paired, wait) in enumerate(((0, True, 40), (1, False, 700), (1, True, 90))):
        await add_chat(
            review_server,
            f"s_{tag}_{i}",
            counselor_id=None,
            ended=(local - timedelta(weeks=weeks)).astimezone(UTC) + timedelta(minutes=20),
            paired=paired,
            wait=wait,
            transcript=False,
        )
    # Five weeks ago: outside the four weeks and the 30 days.
    await add_chat(
        review_server,
        f"s_{tag}_old",
        counselor_id=None,
        ended=(local - timedelta(weeks=4)).astimezone(UTC) + timedelta(minutes=20),
        transcript=False,
    )
    async with client(review_server, team["ada"]) as ada:
        staffing = (await ada.get("/api/admin/staffing")).json()
    assert staffing["timezone"] == "Europe/Amsterdam" and len(staffing["hours"]) == 168
    cell = staffing["hours"][local.weekday() * 24 + local.hour]
    assert cell == {
        "weekday": local.weekday(),
        "hour": local.hour,
        "chats": 3,
        "abandoned": 1,
        "longest_wait_seconds": 700,
    }
    assert sum(h["chats"] for h in staffing["hours"]) == 3
    days = {d["day"]: d for d in staffing["days"]}
    assert len(days) == 30 and max(days) == now.astimezone(AMSTERDAM).date().isoformat()
    assert days[local.date().isoformat()] == {
        "day": local.date().isoformat(),
        "chats": 1,
        "abandoned": 0,
        "longest_wait_seconds": 40,
    }
    assert sum(d["chats"] for d in days.values()) == 3
    assert date.fromisoformat(min(days)) == now.astimezone(AMSTERDAM).date() - timedelta(days=29)
    for name in ("sam", "anna"):
        async with client(review_server, team[name]) as other:
            assert (await other.get("/api/admin/staffing")).status_code == 403


async def test_transfer_note_stays_with_the_chat(review_server: ServerThread, team: dict[str, str]) -> None:
    anna = await counselor_ws(review_server, team["anna"])
    visitor, _ = await visitor_hello(review_server, first_message="Hoi")
    await send(anna, {"type": "accept"})
    sid = (await recv_until(anna, "assigned"))["session_id"]
    assert "transfer" not in (await recv_match(anna, type="message", seq=1))
    await send(anna, {"type": "transfer", "session_id": sid, "to": None, "note": "Moeder, zoon van 15; voorzichtig"})
    await recv_match(anna, type="transferred")
    # Back in the queue: whoever accepts it next gets the note, and again after a reload.
    bo = await counselor_ws(review_server, team["bo"])
    await send(bo, {"type": "accept"})
    taken = await recv_until(bo, "assigned")
    assert taken["session_id"] == sid and taken["for"] == "accept"
    assert taken["transfer"] == {"from": "Anna", "note": "Moeder, zoon van 15; voorzichtig"}
    await recv_match(bo, type="status", active=1)  # the accept is done (its status goes to every console)
    await bo.close()
    bo = await counselor_ws(review_server, team["bo"])
    again = await recv_until(bo, "assigned")
    assert again["session_id"] == sid and again["transfer"]["note"] == "Moeder, zoon van 15; voorzichtig"
    # The visitor never sees it.
    seen: list[dict[str, Any]] = []
    await send(visitor, {"type": "message", "client_id": "v2", "text": "nog iets"})
    await recv_until(visitor, "ack", seen=seen)
    assert "voorzichtig" not in json.dumps(seen)
    for ws in (visitor, anna, bo):
        await ws.close()


async def test_migrations_match_the_models(review_server: ServerThread) -> None:
    """After every migration the schema is what chat/store/sql.py declares (0005 included), on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from chat.store.sql import Base

    engine = make_engine(review_server.settings.sqlalchemy_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []
