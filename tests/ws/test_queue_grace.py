"""A place in the queue survives a phone in the background: the queued grace against the active one.

The servers run on a clock the test holds (``tests.helpers.Clock``), so ten minutes pass in no time; the
sweeper runs every 0.1 s of real time and sees the held clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from websockets.asyncio.client import ClientConnection

from tests.conftest import REDIS_URL
from tests.helpers import (
    Clock,
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
GRACES = {"visitor_grace_seconds": 120, "queued_grace_seconds": 600, "sweep_interval": 0.1}


async def gone(srv: ServerThread, ws: ClientConnection, sid: str) -> None:
    """Close the visitor's socket and wait until the server counted the drop (before the clock moves)."""
    await ws.close()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for _ in range(200):
            if await asyncio.to_thread(client.hget, srv.rt.keys.session(sid), "visitor_conns") == b"0":
                return
            await asyncio.sleep(0.02)
    finally:
        client.close()
    raise AssertionError("the server never saw the visitor go")


async def resume(srv: ServerThread, token: str, last_seq: int = 0) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(srv.ws + "/ws/visitor")
    await send(ws, {"type": "resume", "token": token, "last_seq": last_seq})
    return ws, await recv(ws)


async def test_a_queued_visitor_away_past_the_active_grace_keeps_their_place(
    start_server: StartServer, track: Track
) -> None:
    clock = Clock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    srv = await start_server(clock=clock, **GRACES)
    await add_counselor(srv.settings, "anna")
    counselor = track(await counselor_ws(srv, await login(srv.http, "anna")))
    first, _ = await visitor_hello(srv, first_message="ik wacht al")
    phone, session = await visitor_hello(srv, first_message="mijn zoon")
    track(first)
    assert (await recv_until(phone, "queue"))["position"] == 2

    # The phone locks: five minutes away, far past the active grace (two), inside the queued one (ten).
    await gone(srv, phone, session["session_id"])
    clock.advance(300)
    await none_of(counselor, "ended", wait=0.6)
    phone, back = await resume(srv, session["token"], last_seq=1)
    track(phone)
    assert back["status"] == "queued" and back["resumed"] is True
    assert (await recv_until(phone, "queue"))["position"] == 2, "the same place in the queue"

    # Away again, now past the queued grace: the place is given up and the session ends with timeout.
    await gone(srv, phone, session["session_id"])
    clock.advance(601)
    while sum(q["waiting"] for q in (await recv_until(counselor, "queues"))["queues"]) != 1:
        pass  # the queue shrinks to the first visitor
    late, frames = await resume(srv, session["token"])
    rest = await until_closed(late)
    assert frames["status"] == "ended"
    assert [(e["type"], e.get("reason")) for e in rest] == [("ended", "timeout")]
    # The first visitor, who stayed, is untouched.
    await send(counselor, {"type": "accept"})
    await recv_until(counselor, "assigned")
    await recv_until(first, "paired")


async def test_an_active_chat_waits_only_the_active_grace_also_when_taken_while_away(
    start_server: StartServer, track: Track
) -> None:
    clock = Clock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    srv = await start_server(clock=clock, **GRACES)
    await add_counselor(srv.settings, "anna")
    counselor = track(await counselor_ws(srv, await login(srv.http, "anna"), capacity=3))
    phone, session = await visitor_hello(srv, first_message="hallo")
    sid = session["session_id"]
    await recv_until(phone, "queue")

    # Away while queued; a counselor takes the chat three minutes later, the visitor still away.
    await gone(srv, phone, session["session_id"])
    clock.advance(180)
    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    assert assigned["session_id"] == sid and assigned["visitor"] == "offline"
    # From the pairing on the chat waits the active grace, not what is left of the queued one.
    clock.advance(100)
    await none_of(counselor, "ended", wait=0.6, session_id=sid)
    clock.advance(21)
    ended = await recv_match(counselor, type="ended", session_id=sid, timeout=5)
    assert ended["reason"] == "timeout"


async def test_a_chat_visitor_away_past_the_active_grace_is_ended(start_server: StartServer, track: Track) -> None:
    clock = Clock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    srv = await start_server(clock=clock, **GRACES)
    await add_counselor(srv.settings, "anna")
    counselor = track(await counselor_ws(srv, await login(srv.http, "anna"), capacity=3))
    visitor, session = await visitor_hello(srv)
    sid = session["session_id"]
    await send(counselor, {"type": "accept"})
    await recv_until(counselor, "assigned")
    await recv_until(visitor, "paired")

    await gone(srv, visitor, sid)
    clock.advance(119)
    await none_of(counselor, "ended", wait=0.6)
    clock.advance(2)
    ended = await recv_match(counselor, type="ended", session_id=sid, timeout=5)
    assert ended["reason"] == "timeout"


async def test_a_visitor_claimed_a_moment_before_the_drop_gets_the_active_grace(
    settings: Any, aredis: Any, with_keeper: bool
) -> None:
    """The race of a drop between the claim and the `paired` notice: the socket that drops still thinks it is
    queued, but the grace follows the session's state in Redis at the drop (what the visitor endpoint's cleanup
    calls: ``chat.ws.instance.visitor_presence``, through the instance keeper or the store alone)."""
    from chat.services.runtime import Runtime
    from chat.sessions import Audience, Language
    from chat.ws.instance import InstanceKeeper, visitor_presence

    rt = Runtime.build(settings, REDIS_URL)
    if with_keeper:
        rt.extras["instance"] = InstanceKeeper(rt)
    try:
        now = 1_000_000
        conns = []
        for i in range(2):
            sid, _ = await rt.store.create_session(
                audience=Audience.PARENT, language=Language.NL, topic=None, urgent=False, category=None, now_ms=now + i
            )
            conns.append(Socket(sid))
            await visitor_presence(rt, conns[-1], +1, now, 0)
        taken = await rt.store.accept(7, "Anna", now + 5, default_capacity=3, idle_deadline_ms=now + 10**6)
        assert taken.info is not None and taken.info.sid == conns[0].sid  # the older one; the other stays queued
        # Both sockets drop with the same arguments (what each socket's cleanup passes: chat grace, queued grace).
        for conn in conns:
            assert await visitor_presence(rt, conn, -1, now + 10, 120_000, 600_000) == 0
        timers = rt.keys.grace_timers
        assert await aredis.zscore(timers, conns[0].sid) == now + 10 + 120_000, "claimed: the chat's grace"
        assert await aredis.zscore(timers, conns[1].sid) == now + 10 + 600_000, "still queued: the queue's grace"
    finally:
        await rt.close()


class Socket:
    """What the presence counting needs of a visitor connection: its session id (and to be hashable)."""

    def __init__(self, sid: str) -> None:
        self.sid = sid


@pytest.fixture(params=[True, False], ids=["instance-keeper", "store"])
def with_keeper(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)
