"""Timers over real websockets: the first-frame deadline, the visitor's grace period, idle chats.

Small settings keep the file fast; every wait is bounded by the settings plus a margin.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.helpers import (
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    none_of,
    recv,
    recv_match,
    recv_until,
    send,
    until_closed,
    visitor_hello,
)

StartServer = Callable[..., Awaitable[ServerThread]]
Track = Callable[[ClientConnection], ClientConnection]

FAST = {"first_frame_timeout": 0.5, "visitor_grace_seconds": 0.5, "idle_timeout_seconds": 1.0, "sweep_interval": 0.1}
# How long past a deadline the sweeper (every 0.1 s) may take, with room for a busy machine.
MARGIN = 2.0


@pytest.fixture
def start_server(start_server: StartServer) -> StartServer:
    """The shared fixture, with the short timeouts of this module as defaults."""

    async def start(**overrides: Any) -> ServerThread:
        return await start_server(**{**FAST, **overrides})

    return start


def now() -> float:
    return asyncio.get_running_loop().time()


async def pair_up(
    srv: ServerThread, track: Track, name: str = "anna", **hello: Any
) -> tuple[ClientConnection, ClientConnection, dict[str, Any]]:
    await add_counselor(srv.settings, name, display_name=name.title())
    counselor = track(await counselor_ws(srv, await login(srv.http, name)))
    visitor, session = await visitor_hello(srv, **hello)
    track(visitor)
    await send(counselor, {"type": "accept"})
    assert (await recv_until(counselor, "assigned"))["session_id"] == session["session_id"]
    await recv_until(visitor, "paired")
    return visitor, counselor, session


async def exchange(
    visitor: ClientConnection, counselor: ClientConnection, sid: str, cid: str, from_counselor: bool = False
) -> int:
    """One message, acked and relayed; returns its seq."""
    sender, receiver = (counselor, visitor) if from_counselor else (visitor, counselor)
    frame: dict[str, Any] = {"type": "message", "client_id": cid, "text": f"message {cid}"}
    if from_counselor:
        frame["session_id"] = sid
    await send(sender, frame)
    seq: int = (await recv_match(sender, type="ack", client_id=cid))["seq"]
    assert (await recv_match(receiver, type="message", client_id=cid))["seq"] == seq
    return seq


def total_waiting(queues: dict[str, Any]) -> int:
    return sum(q["waiting"] for q in queues["queues"])


async def queues_until(ws: ClientConnection, waiting: int, timeout: float) -> float:
    """Read `queues` frames until the total waiting is ``waiting``; returns when that happened."""
    deadline = now() + timeout
    while True:
        frame = await recv_until(ws, "queues", max(0.01, deadline - now()))
        if total_waiting(frame) == waiting:
            return now()


# -- the first frame -----------------------------------------------------------------------------
async def test_no_first_frame_in_time_closes_with_1008(start_server: StartServer, track: Track) -> None:
    srv = await start_server()
    limit = srv.settings.first_frame_timeout

    async def silent(path: str, pings: bool) -> tuple[float, list[dict[str, Any]], int | None]:
        ws = track(await connect(srv.ws + path))
        started = now()
        if pings:
            # Keep-alives are answered but do not stretch the deadline.
            async def ping() -> None:
                for _ in range(20):
                    await asyncio.sleep(limit / 5)
                    try:
                        await send(ws, {"type": "ping"})
                    except websockets.ConnectionClosed:
                        return

            pinger = asyncio.create_task(ping())
        frames = await until_closed(ws, limit + MARGIN + 3)
        elapsed = now() - started
        if pings:
            pinger.cancel()
        return elapsed, frames, ws.close_code

    results = await asyncio.gather(
        silent("/ws/visitor", False), silent("/ws/visitor", True), silent("/ws/counselor", False)
    )
    for (elapsed, frames, code), expected in zip(results, ("bad_request", "bad_request", "unauthorized"), strict=True):
        assert limit * 0.8 <= elapsed < limit + MARGIN, elapsed
        errors = [f for f in frames if f["type"] == "error"]
        assert [e["code"] for e in errors] == [expected], frames
        assert code == 1008
    assert any(f["type"] == "pong" for f in results[1][1])

    # A hello in time is served, and the deadline no longer applies afterwards.
    visitor, session = await visitor_hello(srv)
    track(visitor)
    await asyncio.sleep(limit + 0.3)
    await send(visitor, {"type": "message", "client_id": "c-1", "text": "still here"})
    assert (await recv_match(visitor, type="ack", client_id="c-1"))["seq"] == 1


# -- the visitor's grace period --------------------------------------------------------------------
async def test_paired_visitor_returns_within_grace(start_server: StartServer, track: Track) -> None:
    grace = 1.0
    srv = await start_server(visitor_grace_seconds=grace, idle_timeout_seconds=60)
    visitor, counselor, session = await pair_up(srv, track)
    sid = session["session_id"]
    assert await exchange(visitor, counselor, sid, "v-1") == 1

    await visitor.close()
    presence = await recv_until(counselor, "presence")
    assert presence == {"type": "presence", "session_id": sid, "visitor": "offline"}
    await send(counselor, {"type": "message", "session_id": sid, "client_id": "k-1", "text": "are you there?"})
    assert (await recv_match(counselor, type="ack", client_id="k-1"))["seq"] == 2

    visitor = track(await connect(srv.ws + "/ws/visitor"))
    await send(visitor, {"type": "resume", "token": session["token"], "last_seq": 1})
    resumed = await recv(visitor)
    assert resumed["type"] == "session" and resumed["status"] == "active" and resumed["resumed"] is True
    missed = await recv(visitor)
    assert missed["seq"] == 2 and missed["client_id"] == "k-1"
    assert (await recv_until(counselor, "presence"))["visitor"] == "online"

    # Well past the grace period the chat is still on: the timer was cancelled.
    await asyncio.sleep(grace + 0.5)
    # Nothing about the chat (a late `queues` overview from the accept, under load, is no part of it).
    await none_of(counselor, "ended", 0.05)
    await none_of(counselor, "presence", 0.05)
    assert await exchange(visitor, counselor, sid, "v-2") == 3
    assert await exchange(visitor, counselor, sid, "k-2", from_counselor=True) == 4


async def test_paired_visitor_gone_past_grace_times_out(start_server: StartServer, track: Track) -> None:
    srv = await start_server(idle_timeout_seconds=60)
    grace = srv.settings.visitor_grace_seconds
    visitor, counselor, session = await pair_up(srv, track)
    sid = session["session_id"]
    assert await exchange(visitor, counselor, sid, "v-1") == 1
    assert await exchange(visitor, counselor, sid, "k-1", from_counselor=True) == 2

    await visitor.close()
    left = now()
    assert (await recv_until(counselor, "presence"))["visitor"] == "offline"
    ended = await recv_until(counselor, "ended", timeout=grace + MARGIN)
    assert grace * 0.8 <= now() - left, "not before the grace period is over"
    assert ended["session_id"] == sid and ended["reason"] == "timeout" and ended["seq"] == 3
    # The chat is over for the counselor, too.
    await send(counselor, {"type": "message", "session_id": sid, "client_id": "k-late", "text": "hello?"})
    late = await recv_match(counselor, type="error")
    assert late["code"] == "not_in_session" and late["client_id"] == "k-late"

    # A late resume (whoever found the token) learns only that it ended: no message of it, then a normal close.
    late_visitor = track(await connect(srv.ws + "/ws/visitor"))
    await send(late_visitor, {"type": "resume", "token": session["token"], "last_seq": 0})
    frames = await until_closed(late_visitor)
    assert frames[0]["type"] == "session" and frames[0]["status"] == "ended" and frames[0]["resumed"] is True
    events = frames[1:]
    assert [(e["type"], e["seq"], e["reason"]) for e in events] == [("ended", 3, "timeout")]
    assert "v-1" not in json.dumps(frames) and "k-1" not in json.dumps(frames)
    assert late_visitor.close_code == 1000


async def test_queued_visitor_gone_leaves_the_queue(start_server: StartServer, track: Track) -> None:
    srv = await start_server(visitor_grace_seconds=1.0, queued_grace_seconds=1.0)
    grace = srv.settings.queued_grace_seconds
    await add_counselor(srv.settings, "anna")
    counselor = track(await counselor_ws(srv, await login(srv.http, "anna")))
    assert total_waiting(await recv_until(counselor, "queues")) == 0

    first, s1 = await visitor_hello(srv, first_message="ik wacht")
    second, s2 = await visitor_hello(srv)
    track(first)
    track(second)
    await queues_until(counselor, 2, 2)
    assert (await recv_until(second, "queue"))["position"] == 2

    # The second visitor drops; while it is in its grace period the first is taken,
    # which moves the absent visitor's place in the queue: the update still reaches the counselor.
    await second.close()
    left = now()
    await asyncio.sleep(0.2)
    await send(counselor, {"type": "accept"})
    assert (await recv_until(counselor, "assigned"))["session_id"] == s1["session_id"]
    await queues_until(counselor, 1, 1.0)
    assert now() - left < grace, "the absent visitor is still counted during the grace period"

    # After the grace period it is gone from the queue.
    await queues_until(counselor, 0, grace + MARGIN)
    assert now() - left >= grace * 0.8
    await send(counselor, {"type": "accept"})
    error = await recv_match(counselor, type="error")
    assert error["code"] == "queue_empty"
    async with httpx.AsyncClient(base_url=srv.http) as client:
        assert sum(q["waiting"] for q in (await client.get("/api/status")).json()["queues"]) == 0

    # Its session ended with `timeout`; a late resume says so.
    late = track(await connect(srv.ws + "/ws/visitor"))
    await send(late, {"type": "resume", "token": s2["token"], "last_seq": 0})
    frames = await until_closed(late)
    assert frames[0]["type"] == "session" and frames[0]["status"] == "ended"
    assert [(e["type"], e.get("reason")) for e in frames[1:]] == [("ended", "timeout")]


# -- idle chats ------------------------------------------------------------------------------------
async def test_idle_session_times_out_and_activity_postpones_it(start_server: StartServer, track: Track) -> None:
    srv = await start_server(visitor_grace_seconds=60)
    idle = srv.settings.idle_timeout_seconds
    visitor, counselor, session = await pair_up(srv, track)
    sid = session["session_id"]
    # A queued visitor has no idle timer: waiting is not idling.
    waiting, _ = await visitor_hello(srv)
    track(waiting)

    # Messages from either side, each well inside the idle time, for twice the idle time.
    started = now()
    seq = 0
    while True:
        seq = await exchange(visitor, counselor, sid, f"m-{seq}", from_counselor=bool(seq % 2))
        last = now()
        if last - started > 2 * idle:
            break
        await asyncio.sleep(idle / 3)

    # Then silence: both sides get `ended` with reason timeout, after the idle time.
    ended = await recv_until(visitor, "ended", timeout=idle + MARGIN)
    assert now() - last >= idle * 0.8
    assert ended["reason"] == "timeout" and ended["seq"] == seq + 1
    cended = await recv_until(counselor, "ended", timeout=1)
    assert cended == ended
    await until_closed(visitor)
    assert visitor.close_code == 1000

    # The queued visitor is still waiting and is served normally.
    await send(counselor, {"type": "accept"})
    await recv_until(counselor, "assigned")
    await recv_until(waiting, "paired")
