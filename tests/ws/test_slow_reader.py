"""A client that stops reading stalls nobody else, and is closed once it falls too far behind.

The stalled client is a raw TCP socket with a small receive buffer that does
the websocket handshake and ``hello`` by hand and then never reads again,
while it keeps sending long messages whose echoes pile up on the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from chat.ws import connection as connection_module
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

StartServer = Callable[..., Awaitable[ServerThread]]
Track = Callable[[ClientConnection], ClientConnection]

TEXT = "x" * 3000


class RawVisitor:
    """A websocket client on a bare socket (receive buffer 4 KiB) that reads only when told to."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /ws/visitor HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, frame: dict[str, Any]) -> None:
        payload = json.dumps(frame).encode()
        n = len(payload)
        header = bytes([0x81]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
        )  # masked, with a zero key
        self.sock.sendall(header + b"\0\0\0\0" + payload)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        return b0 & 0x0F, self._read(n)

    def close(self) -> None:
        self.sock.close()


def server_conn(srv: ServerThread, sid: str) -> Any:
    return next((c for c in list(srv.rt.connections) if getattr(c, "sid", None) == sid), None)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def wait_for_async(read: Callable[[], Awaitable[Any]], want: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (got := await read()) != want:
        assert time.monotonic() < deadline, f"still {got!r}"
        await asyncio.sleep(0.02)


async def test_stalled_reader_delays_nobody_and_is_closed(
    start_server: StartServer, track: Track, aredis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_module, "MAX_UNSENT_BYTES", 512 * 1024)
    monkeypatch.setattr(connection_module, "ROOM_TIMEOUT", 1.0)
    srv = await start_server(
        messages_per_second=10_000,
        message_burst=10_000,
        address_messages_per_second=10_000,
        address_message_burst=10_000,
        max_session_events=100_000,
        max_session_bytes=1 << 30,
    )
    await add_counselor(srv.settings, "anna", display_name="Anna")
    counselor = track(await counselor_ws(srv, await login(srv.http, "anna"), capacity=5))

    first, _ = await visitor_hello(srv)  # first in the queue: the counselor takes this one
    track(first)
    stalled = await asyncio.to_thread(RawVisitor, srv.port)
    stalled.send({"type": "hello", "audience": "parent", "language": "nl"})
    opcode, payload = await asyncio.to_thread(stalled.recv)
    session = json.loads(payload)
    assert opcode == 1 and session["type"] == "session"
    stalled_sid = session["session_id"]
    last, _ = await visitor_hello(srv)  # third
    track(last)
    assert (await recv_until(last, "queue"))["position"] == 3

    # The stalled client sends on and never reads: its echoes fill the socket, then its buffer.
    conn = server_conn(srv, stalled_sid)
    sent = 0
    while conn.unsent_bytes < 128 * 1024:  # the socket takes nothing more: the writer waits
        assert sent < 3000, "the server kept taking frames the client never read"
        for _ in range(20):
            await asyncio.to_thread(stalled.send, {"type": "message", "client_id": f"s-{sent}", "text": TEXT})
            sent += 1
        await asyncio.sleep(0.05)
    assert not conn.closing, "still within its buffer: stalled, not closed"

    # Everyone else goes on at once: the accept moves the queue, and the stalled visitor's
    # own update (position 1) waits in its buffer instead of holding up the others'.
    await send(counselor, {"type": "accept"})
    assigned = await recv_until(counselor, "assigned")
    assert (await recv_until(first, "paired"))["type"] == "paired"
    assert (await recv_until(last, "queue"))["position"] == 2
    await send(first, {"type": "message", "client_id": "f-1", "text": "hallo"})
    got = await recv_match(counselor, type="message", client_id="f-1")
    assert got["session_id"] == assigned["session_id"] and got["text"] == "hallo"
    assert server_conn(srv, stalled_sid) is conn and conn.unsent_bytes >= 128 * 1024 and not conn.closing

    # More than half the buffer waiting and nothing taken for ROOM_TIMEOUT: the server gives up on
    # it (backlog dropped, socket closed, presence gone).
    for i in range(sent, sent + 200):
        if conn.closing:
            break
        try:
            await asyncio.to_thread(stalled.send, {"type": "message", "client_id": f"s-{i}", "text": TEXT})
        except OSError:
            break
        sent += 1
        await asyncio.sleep(0.01)
    await wait_for(lambda: server_conn(srv, stalled_sid) is None)
    assert conn.closing and conn.unsent_bytes == 0
    meta = srv.rt.keys.session(stalled_sid)
    await wait_for_async(lambda: aredis.hget(meta, "visitor_conns"), b"0")

    # The client reads what reached it; the connection ends (the close frame, 1013, if it got through).
    def drain() -> tuple[int, int | None]:
        frames = 0
        try:
            while True:
                opcode, payload = stalled.recv()
                if opcode == 8:
                    return frames, struct.unpack("!H", payload[:2])[0]
                frames += 1
        except (ConnectionError, OSError):
            return frames, None

    frames, code = await asyncio.to_thread(drain)
    stalled.close()
    assert frames > 0 and code in (connection_module.CLOSE_TOO_SLOW, None)

    # It comes back with resume and gets everything it missed from the stream.
    again = track(await connect(srv.ws + "/ws/visitor"))
    await send(again, {"type": "resume", "token": session["token"], "last_seq": 0})
    resumed = await recv(again)
    assert resumed["type"] == "session" and resumed["status"] == "queued"
    # Frames the server had not read when it gave up are gone with the socket (the widget sends again what
    # was not acknowledged); every one it stored comes back, in order.
    stored = int(await aredis.hget(meta, "seq"))
    assert 0 < stored <= sent
    seqs = []
    while len(seqs) < stored:
        frame = await recv(again)
        if "seq" in frame and frame.get("type") == "message":
            seqs.append(frame["seq"])
    assert seqs == list(range(1, stored + 1))
