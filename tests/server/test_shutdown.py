"""SIGTERM with many sockets open: every one closed with 1012, the process gone, presence and timers consistent."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from chat.store.keys import Keys
from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ServerProcess, connect, recv_until, send

SOCKETS = 300


async def test_sigterm_closes_every_socket_with_1012(tmp_path: Path, prefix: str, aredis: Any) -> None:
    db = tmp_path / "chat.db"
    await asyncio.to_thread(upgrade, make_settings(tmp_path, prefix, database_url=f"sqlite:///{db}"))
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATABASE_URL": f"sqlite:///{db}",
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_SECRET_KEY": "s" * 40,
        "CHAT_HELLOS_PER_MINUTE": "100000",
    }
    server = ServerProcess(env).start()
    try:

        async def visitor() -> tuple[Any, str]:
            ws = await connect(server.ws + "/ws/visitor")
            await send(ws, {"type": "hello", "audience": "youth", "language": "nl"})
            session = await recv_until(ws, "session")
            return ws, session["session_id"]

        # Opened 50 at a time: all at once, on a busy machine, hellos wait longer for a Redis connection from
        # the pool than its timeout and are refused with 1013 (the server is fine; the machine is slow).
        sockets = []
        for _ in range(0, SOCKETS, 50):
            sockets += await asyncio.gather(*(visitor() for _ in range(50)))
        keys = Keys(prefix)
        assert {await aredis.hget(keys.session(sid), "visitor_conns") for _, sid in sockets} == {b"1"}

        async def close_code(ws: Any) -> int | None:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 15)
            except ConnectionClosed:
                return ws.close_code  # type: ignore[no-any-return]

        started = time.monotonic()
        server.proc.send_signal(15)
        codes = await asyncio.gather(*(close_code(ws) for ws, _ in sockets))
        exit_code = await asyncio.to_thread(server.proc.wait, 30)
        took = time.monotonic() - started
    finally:
        server.stop()
    assert codes == [1012] * SOCKETS
    assert exit_code == 0 and took < 10, f"exit {exit_code} after {took:.1f} s"
    assert not [line for line in server.lines if "Exception in ASGI application" in line or "Traceback" in line]
    # Every visitor counted offline, each with its grace timer: the sessions end (or resume) as usual.
    conns = [await aredis.hget(keys.session(sid), "visitor_conns") for _, sid in sockets]
    assert set(conns) == {b"0"}
    timers = await aredis.zrange(keys.grace_timers, 0, -1)
    assert {t.decode() for t in timers} == {sid for _, sid in sockets}
