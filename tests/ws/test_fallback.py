"""The fallback transport alone (Server-Sent Events down, POST up), against real uvicorn servers.

Two instances share one Redis: the event stream runs on one and every POST goes to the other, as behind a
load balancer without sticky sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from chat.ws import connection as connection_module
from tests.helpers import ServerThread, add_counselor, counselor_ws, login, recv_until, send

StartServer = Callable[..., Awaitable[ServerThread]]


class Stream:
    """One ``POST /sse/visitor`` event stream, read in the background into a queue of frames."""

    def __init__(self, base: str, first: dict[str, Any], **headers: str) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None))
        self.first = first
        self.headers = headers
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.status = 0
        self.comments = 0
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()

    async def open(self) -> Stream:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), 10)
        return self

    async def _read(self) -> None:
        try:
            async with self.client.stream("POST", "/sse/visitor", json=self.first, headers=self.headers) as r:
                self.status = r.status_code
                self._opened.set()
                if r.status_code != 200:
                    await r.aread()
                    for frame in r.json():
                        self.frames.put_nowait(frame)
                    return
                event, data = "message", ""
                async for line in r.aiter_lines():
                    if line.startswith(":"):
                        self.comments += 1
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "" and data:
                        frame = json.loads(data)
                        self.frames.put_nowait({"type": "close", **frame} if event == "close" else frame)
                        event, data = "message", ""
        finally:
            self._opened.set()
            self.frames.put_nowait({"type": "eof"})

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def until(self, kind: str, seen: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        while (frame := await self.recv())["type"] != kind:
            assert frame["type"] != "eof", f"the stream ended before {kind}; saw {seen}"
            if seen is not None:
                seen.append(frame)
        return frame

    async def drop(self) -> None:
        """The network goes: the client side of the stream is cut without a goodbye."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()


@contextlib.asynccontextmanager
async def poster(base: str) -> AsyncIterator[Callable[..., Awaitable[tuple[int, list[dict[str, Any]]]]]]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def post(token: str | None, frame: Any, **headers: str) -> tuple[int, list[dict[str, Any]]]:
            if token is not None:
                headers["authorization"] = f"Bearer {token}"
            body = frame if isinstance(frame, bytes) else json.dumps(frame).encode()
            r = await client.post("/sse/visitor/send", content=body, headers=headers)
            return r.status_code, r.json()

        yield post


async def test_a_chat_over_the_fallback_alone_across_two_instances(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    a = await start_server(stream_heartbeat_seconds=0.2)
    b = await start_server(stream_heartbeat_seconds=0.2)
    await add_counselor(a.settings, "anna", display_name="Anna")
    counselor = await counselor_ws(a, await login(a.http, "anna"), capacity=2)
    stream = await Stream(a.http, {"type": "hello", "audience": "youth", "language": "nl"}).open()
    try:
        session = await stream.recv()
        assert session["type"] == "session" and session["status"] == "queued" and session["resumed"] is False
        token, sid = session["token"], session["session_id"]
        assert (await stream.until("queue"))["position"] == 1
        async with poster(b.http) as post:
            # A message while queued, posted to the other instance: acked in the answer, and the event comes
            # back on the stream (both sides get every event, their own included).
            assert await post(token, {"type": "message", "client_id": "v1", "text": "hallo?"}) == (
                200,
                [{"type": "ack", "client_id": "v1", "seq": 1}],
            )
            assert (await stream.until("message"))["seq"] == 1
            assert await post(token, {"type": "ping"}) == (200, [{"type": "pong"}])

            await send(counselor, {"type": "accept"})
            await recv_until(counselor, "assigned")
            assert (await stream.until("paired"))["counselor_name"] == "Anna"
            await send(counselor, {"type": "message", "session_id": sid, "client_id": "k1", "text": "Hoi, ik ben Anna"})
            assert (await stream.until("message"))["text"] == "Hoi, ik ben Anna"
            status, frames = await post(token, {"type": "message", "client_id": "v2", "text": "ik durf het niet"})
            assert status == 200 and frames[0]["seq"] == 3
            # The counselor: the queued message in the replay, their own, the visitor's answer.
            assert [(await recv_until(counselor, "message"))["seq"] for _ in range(3)] == [1, 2, 3]
            await post(token, {"type": "typing", "active": True})
            assert (await recv_until(counselor, "typing"))["sender"] == "visitor"
            assert (await stream.until("message"))["seq"] == 3

            # The network drops; the counselor goes on writing; the visitor resends its last message, which
            # the server had stored: the same seq, no second event.
            await stream.drop()
            assert (await recv_until(counselor, "presence"))["visitor"] == "offline", "the server saw the drop"
            for i in (4, 5):
                await send(counselor, {"type": "message", "session_id": sid, "client_id": f"k{i}", "text": f"nr {i}"})
            assert await post(token, {"type": "message", "client_id": "v2", "text": "ik durf het niet"}) == (
                200,
                [{"type": "ack", "client_id": "v2", "seq": 3}],
            )
            stream = await Stream(a.http, {"type": "resume", "token": token, "last_seq": 3}).open()
            back = await stream.recv()
            assert back["type"] == "session" and back["status"] == "active" and back["resumed"] is True
            assert (await recv_until(counselor, "presence"))["visitor"] == "online"
            events: list[dict[str, Any]] = []
            while len(events) < 2:
                frame = await stream.recv()
                if "seq" in frame:
                    events.append(frame)
            assert [e["seq"] for e in events] == [4, 5], "no gap, no double"
            assert stream.comments >= 1, "keep-alive comments on the stream"

            # The same answers as the websocket to bad input, with the HTTP status of the transport.
            assert (await post(token, b"{nope"))[1][0]["code"] == "bad_request"
            assert (await post(token, {"type": "hello", "audience": "youth", "language": "nl"}))[1][0][
                "message"
            ] == "hello is only allowed as the first frame"
            assert (await post("made-up", {"type": "ping"}))[0] == 401
            assert (await post(None, {"type": "ping"}))[1][0]["code"] == "unknown_session"
            assert (await post(token, {"type": "ping"}, origin="https://elsewhere.example"))[0] == 403
            big = {"type": "message", "client_id": "v9", "text": "x" * 20000}
            assert await post(token, big) == (
                413,
                [{"type": "error", "code": "too_large", "message": "frame is larger than the limit"}],
            )
            long = {"type": "message", "client_id": "v8", "text": "x" * 4001}
            assert (await post(token, long))[1][0] | {"message": ""} == {
                "type": "error",
                "code": "too_large",
                "client_id": "v8",
                "message": "",
            }

            # The end posted to one instance reaches the stream on the other, which closes like a websocket.
            assert await post(token, {"type": "end"}) == (200, [])
            ended = await stream.until("ended")
            assert ended["reason"] == "visitor" and ended["seq"] == 6
            assert await stream.recv() == {"type": "close", "code": 1000, "reason": ""}
            assert (await stream.recv())["type"] == "eof"
            # Neither the token (in a body and a header) nor what was said reaches a log line of the server.
            server = [r for r in caplog.records if r.name.split(".")[0] in ("chat", "uvicorn", "starlette", "fastapi")]
            logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in server)
            assert server, "the server logged nothing at all: the check would prove nothing"
            for secret in (token, "ik durf het niet", "hallo?", "Hoi, ik ben Anna"):
                assert secret not in logged, secret
    finally:
        await stream.drop()
        await counselor.close()


async def test_the_stream_refuses_what_the_websocket_refuses(start_server: StartServer) -> None:
    srv = await start_server()
    wrong = await Stream(srv.http, {"type": "ping"}).open()
    assert await wrong.recv() == {
        "type": "error",
        "code": "bad_request",
        "message": "the first frame must be hello or resume",
    }
    assert (await wrong.recv())["code"] == 1008
    unknown = await Stream(srv.http, {"type": "resume", "token": "nope", "last_seq": 0}).open()
    assert (await unknown.recv())["code"] == "unknown_session"
    assert (await unknown.recv())["code"] == 1008
    foreign = await Stream(srv.http, {"type": "hello"}, origin="https://elsewhere.example").open()
    assert foreign.status == 403 and (await foreign.recv())["code"] == "forbidden"
    # A form or a no-cors fetch on another page sends text/plain, which needs no preflight: refused, whatever
    # the Origin says (an older browser sends none with a form).
    async with httpx.AsyncClient(base_url=srv.http, timeout=10) as client:
        hello = b'{"type":"hello","audience":"parent","language":"en"}'
        r = await client.post("/sse/visitor", content=hello, headers={"content-type": "text/plain"})
        assert r.status_code == 415 and r.json()[0]["code"] == "bad_request"
    for s in (wrong, unknown, foreign):
        await s.drop()
    # A server shutting down closes the stream with 1012 at once, as it closes a websocket: reconnect, resume.
    live = await Stream(srv.http, {"type": "hello", "audience": "parent", "language": "en"}).open()
    assert (await live.recv())["type"] == "session"
    await asyncio.to_thread(srv.stop)
    assert await live.until("close") == {"type": "close", "code": 1012, "reason": "server shutting down"}
    await live.drop()


async def test_a_stream_that_is_never_read_is_cut_off(
    start_server: StartServer, aredis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a websocket that is never read: past its buffer the stream is closed (aborted), the visitor away."""
    monkeypatch.setattr(connection_module, "MAX_UNSENT_BYTES", 128 * 1024)
    monkeypatch.setattr(connection_module, "ROOM_TIMEOUT", 0.5)
    monkeypatch.setattr(connection_module, "CLOSE_TIMEOUT", 0.5)
    srv = await start_server(
        messages_per_second=10_000,
        message_burst=10_000,
        address_messages_per_second=10_000,
        address_message_burst=10_000,
        max_session_events=100_000,
        max_session_bytes=1 << 30,
        max_text_chars=30_000,
        max_frame_bytes=64 * 1024,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    await asyncio.to_thread(sock.connect, ("127.0.0.1", srv.port))
    body = json.dumps({"type": "hello", "audience": "parent", "language": "nl"}).encode()
    head = (
        "POST /sse/visitor HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    seen = b""
    while b'"token":"' not in seen or b"\n\n" not in seen.split(b'"token":"', 1)[1]:
        seen += await asyncio.to_thread(sock.recv, 4096)
    session = json.loads(seen.split(b"data: ", 1)[1].split(b"\n\n", 1)[0])
    sid, token = session["session_id"], session["token"]
    meta = srv.rt.keys.session(sid)
    assert await aredis.hget(meta, "visitor_conns") == b"1"
    # A small send buffer on the server's side too, so that the kernel does not take megabytes first.
    (conn,) = [c for c in list(srv.rt.connections) if getattr(c, "sid", None) == sid]
    conn.wire.http.scope["chat.transport"].get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDBUF, 8192
    )

    # Its own messages come back on the stream, which it never reads: the server's buffer fills, then it gives up.
    async with poster(srv.http) as post:
        text = "x" * 30_000
        for i in range(0, 600, 8):
            if await aredis.hget(meta, "visitor_conns") == b"0":
                break
            answers = await asyncio.gather(
                *(post(token, {"type": "message", "client_id": f"m{j}", "text": text}) for j in range(i, i + 8))
            )
            assert {status for status, _ in answers} == {200}
        else:
            raise AssertionError("the server kept a stream nobody read")
    for _ in range(200):
        if not [c for c in list(srv.rt.connections) if getattr(c, "sid", None) == sid]:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the stalled stream's connection is still there")
    sock.close()


async def test_posts_an_attacker_would_make(start_server: StartServer, aredis: Any) -> None:
    """A body that trickles in, made-up tokens by the dozen, and the token of an ended chat."""
    srv = await start_server(header_timeout_seconds=1.0, address_messages_per_second=0.1, address_message_burst=3)
    # The guard times out a request head, not its body: the frame itself has the same time to arrive.
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    head = (
        "POST /sse/visitor HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
    )
    await asyncio.to_thread(sock.sendall, head.encode() + b'{"type":')
    answer = b""
    while b"too long" not in answer and (chunk := await asyncio.to_thread(sock.recv, 4096)):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408 ") and b"took too long" in answer

    live = await Stream(srv.http, {"type": "hello", "audience": "parent", "language": "en"}).open()
    session = await live.recv()
    channel = srv.rt.keys.session_channel(session["session_id"])
    pubsub = aredis.pubsub()
    try:
        async with poster(srv.http) as post:
            assert await post(session["token"], {"type": "end"}) == (200, [])
            assert (await live.until("ended"))["reason"] == "visitor"
            await pubsub.subscribe(channel)
            # The ended chat's token: typing reaches nobody (the marker, published after it, comes first).
            assert await post(session["token"], {"type": "typing", "active": True}) == (200, [])
            await aredis.publish(channel, b"marker")
            heard: list[bytes] = []
            async with asyncio.timeout(5):
                while b"marker" not in heard:
                    if (m := await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)) is not None:
                        heard.append(m["data"])
            assert not [h for h in heard if b"typing" in h], heard
            # Made-up tokens take from the address's bucket (twice the burst of 3): 401, then 429.
            statuses = [(await post(f"guess{i}", {"type": "ping"}))[0] for i in range(8)]
            assert statuses[0] == 401 and statuses[-1] == 429, statuses
    finally:
        await pubsub.aclose()
        await live.drop()
