"""Floods over real sockets and real Redis: limits per session and per client address, not per socket, and a cap
on what one session may store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection

from tests.conftest import REDIS_URL
from tests.helpers import ServerThread, connect, recv, recv_match, send, visitor_hello
from tests.ws.test_bad_input import assert_healthy, healthy_pair

StartServer = Callable[..., Awaitable[ServerThread]]


async def _resume(srv: ServerThread, token: str, track: Any) -> ClientConnection:
    ws = track(await connect(srv.ws + "/ws/visitor"))
    await send(ws, {"type": "resume", "token": token, "last_seq": 0})
    assert (await recv_match(ws, type="session"))["status"] in ("queued", "active")
    return ws


async def _answers(ws: ClientConnection, ids: list[str]) -> dict[str, str]:
    """For each client_id: 'ack' or the error code it got."""
    out: dict[str, str] = {}
    while len(out) < len(ids):
        frame = await recv(ws, 10)
        if frame.get("client_id") in ids and frame["type"] in ("ack", "error"):
            out[frame["client_id"]] = "ack" if frame["type"] == "ack" else frame["code"]
    return out


async def test_six_sockets_on_one_session_share_one_limit(start_server: StartServer, track: Any) -> None:
    burst = 5
    srv = await start_server(messages_per_second=0.1, message_burst=burst)
    pair = await healthy_pair(srv, track)
    visitor, session = await visitor_hello(srv)
    track(visitor)
    sockets = [visitor] + [await _resume(srv, session["token"], track) for _ in range(5)]

    async def flood(i: int, ws: ClientConnection) -> dict[str, str]:
        ids = [f"s{i}-{n}" for n in range(burst)]
        for cid in ids:
            await send(ws, {"type": "message", "client_id": cid, "text": "spam"})
        return await _answers(ws, ids)

    results = await asyncio.gather(*(flood(i, ws) for i, ws in enumerate(sockets)))
    answers = [a for r in results for a in r.values()]
    # 30 messages over six sockets: the session's one bucket lets the burst through (and at most one refill).
    assert burst <= answers.count("ack") <= burst + 1, answers
    assert set(answers) == {"ack", "rate_limited"}
    await assert_healthy(pair)


async def test_one_address_is_limited_across_its_sessions(start_server: StartServer, track: Any) -> None:
    srv = await start_server(
        messages_per_second=100.0, message_burst=100, address_messages_per_second=0.1, address_message_burst=8
    )
    sessions = []
    for _ in range(3):
        ws, _session = await visitor_hello(srv)
        sessions.append(track(ws))

    async def flood(i: int, ws: ClientConnection) -> dict[str, str]:
        ids = [f"a{i}-{n}" for n in range(6)]
        for cid in ids:
            await send(ws, {"type": "message", "client_id": cid, "text": "spam"})
        return await _answers(ws, ids)

    results = await asyncio.gather(*(flood(i, ws) for i, ws in enumerate(sessions)))
    answers = [a for r in results for a in r.values()]
    assert 8 <= answers.count("ack") <= 9, answers


async def test_a_session_stores_no_more_than_its_cap(start_server: StartServer, track: Any) -> None:
    srv = await start_server(max_session_events=4, max_session_bytes=100_000)
    pair = await healthy_pair(srv, track)
    visitor, session = await visitor_hello(srv, first_message="eerste")
    track(visitor)
    answers = []
    for n in range(5):
        await send(visitor, {"type": "message", "client_id": f"c{n}", "text": f"bericht {n}"})
        answers.append(await recv_match(visitor, client_id=f"c{n}"))
    assert [a["type"] for a in answers] == ["ack", "ack", "ack", "error", "error"]
    assert all(a["code"] == "too_large" and a["reason"] == "session_full" for a in answers[3:])
    # The chat can still be ended: the `ended` event always fits.
    await send(visitor, {"type": "end"})
    ended = await recv_match(visitor, type="ended")
    assert ended["seq"] == 5
    await assert_healthy(pair)


async def test_a_session_stores_no_more_bytes_than_its_cap(start_server: StartServer, track: Any) -> None:
    srv = await start_server(max_session_bytes=1800)
    visitor, _session = await visitor_hello(srv)
    track(visitor)
    kinds = []
    for n in range(4):
        await send(visitor, {"type": "message", "client_id": f"b{n}", "text": "x" * 400})
        kinds.append((await recv_match(visitor, client_id=f"b{n}")).get("reason", "ack"))
    assert kinds == ["ack", "ack", "ack", "session_full"]


async def test_activity_does_not_renew_a_session_lifetime(start_server: StartServer, track: Any) -> None:
    srv = await start_server(session_ttl_seconds=100)
    visitor, session = await visitor_hello(srv, first_message="hallo")
    track(visitor)
    keys = srv.rt.keys
    sid = session["session_id"]
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await asyncio.sleep(1.1)
        before = await client.pttl(keys.session(sid))
        assert 0 < before <= 99_000
        await send(visitor, {"type": "message", "client_id": "m1", "text": "nog een"})
        await recv_match(visitor, type="ack", client_id="m1")
        assert await client.pttl(keys.session(sid)) <= before
        assert 0 < await client.pttl(keys.events(sid)) <= before
        assert 0 < await client.pttl(keys.client_ids(sid)) <= before
    finally:
        await client.aclose()


async def test_a_silent_queued_session_times_out_and_a_writing_one_waits(start_server: StartServer, track: Any) -> None:
    srv = await start_server(queued_silent_timeout_seconds=1.0)
    silent, s1 = await visitor_hello(srv)
    wrote_first, s2 = await visitor_hello(srv, first_message="ik wacht")
    wrote_later, s3 = await visitor_hello(srv)
    for ws in (silent, wrote_first, wrote_later):
        track(ws)
    await send(wrote_later, {"type": "message", "client_id": "w1", "text": "toch iets"})
    await recv_match(wrote_later, type="ack", client_id="w1")
    ended = await recv_match(silent, type="ended", timeout=10)
    assert ended["reason"] == "timeout"
    # Well past the timeout, those who wrote are still waiting in the queue.
    await asyncio.sleep(1.5)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        statuses = [await client.hget(srv.rt.keys.session(s["session_id"]), "status") for s in (s1, s2, s3)]
    finally:
        await client.aclose()
    assert statuses == [b"ended", b"queued", b"queued"]
