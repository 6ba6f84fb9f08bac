"""Redis stopped mid-chat: only documented answers, no traceback, and recovery without a restart.

The test runs a redis-server of its own on a free port (with an append-only file, so that it can come back
with its data once, and then without it), and a real server on it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync

from chat.store.migrate import upgrade
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
    until_closed,
    visitor_hello,
)


class OwnRedis:
    """redis-server on a free loopback port, stopped and started again by the test."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, empty: bool = False) -> None:
        if empty:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(self.folder)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--loglevel", "warning"]
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_sync.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis_sync.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


class Caught(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def caught() -> Iterator[Caught]:
    """Every log record of the process, uvicorn's own error logger included (it does not propagate)."""
    handler = Caught()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    root_level = loggers[0].level
    loggers[0].setLevel(logging.INFO)
    for lg in loggers:
        lg.addHandler(handler)
    yield handler
    for lg in loggers:
        lg.removeHandler(handler)
    loggers[0].setLevel(root_level)


async def refused(ws: Any) -> None:
    """The documented answer to a store outage on a socket: `unavailable`, then 1013, and nothing else."""
    frames = await until_closed(ws, 15)
    assert ("error", "unavailable") in [(f["type"], f.get("code")) for f in frames], frames
    assert not [f for f in frames if f["type"] == "ack"], frames  # nothing acked that was not stored
    assert ws.close_code == 1013


async def http_unavailable(http: httpx.AsyncClient) -> None:
    ready = await http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["failed"] == ["redis"] and ready.headers["retry-after"]
    for response in (
        await http.get("/api/status"),
        await http.post("/api/auth/login", json={"username": "anna", "password": "correct horse battery"}),
    ):
        assert response.status_code == 503, response.text
        assert response.json() == {"detail": "unavailable"} and response.headers["retry-after"]


async def again(srv: ServerThread, frame: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Open a visitor socket and send ``frame`` as a client does after an outage: on `unavailable` (a
    pooled connection to the old Redis, used once more) reconnect with backoff. Returns the first answer."""
    for _ in range(20):
        ws = await connect(srv.ws + "/ws/visitor")
        await send(ws, frame)
        first = await recv(ws)
        if first.get("code") != "unavailable":
            return ws, first
        await refused_after(ws, first)
        await asyncio.sleep(0.2)
    raise AssertionError("still unavailable")


async def refused_after(ws: Any, first: dict[str, Any]) -> None:
    frames = [first, *await until_closed(ws, 15)]
    assert not [f for f in frames if f["type"] == "ack"], frames
    assert ws.close_code == 1013


async def again_counselor(srv: ServerThread, token: str) -> str:
    """A console reconnecting with its token after an outage: the first answer's type or error code."""
    for _ in range(20):
        ws = await connect(srv.ws + "/ws/counselor")
        await send(ws, {"type": "auth", "token": token})
        first = await recv(ws)
        await ws.close()
        if first.get("code") != "unavailable":
            return str(first.get("code") or first["type"])
        await asyncio.sleep(0.2)
    raise AssertionError("still unavailable")


async def login_again(srv: ServerThread) -> str:
    for _ in range(20):
        try:
            return await login(srv.http, "anna")
        except httpx.HTTPStatusError as exc:
            assert exc.response.status_code == 503 and exc.response.headers["retry-after"]
            await asyncio.sleep(0.2)
    raise AssertionError("login still unavailable")


async def until_ready(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 20
    while (await http.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "not ready again"
        await asyncio.sleep(0.1)


async def test_redis_outage_mid_chat(tmp_path: Path, own_redis: OwnRedis, caught: Caught) -> None:
    settings = make_settings(tmp_path, "outage", redis_url=own_redis.url, redis_retry_seconds=0.3)
    await asyncio.to_thread(upgrade, settings)
    await add_counselor(settings, "anna", display_name="Anna")
    srv = await asyncio.to_thread(ServerThread(settings, own_redis.url).start)
    http = httpx.AsyncClient(base_url=srv.http, timeout=30)
    try:
        counselor = await counselor_ws(srv, await login(srv.http, "anna"), capacity=3)
        visitor, session = await visitor_hello(srv, first_message="hallo")
        sid = session["session_id"]
        await send(counselor, {"type": "accept"})
        await recv_match(counselor, type="assigned", session_id=sid)
        await recv_until(visitor, "paired")
        await send(visitor, {"type": "message", "client_id": "v1", "text": "ben je daar"})
        assert (await recv_until(visitor, "ack"))["seq"] == 2

        # 1. Redis stops, and comes back with its data (a restart with persistence, a failover).
        own_redis.stop()
        await send(visitor, {"type": "message", "client_id": "v2", "text": "hallo?"})
        await refused(visitor)
        await send(counselor, {"type": "message", "session_id": sid, "client_id": "c1", "text": "ik ben er"})
        await refused(counselor)
        await http_unavailable(http)
        newcomer = await connect(srv.ws + "/ws/visitor")
        await send(newcomer, {"type": "hello", "audience": "youth", "language": "nl"})
        await refused(newcomer)
        own_redis.start()
        await until_ready(http)
        # Both sides come back without a restart of the server: the visitor resumes, the resend of the
        # message that was refused is stored once, and it reaches the counselor through the relay.
        visitor, back = await again(srv, {"type": "resume", "token": session["token"], "last_seq": 2})
        assert (back["type"], back["status"], back["resumed"]) == ("session", "active", True)
        token_before = await login_again(srv)
        counselor = await counselor_ws(srv, token_before)
        await recv_match(counselor, type="assigned", session_id=sid)
        await send(visitor, {"type": "message", "client_id": "v2", "text": "hallo?"})
        assert (await recv_until(visitor, "ack"))["seq"] == 3
        assert (await recv_match(counselor, type="message", seq=3))["text"] == "hallo?"

        # 2. Redis stops and starts empty: a socket that stayed open through it is told its chat is gone,
        # a resume gets the documented unknown_session, and new chats start.
        waiting, _ = await visitor_hello(srv)
        # A pong comes from the frame loop, so the hello's own Redis work (queue place, follow) is done.
        await send(waiting, {"type": "ping"})
        await recv_until(waiting, "pong")
        own_redis.stop()
        own_redis.start(empty=True)
        gone = await until_closed(waiting, 15)
        assert [(f["type"], f.get("code")) for f in frames_of(gone, "error")] == [("error", "unknown_session")]
        assert waiting.close_code == 1008
        # The counselor's console is told which chat is gone, then reconnects (1013) to find its login gone.
        told = await until_closed(counselor, 15)
        assert ("unknown_session", sid) in [(f.get("code"), f.get("session_id")) for f in frames_of(told, "error")]
        assert counselor.close_code == 1013
        assert (await again_counselor(srv, token_before)) == "unauthorized"
        await until_ready(http)
        resumed, answer = await again(srv, {"type": "resume", "token": session["token"], "last_seq": 3})
        assert (answer["type"], answer["code"]) == ("error", "unknown_session")
        fresh, started = await again(srv, {"type": "hello", "audience": "youth", "language": "nl"})
        assert (started["type"], started["status"]) == ("session", "queued")
        await fresh.close()
        await visitor.close()
        await counselor.close()
    finally:
        await http.aclose()
        await asyncio.to_thread(srv.stop)

    # No traceback anywhere; each component told of each outage once, and of its end.
    records = caught.records
    assert not [r for r in records if r.exc_info or "Exception in ASGI" in r.getMessage()], [
        r.getMessage() for r in records if r.exc_info
    ]
    warned = [r.getMessage().split(":")[0] for r in records if "Redis unavailable" in r.getMessage()]
    assert {"visitor", "counselor", "http"} <= set(warned), warned
    for component in set(warned):
        assert warned.count(component) <= 2, (component, warned)  # two outages: at most one line each
    # Recovery is told too (the loops by themselves, the sockets and HTTP by the probe, or by the last
    # ping when the server stops before the probe's next round): every component that told of an outage
    # tells of its end, once.
    recovered = [r.getMessage().split(":")[0] for r in records if "Redis recovered" in r.getMessage()]
    told = [r.getMessage() for r in records if r.name == "chat.outage"]
    for component in set(warned) | set(recovered):
        assert recovered.count(component) == warned.count(component), (component, told)


def frames_of(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == kind]
