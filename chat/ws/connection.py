"""One websocket, visitor or counselor: ordered delivery of session events.

Pub/sub messages land in the connection's inbox (the hub never waits on a
slow socket); one pump task delivers them in seq order through a
:class:`~chat.events.Cursor` per session, filling any gap from the Redis
stream, so nothing is lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from chat.events import Cursor, Event, Verdict
from chat.services import metrics
from chat.services.addresses import http_client_address
from chat.services.runtime import Runtime

log = logging.getLogger("chat.ws.connection")

_RESYNC = b""


# A key of this process's own for counting sockets per client address in memory (never stored or logged).
_ADDRESS_KEY = secrets.token_bytes(32)


def admit(ws: WebSocket, rt: Runtime) -> str | None:
    """Count this socket against its client address; None when the address already has too many."""
    address = http_client_address(ws, rt.settings.trusted_proxies) or "unknown"
    key = hmac.new(_ADDRESS_KEY, address.encode(), hashlib.sha256).hexdigest()[:24]
    counts: dict[str, int] = rt.extras.setdefault("sockets_by_address", {})
    if counts.get(key, 0) >= rt.settings.max_sockets_per_address:
        return None
    counts[key] = counts.get(key, 0) + 1
    return key


def release(rt: Runtime, key: str | None) -> None:
    counts: dict[str, int] = rt.extras.setdefault("sockets_by_address", {})
    if key is not None and key in counts:
        counts[key] -= 1
        if counts[key] <= 0:
            del counts[key]


async def refuse_busy(ws: WebSocket) -> None:
    """Too many sockets from this address: accept, say so, close 1013 (try again later)."""
    await ws.accept()
    with contextlib.suppress(Exception):
        await ws.send_text(
            json.dumps({"type": "error", "code": "rate_limited", "message": "too many connections from here"})
        )
        await ws.close(1013, "try again later")


def origin_allowed(ws: WebSocket, allowed: list[str]) -> bool:
    """No Origin (a non-browser client), our own origin, or one on the allowlist."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    host = ws.headers.get("host", "")
    return origin in allowed or origin in (f"http://{host}", f"https://{host}")


class Connection:
    role = "connection"

    def __init__(self, ws: WebSocket, rt: Runtime) -> None:
        self.ws = ws
        self.rt = rt
        self.cursors: dict[str, Cursor] = {}
        self.inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=5000)
        self._send_lock = asyncio.Lock()
        self._deliver_lock = asyncio.Lock()
        self._pump: asyncio.Task[None] | None = None
        self.closing = False

    # -- sending -------------------------------------------------------------------
    async def send(self, frame: dict[str, Any]) -> None:
        if self.closing and frame.get("type") not in ("ended", "error"):
            return
        async with self._send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                try:
                    await self.ws.send_text(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))
                except (WebSocketDisconnect, RuntimeError):
                    # The client is gone, or the websocket layer already closed the socket (1007, 1009: then
                    # uvicorn refuses any further send with RuntimeError); whoever sent must not fail on it.
                    self.closing = True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closing = True
        async with self._send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close(code, reason)

    # -- following sessions ----------------------------------------------------------
    def start(self) -> None:
        self._pump = asyncio.create_task(self._run_pump(), name=f"{self.role}-pump")
        self.rt.hub.on_resync(self.resync_all)
        self.rt.connections.add(self)

    async def stop(self) -> None:
        # From here on nobody (the queue watcher) should try to write to this socket.
        self.closing = True
        self.rt.connections.discard(self)
        self.rt.hub.off_resync(self.resync_all)
        for sid in list(self.cursors):
            await self.unfollow(sid)
        if self._pump:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump

    def _listener(self, channel: str, data: bytes) -> None:
        try:
            self.inbox.put_nowait((channel, data))
        except asyncio.QueueFull:
            # A consumer this slow gets a resync from the stream instead of the backlog.
            log.warning("relay: inbox full; resynchronising from the stream")
            while not self.inbox.empty():
                self.inbox.get_nowait()
            self.inbox.put_nowait((channel, _RESYNC))

    def _sid_of(self, channel: str) -> str:
        # chat:{s_…}:ch
        return channel[channel.index("{") + 1 : channel.rindex("}")]

    async def follow(self, sid: str, last_seq: int = 0) -> None:
        """Deliver every event of ``sid`` after ``last_seq``, then live events, in order."""
        if sid in self.cursors:
            return
        self.cursors[sid] = Cursor(last_seq)
        await self.rt.hub.subscribe(self.rt.keys.session_channel(sid), self._listener)
        await self.catch_up(sid)

    async def unfollow(self, sid: str) -> None:
        if self.cursors.pop(sid, None) is not None:
            await self.rt.hub.unsubscribe(self.rt.keys.session_channel(sid), self._listener)

    async def catch_up(self, sid: str) -> None:
        async with self._deliver_lock:
            await self._catch_up_locked(sid)

    async def _catch_up_locked(self, sid: str) -> None:
        cursor = self.cursors.get(sid)
        if cursor is None:
            return
        events = await self.rt.store.events_after(sid, cursor.last_seq)
        if events and int(events[0]["seq"]) > cursor.last_seq + 1:
            # The stream is written without holes (seq and entry in one script), so a first entry
            # past the cursor means older history is gone (a Redis restart or trim). It cannot come
            # back: go on from what is there; the visitor was told with resumed:false.
            cursor.last_seq = int(events[0]["seq"]) - 1
        for event in cursor.filter(events):
            await self._deliver(sid, event)

    async def resync_all(self) -> None:
        for sid in list(self.cursors):
            await self.catch_up(sid)

    async def _run_pump(self) -> None:
        while True:
            channel, data = await self.inbox.get()
            sid = self._sid_of(channel) if "{" in channel else ""
            try:
                if data == _RESYNC:
                    await self.resync_all()
                    continue
                frame = json.loads(data)
                if "seq" in frame:
                    async with self._deliver_lock:
                        cursor = self.cursors.get(sid)
                        if cursor is None:
                            continue
                        verdict = cursor.judge(int(frame["seq"]))
                        if verdict is Verdict.NEXT:
                            cursor.advance(int(frame["seq"]))
                            await self._deliver(sid, frame)
                        elif verdict is Verdict.GAP:
                            await self._catch_up_locked(sid)
                else:
                    await self.on_control(channel, sid, frame)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay: delivery failed")

    async def _deliver(self, sid: str, event: Event) -> None:
        self.rt.extras["relayed"] = self.rt.extras.get("relayed", 0) + 1
        metrics.of(self.rt).relayed.inc()
        await self.send(event)
        await self.on_event(sid, event)

    # -- hooks -------------------------------------------------------------------------
    async def on_event(self, sid: str, event: Event) -> None:
        """Called after an event was delivered to this socket."""

    async def on_control(self, channel: str, sid: str, frame: dict[str, Any]) -> None:
        """Called for an unsequenced message (typing, presence, paired, revoked)."""
