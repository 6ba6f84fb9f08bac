"""Blocking an abusive visitor over real sockets and Redis: refused neutrally, counted for supervisors, liftable,
and nothing stored names the visitor."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import redis.asyncio as aioredis

from chat.services.auth import Hasher, Role
from chat.store.keys import Keys
from tests.conftest import REDIS_URL
from tests.helpers import (
    ServerThread,
    add_counselor,
    connect,
    counselor_ws,
    login,
    recv_match,
    recv_until,
    send,
    until_closed,
    visitor_hello,
)
from tests.ws.test_bad_input import assert_healthy, healthy_pair

StartServer = Callable[..., Awaitable[ServerThread]]


async def _hello_answer(srv: ServerThread, track: Any) -> list[dict[str, Any]]:
    ws = track(await connect(srv.ws + "/ws/visitor"))
    await send(ws, {"type": "hello", "audience": "youth", "language": "nl"})
    frames = [await recv_match(ws)]
    if frames[0]["type"] == "error":
        frames += await until_closed(ws)
        frames.append({"close": ws.close_code})
    return frames


async def test_a_chat_ended_as_abusive_blocks_its_visitor(start_server: StartServer, track: Any) -> None:
    srv = await start_server(block_seconds=3600)
    pair = await healthy_pair(srv, track)
    await add_counselor(srv.settings, "anna")
    await add_counselor(srv.settings, "sam", role=Role.SUPERVISOR)
    anna = track(await counselor_ws(srv, await login(srv.http, "anna")))
    visitor, session = await visitor_hello(srv, first_message="grap")
    track(visitor)
    sid = session["session_id"]
    await send(anna, {"type": "accept"})
    assert (await recv_until(anna, "assigned"))["session_id"] == sid

    await send(anna, {"type": "end", "session_id": sid, "abusive": True})
    assert (await recv_match(anna, type="blocked", session_id=sid))["block_seconds"] == 3600
    # The visitor is not told why: the end looks like any a counselor makes.
    ended = await recv_match(visitor, type="ended")
    assert ended["reason"] == "counselor"

    # A new chat from the same client is refused neutrally: closed, with the resources, then a normal close.
    frames = await _hello_answer(srv, track)
    assert frames[0]["code"] == "service_closed" and frames[0]["next_opening"] is None
    assert isinstance(frames[0]["resources"], list) and frames[0]["resources"]
    assert "abus" not in str(frames[0]).lower() and "block" not in str(frames[0]).lower()
    assert frames[-1] == {"close": 1000}
    await assert_healthy(pair)  # a chat already running goes on

    # Supervisors see it and may lift it; a counselor may not.
    sam = await login(srv.http, "sam")
    async with httpx.AsyncClient(base_url=srv.http, timeout=30) as client:
        as_anna = {"Authorization": f"Bearer {await login(srv.http, 'anna')}"}
        assert (await client.get("/api/supervisor/blocks", headers=as_anna)).status_code == 403
        listing = (await client.get("/api/supervisor/blocks", headers={"Authorization": f"Bearer {sam}"})).json()
        assert listing["active"] == 1 and listing["made_last_day"] == 1
        (block,) = listing["blocks"]
        assert block["by"] == "anna" and set(block) == {"id", "since", "until", "by"}
        audit = (await client.get("/api/audit", headers={"Authorization": f"Bearer {sam}"})).json()
        assert {"actor": "anna", "action": "block", "session_id": sid}.items() <= audit[0].items()

        # Nothing in Redis names the address: the block is keyed on the HMAC.
        client_redis = aioredis.Redis.from_url(REDIS_URL)
        try:
            keys = [k.decode() async for k in client_redis.scan_iter(match=f"{srv.settings.redis_prefix}:*block*")]
            dumped = [str(await client_redis.dump(k)) for k in keys]
        finally:
            await client_redis.aclose()
        assert keys and not any("127.0.0.1" in k for k in keys + dumped)

        forbidden = await client.delete(f"/api/supervisor/blocks/{block['id']}", headers=as_anna)
        assert forbidden.status_code == 403
        as_sam = {"Authorization": f"Bearer {sam}"}
        lifted = await client.delete(f"/api/supervisor/blocks/{block['id']}", headers=as_sam)
        assert lifted.status_code == 204
        again = await client.delete(f"/api/supervisor/blocks/{block['id']}", headers=as_sam)
        assert again.status_code == 404
    frames = await _hello_answer(srv, track)
    assert frames[0]["type"] == "session"


async def test_an_ordinary_end_blocks_nobody(start_server: StartServer, track: Any) -> None:
    srv = await start_server()
    await add_counselor(srv.settings, "bo")
    bo = track(await counselor_ws(srv, await login(srv.http, "bo")))
    visitor, session = await visitor_hello(srv)
    track(visitor)
    await send(bo, {"type": "accept"})
    await recv_until(bo, "assigned")
    await send(bo, {"type": "end", "session_id": session["session_id"]})
    await recv_match(visitor, type="ended")
    assert (await _hello_answer(srv, track))[0]["type"] == "session"


async def test_yesterdays_salt_still_finds_yesterdays_block(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = Keys(prefix)
    hasher = Hasher(client, keys)
    try:
        assert len(await hasher.recent_digests("addr", "192.0.2.1")) == 1  # no salt from yesterday
        epoch = int(time.time() // hasher.rotate_seconds)
        await client.set(keys.address_salt(epoch - 1), "yesterday", ex=60)
        hasher = Hasher(client, keys)
        today, yesterday = await hasher.recent_digests("addr", "192.0.2.1")
        assert today == await hasher.digest("addr", "192.0.2.1") and yesterday != today
        assert 0 < await client.ttl(keys.address_salt(epoch)) <= 2 * 24 * 3600
    finally:
        await client.aclose()
