"""SIGTERM drains: /readyz 503 while the sockets go on (new ones too), then 1012 for each, then the exit."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from chat.store.migrate import upgrade
from tests.conftest import REDIS_URL, make_settings
from tests.helpers import ServerProcess, recv_until, send, visitor_hello

DRAIN = 4.0


async def test_sigterm_drains_then_closes_with_1012_and_exits(tmp_path: Path, prefix: str) -> None:
    db = tmp_path / "chat.db"
    await asyncio.to_thread(upgrade, make_settings(tmp_path, prefix, database_url=f"sqlite:///{db}"))
    env = {
        "CHAT_REDIS_URL": REDIS_URL,
        "CHAT_REDIS_PREFIX": prefix,
        "CHAT_DATABASE_URL": f"sqlite:///{db}",
        "CHAT_DATA_DIR": str(tmp_path),
        "CHAT_SECRET_KEY": "s" * 40,
        "CHAT_DRAIN_SECONDS": str(DRAIN),
    }
    server = ServerProcess(env).start()
    try:
        before, _ = await visitor_hello(server)  # type: ignore[arg-type]
        async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
            assert (await http.get("/readyz")).status_code == 200
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            # Readiness fails at once (the signal is handled within a tick), with a hint when to ask again.
            while (ready := await http.get("/readyz")).status_code == 200:
                assert time.monotonic() - started < DRAIN, "readyz never answered 503"
                await asyncio.sleep(0.05)
            assert ready.status_code == 503 and ready.json() == {"status": "draining"}
            assert ready.headers["retry-after"]
            # Meanwhile the open socket chats on, and a new one is still served.
            await send(before, {"type": "message", "client_id": "d1", "text": "nog hier"})
            ack = await recv_until(before, "ack")
            assert ack["client_id"] == "d1"
            after, session = await visitor_hello(server)  # type: ignore[arg-type]
            assert session["status"] == "queued"
            assert time.monotonic() - started < DRAIN, "the checks took longer than the drain: raise DRAIN"

        async def close_code(ws: Any) -> int | None:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), DRAIN + 15)
            except ConnectionClosed:
                return ws.close_code  # type: ignore[no-any-return]

        codes = await asyncio.gather(close_code(before), close_code(after))
        closed = time.monotonic() - started
        exit_code = await asyncio.to_thread(server.proc.wait, 30)
        exited = time.monotonic() - started
    finally:
        server.stop()
    assert codes == [1012, 1012]
    # Not before the drain ran out; the exit within the bound (drain + graceful shutdown + lifespan).
    assert closed >= DRAIN - 0.5, f"closed after {closed:.1f} s"
    assert exit_code == 0 and exited < DRAIN + 10, f"exit {exit_code} after {exited:.1f} s"
    assert any('"drain.start"' in line for line in server.lines), server.lines
    assert not [line for line in server.lines if "Traceback" in line or "Exception in ASGI" in line]
