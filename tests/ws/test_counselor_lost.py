"""A counselor gone longer than the counselor grace loses their open chats to the head of the queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from chat.store.instances import InstanceStore
from chat.store.keys import Keys
from tests.helpers import (
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


async def test_counselor_lost_hands_chats_back_and_one_back_in_time_keeps_them(
    start_server: Callable[..., Awaitable[ServerThread]], track: Callable[[Any], Any]
) -> None:
    srv = await start_server(counselor_grace_seconds=2.0, instance_heartbeat_seconds=0.2)
    tokens = {}
    for name in ("anna", "bo", "cas"):
        await add_counselor(srv.settings, name, display_name=name.title())
        tokens[name] = await login(srv.http, name)

    urgent, s_urgent = await visitor_hello(srv, first_message=DANGER)
    track(urgent)
    anna = await counselor_ws(srv, tokens["anna"], capacity=2)
    await send(anna, {"type": "accept"})
    assigned = await recv_until(anna, "assigned")
    sid = s_urgent["session_id"]
    assert assigned["session_id"] == sid and assigned["urgent"] is True
    await send(anna, {"type": "message", "session_id": sid, "client_id": "a1", "text": "ik ben er voor je"})
    await recv_match(anna, type="ack", client_id="a1")

    calm, s_calm = await visitor_hello(srv, first_message="ik heb een vraag")
    track(calm)
    cas = await counselor_ws(srv, tokens["cas"], capacity=1)
    await send(cas, {"type": "accept"})
    assert (await recv_until(cas, "assigned"))["session_id"] == s_calm["session_id"]
    # Another urgent visitor waits in the same queue: a chat handed back goes ahead of them.
    waiting, _ = await visitor_hello(srv, first_message=DANGER)
    track(waiting)

    await anna.close()
    await cas.close()
    cas = track(await counselor_ws(srv, tokens["cas"]))  # back within the grace
    assert (await recv_until(cas, "assigned"))["session_id"] == s_calm["session_id"]

    handover = await recv_match(urgent, type="handover", timeout=10)
    assert handover["counselor_name"] is None and handover["sender"] == "system"
    assert (await recv_until(urgent, "queue"))["position"] == 1

    bo = track(await counselor_ws(srv, tokens["bo"], capacity=1))
    await send(bo, {"type": "accept"})
    again = await recv_until(bo, "assigned")
    assert again["session_id"] == sid and again["urgent"] is True
    assert again["transfer"]["from"] == "Anna"
    # The same session, its transcript whole.
    assert (await recv_match(bo, type="message", sender="counselor"))["text"] == "ik ben er voor je"
    assert (await recv_until(urgent, "paired"))["counselor_name"] == "Bo"

    # Cas kept theirs past the grace.
    await none_of(calm, "handover", wait=1.5)
    await send(cas, {"type": "message", "session_id": s_calm["session_id"], "client_id": "c1", "text": "nog hier"})
    assert (await recv_match(cas, type="ack", client_id="c1"))["session_id"] == s_calm["session_id"]

    # Anna, back, is told that the chat went back to the queue.
    anna = track(await counselor_ws(srv, tokens["anna"]))
    told = await recv_match(anna, type="transferred", session_id=sid)
    assert told["to"] is None and told["reason"] == "counselor_lost"


async def test_an_instance_presumed_dead_counts_its_sockets_again(
    start_server: Callable[..., Awaitable[ServerThread]], track: Callable[[Any], Any], aredis: Any
) -> None:
    # The keeper beats when the test says so (on the server's loop), not by itself.
    srv = await start_server(instance_heartbeat_seconds=600.0, instance_ttl_seconds=1200.0)
    keys = Keys(srv.settings.redis_prefix)
    visitor, session = await visitor_hello(srv, first_message="hallo")
    track(visitor)
    keeper = srv.rt.extras["instance"]
    old = keeper.id
    sid = session["session_id"]
    # As if the process had stalled past its TTL and another instance had taken over its sockets.
    other = InstanceStore(aredis, keys, index_ttl=60)
    await aredis.delete(keys.instance_alive(old))
    assert await other.claim(old, "i_other", 30_000)
    assert (await other.visitor(sid, old, "drop", 0)).total == 0
    await other.forget(old)
    # Still in the stall, before its beat: a socket counted under the old id, which nobody takes over now.
    assert (await other.visitor(sid, old, +1, 0)).total == 1
    await aredis.sadd(keys.instance_visitors(old), sid)

    # Its next beat finds its key gone: the socket is counted again, under a new instance id, and the old
    # share goes (else the visitor would stay online for ever).
    beat = asyncio.run_coroutine_threadsafe(keeper.beat_once(), keeper._task.get_loop())
    await asyncio.wait_for(asyncio.wrap_future(beat), 10)
    meta = keys.session(sid)
    assert keeper.id != old and await aredis.hget(meta, f"conns:{keeper.id}") == b"1"
    assert await aredis.hget(meta, f"conns:{old}") is None
    assert await aredis.hget(meta, "visitor_conns") == b"1"
    assert not await aredis.sismember(keys.instance_visitors(old), sid)
    assert 0 < await aredis.ttl(keys.instance_visitors(keeper.id)) <= srv.settings.session_ttl_seconds
    assert await aredis.zscore(keys.grace_timers, session["session_id"]) is None
