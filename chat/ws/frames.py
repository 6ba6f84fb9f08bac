"""What both websocket endpoints share: reading frames with limits and answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from chat.protocol import ErrorCode, ProtocolError, error_frame
from chat.services.runtime import Runtime
from chat.ws.connection import (
    Connection,
    WebSocketWire,
    Wire,
    admit,
    forget_handshake,
    origin_allowed,
    refuse_busy,
    release,
)

T = TypeVar("T")
C = TypeVar("C", bound=Connection)

# After this many bad frames in a row a connection is closed with 1008.
MAX_STRIKES = 20


class Disconnected(Exception):
    pass


async def receive_text(ws: WebSocket, timeout: float | None = None) -> str | None:
    """The next text frame; None for a binary frame; raises Disconnected when the socket is gone."""
    try:
        message = await asyncio.wait_for(ws.receive(), timeout) if timeout else await ws.receive()
    except WebSocketDisconnect as exc:
        raise Disconnected() from exc
    if message["type"] == "websocket.disconnect":
        raise Disconnected()
    if message.get("text") is not None:
        return str(message["text"])
    return None


class FrameReader:
    """Parses frames, answers bad ones with ``bad_request`` and counts strikes."""

    def __init__(self, conn: Connection, parse: Callable[[str], T], ws: WebSocket) -> None:
        self.conn = conn
        self.ws = ws
        self.parse = parse
        self.strikes = 0
        # Strikes when the last frame was handed out: a frame its handler also refused
        # (rate_limited, too_large...) keeps the count going instead of resetting it.
        self._strikes_at_handout: int | None = None

    async def next(self, timeout: float | None = None) -> Any:
        """The next valid frame; bad frames are answered here. Raises Disconnected."""
        if self._strikes_at_handout == self.strikes:
            self.strikes = 0
        while True:
            raw = await receive_text(self.ws, timeout)
            if raw is None:
                await self.strike(ErrorCode.BAD_REQUEST, "binary frames are not supported")
                continue
            try:
                frame = self.parse(raw)
            except ProtocolError as exc:
                await self.strike(exc.code, exc.message)
                continue
            self._strikes_at_handout = self.strikes
            return frame

    async def strike(self, code: ErrorCode, message: str, **extra: Any) -> None:
        await self.conn.send(error_frame(code, message, **extra))
        self.strikes += 1
        if self.strikes >= MAX_STRIKES:
            await self.conn.close(1008, "too many bad frames")
            raise Disconnected()


async def run_endpoint(
    ws: WebSocket,
    make: Callable[[Wire, Runtime], C],
    parse: Callable[[str], Any],
    serve: Callable[[C, FrameReader], Awaitable[None]],
    cleanup: Callable[[C], Awaitable[None]],
    log: logging.Logger,
) -> None:
    """What both endpoints do around their own ``serve``: the origin check, the per-address socket slot,
    accept, the documented answers to a store that is unavailable (1013) or an unexpected failure (1011),
    and the endpoint's own ``cleanup``, whatever happened."""
    rt: Runtime = ws.app.state.rt
    if not origin_allowed(ws, rt.settings.allowed_origins):
        await ws.close(1008, "origin not allowed")
        return
    slot = admit(ws, rt)
    if slot is None:
        await refuse_busy(ws)
        return
    try:
        await ws.accept()
        forget_handshake(ws.scope)
        conn = make(WebSocketWire(ws), rt)
        reader = FrameReader(conn, parse, ws)
        await serve_connection(conn, lambda: serve(conn, reader), cleanup, log)
    finally:
        release(rt, slot)


async def serve_connection(
    conn: C, serve: Callable[[], Awaitable[None]], cleanup: Callable[[C], Awaitable[None]], log: logging.Logger
) -> None:
    """Run a connection's ``serve`` with the documented answers to a store that is unavailable (1013) or an
    unexpected failure (1011), then its ``cleanup``, whatever happened. For every transport."""
    conn.start()
    try:
        await serve()
    except Disconnected:
        pass
    except RedisError as exc:
        # Redis is full (maxmemory, noeviction) or unreachable: nothing was half-stored (an ack goes out
        # only after the store answered); try again later. Told once per outage (chat/services/outage.py).
        conn.rt.outage.failed(conn.role, exc)
        await conn.send(error_frame(ErrorCode.UNAVAILABLE, "the service is unavailable; try again shortly"))
        await conn.close(1013, "try again later")
    except Exception:
        log.exception("%s: unexpected failure", conn.role)
        await conn.send(error_frame(ErrorCode.INTERNAL, "internal error"))
        await conn.close(1011)
    finally:
        await cleanup(conn)
