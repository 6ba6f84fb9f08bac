"""A chat on a real 3-master Redis Cluster, and on a primary + replica + 3 Sentinels with a failover mid-chat.

Both topologies are started here on free loopback ports (tests/redis_nodes.py), once for the module, and
stopped at its end. The servers are real uvicorn servers (``ServerThread``) given the cluster's or the
Sentinels' URL, exactly as ``chat serve`` reads ``CHAT_REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed

from chat.archiver.worker import Archiver
from chat.settings import Settings
from chat.store.client import connect as redis_connect
from chat.store.keys import Keys
from chat.store.migrate import upgrade
from chat.store.sql import make_engine
from tests.conftest import make_settings
from tests.helpers import (
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
from tests.redis_nodes import Cluster, Replicated, redis_server, sentinel_command, wait_for


def _skip_without_redis() -> None:
    if redis_server() is None:
        pytest.skip("redis-server is not on PATH: the Redis Cluster and Sentinel tests need it")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _skip_without_redis()
    nodes = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield nodes.start()
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    _skip_without_redis()
    if sentinel_command() is None:
        pytest.skip("neither redis-sentinel nor redis-server --sentinel is available")
    nodes = Replicated(tmp_path_factory.mktemp("sentinel"))
    try:
        yield nodes.start()
    finally:
        nodes.stop()


async def _settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    settings = make_settings(tmp_path, f"t{secrets.token_hex(4)}", redis_url=url, **overrides)
    await asyncio.to_thread(upgrade, settings)
    return settings


async def _start(settings: Settings, n: int) -> list[ServerThread]:
    return [await asyncio.to_thread(ServerThread(settings, str(settings.redis_url)).start) for _ in range(n)]


async def _stop(servers: list[ServerThread]) -> None:
    for srv in servers:
        await asyncio.to_thread(srv.stop)


async def test_chat_on_redis_cluster(cluster: Cluster, tmp_path: Path) -> None:
    """Login, hello, accept, messages both ways across two instances, a rate limit, a receipt, end, archive; and no
    double assignment."""
    # Three messages from the visitors' address in its burst: the fourth is over its limit.
    settings = await _settings(
        tmp_path,
        cluster.url,
        wrapup_wait_seconds=0,
        store_transcripts=False,
        address_messages_per_second=0.01,
        address_message_burst=3,
    )
    a, b = await _start(settings, 2)
    client = redis_connect(cluster.url, server=False)
    keys = Keys(settings.redis_prefix)
    try:
        # The cluster client really spreads the keys: a session's and a counselor's live on different slots.
        assert client.__class__.__name__ == "RedisCluster"
        # Redis 7 has sharded pub/sub: each session's channel on its own shard (SSUBSCRIBE/SPUBLISH).
        server = redis_server()
        assert server is not None
        assert a.rt.hub.sharded is b.rt.hub.sharded is (server[1] >= (7,))
        await add_counselor(settings, "anna", display_name="Anna")
        await add_counselor(settings, "bram", display_name="Bram")
        counselor = await counselor_ws(b, await login(b.http, "anna"), capacity=5)
        visitor, session = await visitor_hello(a, first_message="Hallo, ik wil iets vragen")
        sid = session["session_id"]
        await send(counselor, {"type": "accept"})
        assigned = await recv_until(counselor, "assigned", timeout=10)
        assert assigned["session_id"] == sid
        assert (await recv_until(visitor, "paired", timeout=10))["counselor_name"] == "Anna"
        assert (await recv_match(counselor, type="message", seq=1, timeout=10))["text"] == "Hallo, ik wil iets vragen"
        seq = 1
        for i in range(3):
            await send(visitor, {"type": "message", "client_id": f"v-{i}", "text": f"vraag {i}"})
            seq += 1
            assert (await recv_until(visitor, "ack", timeout=10))["seq"] == seq
            assert (await recv_match(counselor, type="message", seq=seq, timeout=10))["text"] == f"vraag {i}"
            await send(
                counselor, {"type": "message", "session_id": sid, "client_id": f"c-{i}", "text": f"antwoord {i}"}
            )
            seq += 1
            assert (await recv_until(counselor, "ack", timeout=10))["seq"] == seq
            assert (await recv_match(visitor, type="message", seq=seq, timeout=10))["text"] == f"antwoord {i}"
        # The rate buckets are in another slot than the session: taken first, and over the limit nothing is stored.
        await send(visitor, {"type": "message", "client_id": "v-over", "text": "te veel"})
        assert (await recv_match(visitor, client_id="v-over", timeout=10))["code"] == "rate_limited"
        # A receipt: the ownership, the marks and the notice in the session's slot.
        await send(counselor, {"type": "receipt", "session_id": sid, "delivered": seq, "read": seq - 1})
        assert await recv_until(visitor, "receipt", timeout=10) == {
            "type": "receipt",
            "delivered": seq,
            "read": seq - 1,
        }
        await send(visitor, {"type": "end"})
        ended = await recv_match(counselor, type="ended", session_id=sid, timeout=10)
        assert ended["seq"] == seq + 1
        # The steps after the end's own script: out of the counselor's sessions, due in the archive queue.
        assert await client.scard(keys.counselor_sessions(1)) == 0
        assert await client.zscore(keys.archive_queue, sid) is not None
        engine = make_engine(settings.sqlalchemy_url)
        try:
            assert await Archiver(settings, client, engine, None).run_once() == 1
        finally:
            await engine.dispose()
        assert await client.exists(keys.session(sid), keys.events(sid)) == 0

        # Two counselors on two instances accept at once from six waiting visitors: each is taken once.
        other = await counselor_ws(a, await login(a.http, "bram"), capacity=5)
        waiting = [await visitor_hello((a, b)[i % 2]) for i in range(6)]
        sids = {s["session_id"] for _ws, s in waiting}

        async def take(ws: Any, n: int) -> list[str]:
            got = []
            for _ in range(n):
                await send(ws, {"type": "accept"})
                got.append((await recv_until(ws, "assigned", timeout=15))["session_id"])
            return got

        first, second = await asyncio.gather(take(counselor, 3), take(other, 3))
        assert sorted(first + second) == sorted(sids)
        for ws, _s in waiting:
            await recv_until(ws, "paired", timeout=10)
            await ws.close()
        await counselor.close()
        await other.close()
        await visitor.close()
    finally:
        await client.aclose()
        await _stop([a, b])


async def test_hub_resubscribes_when_a_cluster_node_restarts(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The node with the chat's channel goes away and comes back: the hub subscribes again, the chat goes on."""
    caplog.set_level(logging.INFO, logger="chat.store.pubsub")
    settings = await _settings(tmp_path, cluster.url)
    (srv,) = await _start(settings, 1)
    try:
        await add_counselor(settings, "anna", display_name="Anna")
        counselor = await counselor_ws(srv, await login(srv.http, "anna"), capacity=5)
        visitor, session = await visitor_hello(srv)
        sid, token = session["session_id"], session["token"]
        await send(counselor, {"type": "accept"})
        assert (await recv_until(counselor, "assigned", timeout=10))["session_id"] == sid
        await recv_until(visitor, "paired", timeout=10)
        sharded = srv.rt.hub.sharded
        # Sharded: the chat's channel lives on its session's node. Plain: the hub's one connection's node.
        port = cluster.port_of(Keys(settings.redis_prefix).session_channel(sid) if sharded else "chat:hub:noop")
        await asyncio.to_thread(cluster.restart, port)

        for i in range(2):
            while True:
                try:
                    await send(visitor, {"type": "message", "client_id": f"v-{i}", "text": f"weer hier {i}"})
                    ack = await recv_until(visitor, "ack", timeout=10)
                    break
                except (ConnectionClosed, TimeoutError):
                    await visitor.close()
                    visitor = await _resume(srv, token)
            heard = await recv_match(counselor, type="message", seq=ack["seq"], timeout=20)
            assert heard["text"] == f"weer hier {i}"
        # The hub noticed (redis-py may reconnect and resubscribe by itself) and told the sockets to resync.
        restored = "shard subscriptions restored" if sharded else "subscriber connection restored"
        messages = [r.getMessage() for r in caplog.records if r.name == "chat.store.pubsub"]
        assert any(restored in m for m in messages), messages
        await visitor.close()
        await counselor.close()
    finally:
        await _stop([srv])


async def _resume(srv: ServerThread, token: str) -> Any:
    """The visitor's socket again, as the widget does after a drop (the server may still be switching over)."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        try:
            ws = await connect(srv.ws + "/ws/visitor")
            await send(ws, {"type": "resume", "token": token, "last_seq": 0})
            frame = await recv(ws, 10)
            if frame.get("type") == "session":
                return ws
            await ws.close()
        except (ConnectionClosed, TimeoutError, OSError):
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the visitor could not resume after the failover")
        await asyncio.sleep(0.2)


async def test_sentinel_failover_loses_no_acked_message(replicated: Replicated, tmp_path: Path) -> None:
    """The primary fails over while the visitor writes: every acked message is on the new primary, in order."""
    settings = await _settings(tmp_path, replicated.url, redis_wait_replicas=1, redis_wait_timeout_ms=500)
    (srv,) = await _start(settings, 1)
    try:
        await add_counselor(settings, "anna", display_name="Anna")
        counselor = await counselor_ws(srv, await login(srv.http, "anna"), capacity=5)
        visitor, session = await visitor_hello(srv)
        sid, token = session["session_id"], session["token"]
        await send(counselor, {"type": "accept"})
        assert (await recv_until(counselor, "assigned", timeout=10))["session_id"] == sid
        await recv_until(visitor, "paired", timeout=10)

        acked: dict[str, int] = {}
        old = replicated.primary
        for i in range(30):
            if i == 10:
                sentinel = redis.Redis(port=replicated.sentinels[0])
                await asyncio.to_thread(sentinel.execute_command, "SENTINEL", "FAILOVER", replicated.master)
                sentinel.close()
            if i == 20:
                # Messages 20 and later go to the new primary.
                await asyncio.to_thread(wait_for, lambda: replicated.current_primary() != old, "the failover", 30)
            text = f"bericht {i}"
            while True:
                try:
                    await send(visitor, {"type": "message", "client_id": f"v-{i}", "text": text})
                    ack = await recv_until(visitor, "ack", timeout=10)
                    break
                except (ConnectionClosed, TimeoutError):
                    await visitor.close()
                    visitor = await _resume(srv, token)
            acked[text] = int(ack["seq"])
        assert replicated.current_primary() == replicated.replica

        primary = redis.Redis(port=replicated.replica, decode_responses=True)
        stored = [json.loads(f["e"]) for _id, f in primary.xrange(Keys(settings.redis_prefix).events(sid))]
        primary.close()
        by_text = {e["text"]: e["seq"] for e in stored if e.get("type") == "message"}
        assert {t: by_text.get(t) for t in acked} == acked
        assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
        await visitor.close()
        await counselor.close()
    finally:
        await _stop([srv])
