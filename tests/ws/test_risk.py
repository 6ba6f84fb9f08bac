"""Triage in an active chat: an urgent message in minute 2 flags the chat for its counselor and alerts
every supervisor, on every instance, with the reason and never the text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from chat.services.auth import Role
from chat.store.keys import Keys
from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import (
    Clock,
    ServerThread,
    add_counselor,
    counselor_ws,
    login,
    none_of,
    recv_match,
    recv_until,
    send,
    visitor_hello,
)

DANGER = "sorry dat ik zo stil ben. hij staat nu voor de deur"
CALM = "dank je, het gaat wel weer"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))


@pytest.fixture
def servers(tmp_path: Path, prefix: str, clock: Clock) -> Iterator[tuple[ServerThread, ServerThread]]:
    """Two instances on one Redis and one database: the visitor on one, counselor and supervisor on the other."""
    settings = make_settings(tmp_path, prefix, triage_window_seconds=600, alert_after_seconds=3600)
    upgrade(settings)
    a = ServerThread(settings, REDIS_URL, clock=clock).start()
    b = ServerThread(settings, REDIS_URL, clock=clock).start()
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
async def team(servers: tuple[ServerThread, ServerThread]) -> AsyncIterator[dict[str, str]]:
    a, _ = servers
    await add_counselor(a.settings, "anna", display_name="Anna")
    await add_counselor(a.settings, "sam", role=Role.SUPERVISOR, display_name="Sam")
    yield {name: await login(a.http, name) for name in ("anna", "sam")}


async def _paired(visitor_server: ServerThread, counselor: Any) -> tuple[Any, str]:
    visitor, session = await visitor_hello(visitor_server, first_message="hallo, mag ik iets vragen?")
    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    assert assigned["session_id"] == session["session_id"] and not assigned["urgent"]
    await recv_until(visitor, "paired")
    return visitor, session["session_id"]


async def test_urgent_message_in_minute_two_flags_the_chat_and_alerts_supervisors(
    servers: tuple[ServerThread, ServerThread], team: dict[str, str], clock: Clock
) -> None:
    a, b = servers
    anna = await counselor_ws(b, team["anna"], capacity=2)
    sam = await counselor_ws(a, team["sam"])  # a supervisor on the other instance than the counselor
    visitor, sid = await _paired(a, anna)

    clock.advance(60)
    await send(visitor, {"type": "message", "client_id": "c-1", "text": CALM})
    await recv_match(visitor, type="ack", client_id="c-1")
    await recv_match(anna, type="message", client_id="c-1")

    clock.advance(60)  # minute 2 of the chat
    await send(visitor, {"type": "message", "client_id": "c-2", "text": DANGER})
    await recv_match(visitor, type="ack", client_id="c-2")
    seen: list[dict[str, Any]] = []
    risk = await recv_until(anna, "risk", seen=seen)
    assert risk["session_id"] == sid and risk["urgent"] is True
    assert "immediate_danger" in risk["category"].split(",")
    alert = await recv_match(sam, type="alert", reason="risk")
    assert alert["session_id"] == sid and alert["category"] == risk["category"]
    assert alert["counselor_name"] == "Anna" and alert["audience"] == "parent" and alert["language"] == "nl"
    # The reason, never the words: nothing the visitor wrote is in the flag or the alert.
    for frame in (risk, alert):
        assert "voor de deur" not in json.dumps(frame) and "text" not in frame

    # Once flagged, more danger does not alert again; a console that reconnects sees the flag and the reason.
    await send(visitor, {"type": "message", "client_id": "c-3", "text": DANGER + "!!"})
    await recv_match(anna, type="message", client_id="c-3")
    await none_of(sam, "alert", reason="risk")
    await anna.close()
    again = await counselor_ws(b, team["anna"])
    assigned = await recv_match(again, type="assigned", session_id=sid)
    assert assigned["urgent"] is True and assigned["category"] == risk["category"]
    for ws in (visitor, again, sam):
        await ws.close()


async def test_after_the_triage_window_messages_are_not_scanned(
    servers: tuple[ServerThread, ServerThread], team: dict[str, str], clock: Clock
) -> None:
    a, b = servers
    anna = await counselor_ws(b, team["anna"], capacity=2)
    sam = await counselor_ws(a, team["sam"])
    visitor, sid = await _paired(a, anna)
    clock.advance(601)
    await send(visitor, {"type": "message", "client_id": "c-late", "text": DANGER})
    await recv_match(visitor, type="ack", client_id="c-late")
    await recv_match(anna, type="message", client_id="c-late")
    await none_of(anna, "risk")
    await none_of(sam, "alert", reason="risk")
    client = Redis.from_url(REDIS_URL)
    try:
        assert await client.hget(Keys(a.settings.redis_prefix).session(sid), "urgent") in (None, b"", b"0")
    finally:
        await client.aclose()
    for ws in (visitor, anna, sam):
        await ws.close()


async def test_while_queued_an_urgent_message_moves_the_visitor_ahead(
    servers: tuple[ServerThread, ServerThread], team: dict[str, str], clock: Clock
) -> None:
    a, b = servers
    first, _ = await visitor_hello(a, first_message="ik heb een vraag over mijn dochter")
    second, session = await visitor_hello(a, first_message="goedemiddag")
    clock.advance(90)
    await send(second, {"type": "message", "client_id": "q-1", "text": DANGER})
    await recv_match(second, type="ack", client_id="q-1")
    anna = await counselor_ws(b, team["anna"], capacity=2)
    await send(anna, {"type": "accept"})
    assigned = await recv_until(anna, "assigned")
    assert assigned["session_id"] == session["session_id"] and assigned["urgent"] is True
    assert "immediate_danger" in assigned["category"].split(",")
    for ws in (first, second, anna):
        await ws.close()
