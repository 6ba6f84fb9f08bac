"""SIGTERM with many sockets open: the bulk shutdown.

Every socket is closed with 1012 and the process exits by itself; the presence counts of every socket go over
in bulk (chat/ws/instance.py ``hand_over_soon``): no visitor or counselor is left counted online, each visitor
has the grace timer of their state (queued or in a chat) and each counselor theirs, no handler is cancelled
before its cleanup, and a visitor who reconnects to another instance resumes there. How long it takes is the
benchmark's business (bench/bench_idle.py), not this test's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from chat.store.keys import Keys
from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ServerProcess, add_counselor, connect, counselor_ws, login, recv_until, send

SOCKETS = 600
CANCELLED_MARKS = ("Exception in ASGI application", "CancelledError", "Traceback", "timeout graceful shutdown")


def _events(server: ServerProcess, event: str) -> list[dict[str, Any]]:
    found = []
    for line in server.lines:
        if f'"{event}"' in line:
            entry = json.loads(line)
            if entry.get("event") == event:
                found.append(entry)
    return found


async def _close_code(ws: Any) -> int | None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 60)
    except ConnectionClosed:
        return ws.close_code  # type: ignore[no-any-return]


async def test_sigterm_hands_every_socket_over_in_bulk(tmp_path: Path, prefix: str, aredis: Any) -> None:
    db = tmp_path / "chat.db"
    settings = make_settings(tmp_path, prefix, database_url=f"sqlite:///{db}")
    await asyncio.to_thread(upgrade, settings)
    await add_counselor(settings, "sd-anna", display_name="Anna")
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATABASE_URL": f"sqlite:///{db}",
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_SECRET_KEY": "s" * 40,
        "CHAT_HELLOS_PER_MINUTE": "100000",
        # Every socket comes from 127.0.0.1.
        "CHAT_MAX_SOCKETS_PER_ADDRESS": "10000",
        "CHAT_MAX_CONNECTIONS_PER_ADDRESS": "10000",
        "CHAT_VISITOR_GRACE_SECONDS": "300",
        "CHAT_QUEUED_GRACE_SECONDS": "600",
        "CHAT_COUNSELOR_GRACE_SECONDS": "900",
    }
    keys = Keys(prefix)
    first = ServerProcess(env).start()
    second = ServerProcess(env).start()
    try:
        # A chat in progress on the first instance: its counselor and its visitor, both there.
        counselor = await counselor_ws(first, await login(first.http, "sd-anna"), capacity=1)
        chatting = await connect(first.ws + "/ws/visitor")
        await send(chatting, {"type": "hello", "audience": "youth", "language": "nl", "first_message": "hallo"})
        chat = await recv_until(chatting, "session")
        await send(counselor, {"type": "accept"})
        await recv_until(counselor, "assigned")
        await recv_until(chatting, "paired")

        async def visitor() -> tuple[Any, dict[str, Any]]:
            ws = await connect(first.ws + "/ws/visitor")
            await send(ws, {"type": "hello", "audience": "youth", "language": "nl"})
            return ws, await recv_until(ws, "session")

        # Opened 50 at a time: all at once, on a busy machine, hellos wait longer for a Redis connection from
        # the pool than its timeout and are refused with 1013 (the server is fine; the machine is slow).
        queued: list[tuple[Any, dict[str, Any]]] = []
        for _ in range(0, SOCKETS, 50):
            queued += await asyncio.gather(*(visitor() for _ in range(50)))
        sids = [s["session_id"] for _, s in queued]
        assert {await aredis.hget(keys.session(sid), "visitor_conns") for sid in sids} == {b"1"}

        first.proc.send_signal(15)
        sockets = [chatting, counselor, *(ws for ws, _ in queued)]
        codes = await asyncio.gather(*(_close_code(ws) for ws in sockets))
        exit_code = await asyncio.to_thread(first.proc.wait, 60)

        assert codes == [1012] * len(sockets)
        assert exit_code == 0
        assert not [line for line in first.lines if any(mark in line for mark in CANCELLED_MARKS)]
        # The counts went over in one step (not socket by socket), with everyone this instance held.
        [handover] = _events(first, "instance.handover")
        assert (handover["visitors"], handover["visitors_offline"]) == (SOCKETS + 1, SOCKETS + 1)
        assert (handover["counselors"], handover["counselors_offline"], handover["failed"]) == (1, 1, 0)
        instance = handover["instance"]

        # Nobody is left online: no count, no share of the stopped instance, which has left no index behind.
        chat_sid = chat["session_id"]
        for sid in [chat_sid, *sids]:
            meta = await aredis.hgetall(keys.session(sid))
            assert meta[b"visitor_conns"] == b"0"
            assert not [field for field in meta if field.startswith(b"conns:")]
        assert not await aredis.exists(keys.instance_visitors(instance), keys.instance_counselors(instance))
        assert await aredis.zscore(keys.instances, instance) is None
        # Each visitor's grace runs from the moment the counts went over: the queued grace while queued, a
        # chat's grace in a chat; the counselor is offline with the counselor grace.
        timers = dict(await aredis.zrange(keys.grace_timers, 0, -1, withscores=True))
        assert {sid.decode() for sid in timers} == {chat_sid, *sids}
        for sid in sids:
            away = int(await aredis.hget(keys.session(sid), "away_since"))
            assert timers[sid.encode()] == away + 600_000
        assert timers[chat_sid.encode()] == int(await aredis.hget(keys.session(chat_sid), "away_since")) + 300_000
        counselor_id = (await aredis.hget(keys.session(chat_sid), "counselor")).decode()
        assert await aredis.zscore(keys.counselors_online, counselor_id) is None
        assert await aredis.hgetall(keys.counselor_conns(int(counselor_id))) == {}
        counselor_timer = await aredis.zscore(keys.counselor_grace_timers, counselor_id)
        assert counselor_timer == int(await aredis.hget(keys.session(chat_sid), "away_since")) + 900_000

        # The visitors reconnect to the other instance and resume: the chat and a queued one.
        back = await connect(second.ws + "/ws/visitor")
        await send(back, {"type": "resume", "token": chat["token"], "last_seq": 0})
        resumed = await recv_until(back, "session")
        assert (resumed["session_id"], resumed["status"], resumed["resumed"]) == (chat_sid, "active", True)
        again = await connect(second.ws + "/ws/visitor")
        await send(again, {"type": "resume", "token": queued[0][1]["token"], "last_seq": 0})
        resumed = await recv_until(again, "session")
        assert (resumed["session_id"], resumed["status"]) == (sids[0], "queued")
        for sid in (chat_sid, sids[0]):
            # The `session` frame goes out before the socket is counted and its grace timer stopped (two round
            # trips after it): wait for both, bounded, then check them.
            deadline = asyncio.get_running_loop().time() + 10
            while asyncio.get_running_loop().time() < deadline and (
                await aredis.hget(keys.session(sid), "visitor_conns") != b"1"
                or await aredis.zscore(keys.grace_timers, sid) is not None
            ):
                await asyncio.sleep(0.05)
            assert await aredis.hget(keys.session(sid), "visitor_conns") == b"1"
            assert await aredis.zscore(keys.grace_timers, sid) is None
        await back.close()
        await again.close()
    finally:
        first.stop()
        second.stop()
