"""The hot path of a relayed message (issue 11, round 3).

Whatever path an event takes to a socket (the visitor's own, a second tab, the counselor), each socket gets
each event exactly once, in seq order, as stored; and the append script sets the session keys' TTL once
instead of on every message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection

from tests.conftest import REDIS_URL, MakeServer
from tests.helpers import (
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    none_of,
    recv,
    recv_until,
    send,
    visitor_hello,
)


@pytest.fixture
def fast(make_server: MakeServer) -> ServerThread:
    """A server whose per-session message limit lets a burst of test messages through."""
    return make_server(messages_per_second=1000, message_burst=1000)


async def _events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` message events on ``ws`` (acks and other frames are passed over)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        frame = await recv(ws)
        assert frame.get("type") != "error", frame
        if frame.get("type") == "message":
            events.append(frame)
    return events


async def test_every_socket_gets_every_event_once_in_order(fast: ServerThread) -> None:
    server = fast
    await add_counselor(server.settings, "bea", display_name="Bea")
    counselor = await counselor_ws(server, await login(server.http, "bea"), capacity=1)
    v1, s1 = await visitor_hello(server, first_message="Hallo")
    sid = s1["session_id"]
    await send(counselor, {"type": "accept"})
    await recv_until(counselor, "assigned")
    before_paired: list[dict[str, Any]] = []
    await recv_until(v1, "paired", seen=before_paired)
    first = [f for f in before_paired if f["type"] == "message"]  # the hello's first message, delivered at once
    # A second tab of the same visitor follows the session from the start.
    v2 = await connect(server.ws + "/ws/visitor")
    await send(v2, {"type": "resume", "token": s1["token"], "last_seq": 0})
    assert (await recv(v2))["type"] == "session"

    # Both sides write at once, so the visitor's own events interleave with the counselor's in the stream.
    n = 25
    for i in range(n):
        await send(v1, {"type": "message", "client_id": f"v-{i}", "text": f"bezoeker {i}"})
        await send(counselor, {"type": "message", "session_id": sid, "client_id": f"k-{i}", "text": f"hulp {i}"})

    total = 1 + 2 * n  # the first message, then both sides' messages
    seen = {
        "v1": first + await _events(v1, total - len(first)),
        "v2": await _events(v2, total),
        "counselor": await _events(counselor, total),
    }
    for who, events in seen.items():
        assert [e["seq"] for e in events] == list(range(1, total + 1)), who
    # The same events everywhere, field for field, and each of the visitor's texts once.
    assert seen["v1"] == seen["v2"] == seen["counselor"]
    mine = [e["text"] for e in seen["v1"] if e["sender"] == "visitor"]
    assert mine == ["Hallo"] + [f"bezoeker {i}" for i in range(n)]
    # Nothing comes twice afterwards.
    for ws in (v1, v2, counselor):
        await none_of(ws, "message", wait=0.5)

    # A resend of a stored message gets its first seq and no second event.
    await send(v1, {"type": "message", "client_id": "v-3", "text": "bezoeker 3"})
    ack = await recv_until(v1, "ack")
    assert ack["client_id"] == "v-3" and ack["seq"] == next(e["seq"] for e in seen["v1"] if e.get("client_id") == "v-3")
    await none_of(v2, "message", wait=0.5)
    for ws in (v1, v2, counselor):
        await ws.close()


async def test_acks_come_for_every_message_sent_back_to_back(fast: ServerThread) -> None:
    """A visitor who sends without waiting (a paste of many lines) gets an ack per message and every event once."""
    server = fast
    v, s = await visitor_hello(server)
    n = 40
    await asyncio.gather(*(send(v, {"type": "message", "client_id": f"b-{i}", "text": f"regel {i}"}) for i in range(n)))
    acks: dict[str, int] = {}
    events: list[int] = []
    while len(acks) < n or len(events) < n:
        frame = await recv(v)
        assert frame["type"] != "error", frame
        if frame["type"] == "ack":
            assert frame["client_id"] not in acks
            acks[frame["client_id"]] = frame["seq"]
        elif frame["type"] == "message":
            events.append(frame["seq"])
    assert sorted(acks.values()) == list(range(1, n + 1))
    assert events == list(range(1, n + 1))
    await none_of(v, "message", wait=0.5)
    await v.close()


async def test_session_keys_keep_the_sessions_ttl(server: ServerThread) -> None:
    """The append sets the TTL of the events stream and the resend ids once, from the session's own; a first
    message without a client id (the hello's) leaves the ids' TTL to the first message that has one."""
    v, s = await visitor_hello(server, first_message="Eerste bericht")
    sid = s["session_id"]
    keys = server.rt.keys
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        assert await client.pttl(keys.events(sid)) > 0
        assert not await client.exists(keys.client_ids(sid))
        for i in range(3):
            await send(v, {"type": "message", "client_id": f"t-{i}", "text": f"bericht {i}"})
            await recv_until(v, "ack")
        meta_ttl = await client.pttl(keys.session(sid))
        for key in (keys.events(sid), keys.client_ids(sid)):
            ttl = await client.pttl(key)
            assert 0 < ttl <= meta_ttl and meta_ttl - ttl < 60_000, (key, ttl, meta_ttl)
        stored = [json.loads(fields[b"e"]) for _id, fields in await client.xrange(keys.events(sid))]
        assert [e["seq"] for e in stored] == [1, 2, 3, 4]
        meta = await client.hmget(keys.session(sid), "seq", "bytes")
        assert int(meta[0]) == 4
        assert int(meta[1]) == sum(
            len(
                json.dumps(
                    {k: v for k, v in e.items() if k != "seq"}, ensure_ascii=False, separators=(",", ":")
                ).encode()
            )
            for e in stored
        )
    finally:
        await client.aclose()
        await v.close()
