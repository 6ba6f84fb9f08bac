"""The connection guard over real TCP: half-sent heads and handshakes are closed, connections and sockets per
client address are capped, and a healthy chat keeps working."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.helpers import ServerThread, connect, recv, send, until_closed
from tests.ws.test_bad_input import assert_healthy, healthy_pair

StartServer = Callable[..., Awaitable[ServerThread]]


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent before it closed; fails if it keeps the connection open longer."""
    data = b""
    async with asyncio.timeout(within):
        while chunk := await reader.read(4096):
            data += chunk
    return data


async def test_half_sent_heads_and_handshakes_are_closed(start_server: StartServer, track: Any) -> None:
    srv = await start_server(header_timeout_seconds=0.5)
    pair = await healthy_pair(srv, track)
    heads = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # never finished
        b"GET /ws/visitor HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        b"",  # connected, nothing sent
    ]
    streams = []
    for head in heads:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(head)
        await writer.drain()
        streams.append((reader, writer))
    for reader, writer in streams:
        assert await _closed_by_server(reader, 10) == b""
        writer.close()
    # A whole request on a keep-alive connection is answered; a half-sent second one is closed again.
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    data = await _closed_by_server(reader, 10)
    assert data.startswith(b"HTTP/1.1 200") and data.count(b"HTTP/1.1") == 1
    writer.close()
    await assert_healthy(pair)


async def test_connections_per_address_are_capped(start_server: StartServer, track: Any) -> None:
    srv = await start_server(max_connections_per_address=3, header_timeout_seconds=30)
    idle = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(3)]
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    answer = await _closed_by_server(reader, 10)
    assert answer.startswith(b"HTTP/1.1 503") and b"retry-after: 5" in answer
    writer.close()
    # One goes away: there is room again.
    idle[0][1].close()
    await idle[0][1].wait_closed()
    await asyncio.sleep(0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await _closed_by_server(reader, 10)).startswith(b"HTTP/1.1 200")
    writer.close()
    for _r, w in idle[1:]:
        w.close()


async def test_websockets_per_forwarded_address_are_capped(start_server: StartServer, track: Any) -> None:
    srv = await start_server(max_sockets_per_address=2, trusted_proxies=["127.0.0.1"])
    school = {"X-Forwarded-For": "203.0.113.5"}
    first = track(await connect(srv.ws + "/ws/visitor", additional_headers=school))
    second = track(await connect(srv.ws + "/ws/visitor", additional_headers=school))
    third = track(await connect(srv.ws + "/ws/visitor", additional_headers=school))
    frames = await until_closed(third)
    assert [(f["type"], f["code"]) for f in frames] == [("error", "rate_limited")]
    assert third.close_code == 1013
    # Another address is not affected, and a socket that closes frees its place.
    other = track(await connect(srv.ws + "/ws/visitor", additional_headers={"X-Forwarded-For": "198.51.100.9"}))
    await send(other, {"type": "hello", "audience": "parent", "language": "nl"})
    assert (await recv(other))["type"] == "session"
    await first.close()
    await asyncio.sleep(0.2)
    again = track(await connect(srv.ws + "/ws/visitor", additional_headers=school))
    await send(again, {"type": "hello", "audience": "youth", "language": "nl"})
    assert (await recv(again))["type"] == "session"
    await second.close()


async def test_the_cap_counts_exactly_past_the_prune_mark(start_server: StartServer, track: Any) -> None:
    # Above 64 the guard counts an address's connections without pruning the closed ones each time
    # (chat/server/guard.py): the cap must still be exact after many have come and gone.
    srv = await start_server(max_connections_per_address=100, header_timeout_seconds=30)
    held: list[asyncio.StreamWriter] = []

    async def admitted() -> bool:
        """A keep-alive request: answered 200 and kept open (admitted), or 503 and closed."""
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith((b"HTTP/1.1 503", b"HTTP/1.1 200")), head[:40]
        if head.startswith(b"HTTP/1.1 503"):
            writer.close()
            return False
        held.append(writer)
        return True

    for _ in range(100):
        assert await admitted()
    assert not await admitted(), "100 open: the 101st is refused"
    for writer in held[:50]:
        writer.close()
        await writer.wait_closed()
    del held[:50]
    await asyncio.sleep(0.2)  # the server sees them go
    for _ in range(50):
        assert await admitted(), "room for 50 again"
    assert not await admitted(), "100 open again: refused"
    for writer in held:
        writer.close()
