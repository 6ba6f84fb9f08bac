"""Service hours, triage and the wait estimate through a real server, with the clock held by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import (
    Clock,
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    recv,
    recv_match,
    recv_until,
    send,
    visitor_hello,
)

AMS = ZoneInfo("Europe/Amsterdam")
HOURS = """
timezone = "Europe/Amsterdam"
[weekly]
monday = ["09:00-17:00"]
tuesday = ["09:00-17:00"]
wednesday = ["09:00-17:00"]
thursday = ["09:00-17:00"]
friday = ["09:00-17:00"]
saturday = []
sunday = []
[exceptions]
"2026-12-25" = []
"""


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 29, 12, 0, tzinfo=AMS))  # a Sunday: closed


@pytest.fixture
def hours_server(tmp_path: Path, prefix: str, clock: Clock) -> Iterator[ServerThread]:
    hours = tmp_path / "hours.toml"
    hours.write_text(HOURS)
    settings = make_settings(tmp_path, prefix, hours_file=hours)
    upgrade(settings)
    srv = ServerThread(settings, REDIS_URL, clock=clock).start()
    yield srv
    srv.stop()


async def test_closed_outside_hours_with_next_opening_and_resources(hours_server: ServerThread, clock: Clock) -> None:
    async with httpx.AsyncClient(base_url=hours_server.http) as client:
        status = (await client.get("/api/status")).json()
    assert status["open"] is False
    assert datetime.fromisoformat(status["next_opening"]) == datetime(2026, 11, 30, 9, 0, tzinfo=AMS)

    ws = await connect(hours_server.ws + "/ws/visitor")
    await send(ws, {"type": "hello", "audience": "youth", "language": "nl"})
    closed = await recv(ws)
    assert closed["type"] == "error" and closed["code"] == "service_closed"
    assert datetime.fromisoformat(closed["next_opening"]) == datetime(2026, 11, 30, 9, 0, tzinfo=AMS)
    ids = [r["id"] for r in closed["resources"]]
    assert "emergency-112-nl" in ids and "113-suicide-prevention-nl" in ids
    assert all(r["phone"] or r["url"] for r in closed["resources"])
    await ws.wait_closed()
    assert ws.close_code == 1000

    # English visitors get English resources.
    ws = await connect(hours_server.ws + "/ws/visitor")
    await send(ws, {"type": "hello", "audience": "parent", "language": "en"})
    closed = await recv(ws)
    assert closed["code"] == "service_closed" and "emergency-112-en" in [r["id"] for r in closed["resources"]]
    await ws.close()

    # Christmas Day (a Friday) is closed by exception; it opens on Monday the 28th.
    clock.set(datetime(2026, 12, 25, 10, 0, tzinfo=AMS))
    async with httpx.AsyncClient(base_url=hours_server.http) as client:
        status = (await client.get("/api/status")).json()
    assert status["open"] is False
    assert datetime.fromisoformat(status["next_opening"]) == datetime(2026, 12, 28, 9, 0, tzinfo=AMS)


async def test_running_chats_go_on_when_the_hours_end(hours_server: ServerThread, clock: Clock) -> None:
    clock.set(datetime(2026, 11, 30, 16, 55, tzinfo=AMS))  # Monday, five minutes before closing
    await add_counselor(hours_server.settings, "noor", display_name="Noor")
    counselor = await counselor_ws(hours_server, await login(hours_server.http, "noor"))
    visitor, session = await visitor_hello(hours_server)
    queued = await recv_until(visitor, "queue")
    assert queued["nobody_online"] is False
    await send(counselor, {"type": "accept"})
    sid = (await recv_until(counselor, "assigned"))["session_id"]
    assert sid == session["session_id"]

    clock.set(datetime(2026, 11, 30, 17, 30, tzinfo=AMS))  # closed now
    await send(visitor, {"type": "message", "client_id": "late", "text": "Ben je er nog?"})
    assert (await recv_until(visitor, "ack"))["seq"] == 1
    assert (await recv_match(counselor, type="message", seq=1))["text"] == "Ben je er nog?"
    # But a new visitor is turned away.
    late = await connect(hours_server.ws + "/ws/visitor")
    await send(late, {"type": "hello", "audience": "parent"})
    assert (await recv(late))["code"] == "service_closed"
    for ws in (late, visitor, counselor):
        await ws.close()


@pytest.fixture
def open_server(tmp_path: Path, prefix: str, clock: Clock) -> Iterator[ServerThread]:
    settings = make_settings(tmp_path, prefix)  # no hours file: always open
    upgrade(settings)
    srv = ServerThread(settings, REDIS_URL, clock=clock).start()
    yield srv
    srv.stop()


async def test_urgent_visitor_who_came_last_is_taken_first(open_server: ServerThread, clock: Clock) -> None:
    normal = [await visitor_hello(open_server, first_message=f"Ik heb een vraag over mijn zoon {i}") for i in range(3)]
    for _ws, _s in normal:
        clock.advance(1)
    urgent_ws, urgent = await visitor_hello(
        open_server, audience="parent", first_message="Hij staat voor de deur en ik ben bang"
    )
    # A queued visitor whose later message is urgent moves up too; among urgent sessions arrival
    # order holds, so this one (who came before the other urgent one) goes first.
    later_ws, later = normal[2]
    await send(later_ws, {"type": "message", "client_id": "m1", "text": "ik wil niet meer leven"})
    await recv_until(later_ws, "ack")

    await add_counselor(open_server.settings, "lotte")
    counselor = await counselor_ws(open_server, await login(open_server.http, "lotte"), capacity=10)
    queues = await recv_until(counselor, "queues")
    parent_nl = next(q for q in queues["queues"] if q["audience"] == "parent" and q["language"] == "nl")
    assert parent_nl["waiting"] == 4 and parent_nl["urgent"] == 2
    assert set(parent_nl["urgent_categories"]) >= {"immediate_danger", "suicide_selfharm"}
    assert "deur" not in json.dumps(queues) and "leven" not in json.dumps(queues)

    order = []
    for _ in range(4):
        await send(counselor, {"type": "accept"})
        order.append(await recv_until(counselor, "assigned"))
    assert [a["session_id"] for a in order] == [
        later["session_id"],
        urgent["session_id"],
        normal[0][1]["session_id"],
        normal[1][1]["session_id"],
    ]
    assert order[0]["urgent"] is True and order[0]["category"] == "suicide_selfharm"
    assert order[1]["urgent"] is True and order[1]["category"] == "immediate_danger"
    assert order[2]["urgent"] is False and order[2]["category"] is None
    assert (await recv_until(urgent_ws, "paired"))["counselor_name"]
    for ws, _ in [*normal, (urgent_ws, None)]:
        await ws.close()
    await counselor.close()


async def test_near_misses_do_not_make_a_session_urgent(open_server: ServerThread) -> None:
    ws, _ = await visitor_hello(open_server, first_message="Ik ben doodmoe en ga dood van het lachen om die video")
    await add_counselor(open_server.settings, "ivo")
    counselor = await counselor_ws(open_server, await login(open_server.http, "ivo"))
    queues = await recv_until(counselor, "queues")
    assert sum(q["urgent"] for q in queues["queues"]) == 0
    await send(counselor, {"type": "accept"})
    assert (await recv_until(counselor, "assigned"))["urgent"] is False
    await ws.close()
    await counselor.close()


async def test_wait_estimate_from_what_happened(open_server: ServerThread, clock: Clock) -> None:
    # Nothing happened yet and nobody is online: no estimate, and the visitor is told nobody is online.
    first, _ = await visitor_hello(open_server)
    queued = await recv_until(first, "queue")
    assert queued == {"type": "queue", "position": 1, "eta_seconds": None, "nobody_online": True}

    await add_counselor(open_server.settings, "eva")
    counselor = await counselor_ws(open_server, await login(open_server.http, "eva"), capacity=10)
    # Five pairings, each after two minutes of waiting.
    for _ in range(5):
        clock.advance(120)
        await send(counselor, {"type": "accept"})
        await recv_until(counselor, "assigned")
        visitor_hello_ws, _ = await visitor_hello(open_server)
        await visitor_hello_ws.close()
    waiting, _ = await visitor_hello(open_server)
    frame = await recv_until(waiting, "queue")
    while frame["eta_seconds"] is None or frame["nobody_online"]:
        frame = await recv_until(waiting, "queue", timeout=10)
    assert frame["position"] >= 1 and 0 < frame["eta_seconds"] <= 4 * 3600
    async with httpx.AsyncClient(base_url=open_server.http) as client:
        status = (await client.get("/api/status")).json()
    assert status["counselors_online"] == 1
    parent_nl = next(q for q in status["queues"] if q["audience"] == "parent" and q["language"] == "nl")
    assert parent_nl["eta_seconds"] is not None and parent_nl["waiting"] >= 1
    await waiting.close()
    await first.close()
    await counselor.close()
