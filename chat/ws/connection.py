"""One websocket, visitor or counselor: ordered delivery of session events.

Pub/sub messages land in the connection's inbox (the hub never waits on a
slow socket); one pump task delivers them in seq order through a
:class:`~chat.events.Cursor` per session, filling any gap from the Redis
stream, so nothing is lost or repeated.

Nothing waits on a socket but its own writer: :meth:`Connection.send` puts
the frame in the socket's bounded outgoing buffer and returns at once, and
one writer task per socket writes the buffer out in order. A client that
stops reading fills its buffer; past :data:`MAX_UNSENT_BYTES` the connection
is closed with :data:`CLOSE_TOO_SLOW` (1013) and the client resumes from the
stream, which holds everything it missed. Session events (the pump's own
work, a long catch-up included) wait for room in the buffer instead, for up
to :data:`ROOM_TIMEOUT`, and then close the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState

from chat.events import Cursor, Event, Verdict
from chat.services import metrics
from chat.services.addresses import http_client_address
from chat.services.runtime import Runtime

log = logging.getLogger("chat.ws.connection")

_RESYNC = b""
# Pub/sub messages waiting for the pump, per connection: past this the consumer resyncs from the stream.
INBOX_LIMIT = 5000

# Frames written but not yet taken by the socket, per connection: past this the reader is too slow.
MAX_UNSENT_BYTES = 1 << 20
# "Try again later": the client fell too far behind; it reconnects and resumes from the stream.
CLOSE_TOO_SLOW = 1013
# Session events (live or catch-up) wait while half of that is unsent, for at most this long.
ROOM_TIMEOUT = 10.0
# How long a close waits for the frames before it (and the close frame itself) to go out.
CLOSE_TIMEOUT = 2.0
# How long a handler that ends without a close lets its last frames go out.
DRAIN_TIMEOUT = 1.0
# A resync that met a store failure is tried again after this long, until one goes through.
RESYNC_RETRY_SECONDS = 0.5

# The fallback transport's event stream (chat/ws/fallback.py), which is aborted like a websocket.
STREAM_PATH = "/sse/visitor"

_ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class TransportMiddleware:
    """Hands each websocket's (and event stream's) transport to the endpoint (``scope["chat.transport"]``).

    An ASGI server waits for the peer to read before it writes a close frame,
    so a client that never reads could never be closed through ASGI; with the
    transport the connection aborts it instead. Needs to see the server's own
    ``send`` (uvicorn's protocol), so it is added last (outermost).

    ``websockets`` (path -> endpoint) are called from here, past the rest of the stack: the HTTP middleware,
    the exception handlers and the router do nothing for a websocket that its endpoint does not do itself
    (origin, limits, the answers to failures: ``chat.ws.frames.run_endpoint``), and each of their frames
    stayed alive for as long as the socket is open (about 6 kB a socket, bench/README.md round 3).
    ``root`` is the application the endpoints find their runtime on (``ws.app.state.rt``).
    """

    def __init__(
        self,
        app: _ASGIApp,
        websockets: dict[str, Callable[[WebSocket], Awaitable[None]]] | None = None,
        root: Any = None,
    ) -> None:
        self.app = app
        self.websockets = websockets or {}
        self.root = root

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" or (scope["type"] == "http" and scope.get("path") == STREAM_PATH):
            protocol = getattr(send, "__self__", None)
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                scope = {**scope, "chat.transport": transport}
                if scope["type"] == "websocket":
                    scope["chat.protocol"] = protocol
            if scope["type"] == "websocket" and self.root is not None:
                path = scope.get("path", "")
                endpoint = self.websockets.get(path[len(scope.get("root_path", "")) :])
                if endpoint is not None:
                    scope = {**scope, "app": self.root}
                    await endpoint(WebSocket(scope, receive, send))
                    return
            if scope["type"] == "http":
                # An event stream is an answer still being written when the server shuts down: the server's
                # protocol (chat/server/guard.py), which holds this very scope, sets the event then, and the
                # stream closes with 1012. (Set in place: the protocol's scope, not a copy.)
                scope["chat.shutdown"] = asyncio.Event()
        await self.app(scope, receive, send)


def forget_handshake(scope: MutableMapping[str, Any]) -> None:
    """Let go of the handshake once the socket is accepted: uvicorn's websocket protocol keeps the request and
    the response it parsed and wrote (their headers, about 2 kB) for the socket's whole life, and reads neither
    after the handshake. The scope keeps the request headers (the client address behind a proxy)."""
    protocol = scope.get("chat.protocol")
    if protocol is not None and getattr(protocol, "handshake_complete", False):
        for name in ("request", "response"):
            if hasattr(protocol, name):
                setattr(protocol, name, None)


def dumps(frame: dict[str, Any]) -> str:
    """Compact JSON, UTF-8 as is (orjson: the hot frames are a large share of the server's CPU)."""
    return orjson.dumps(frame).decode()


# A key of this process's own for counting sockets per client address in memory (never stored or logged).
_ADDRESS_KEY = secrets.token_bytes(32)


def admit(ws: HTTPConnection, rt: Runtime) -> str | None:
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


def origin_allowed(ws: HTTPConnection, allowed: list[str]) -> bool:
    """No Origin (a non-browser client), our own origin, or one on the allowlist."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    host = ws.headers.get("host", "")
    return origin in allowed or origin in (f"http://{host}", f"https://{host}")


class Flag:
    """``asyncio.Event`` for the many connections that never wait on it: no deque of waiters until one waits.

    An idle connection holds a few of these (a visitor waiting in the queue, at 10,000 of them); an
    ``asyncio.Event`` allocates its waiter deque (about 0.7 kB) up front.
    """

    __slots__ = ("_on", "_waiters")

    def __init__(self) -> None:
        self._on = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._on

    def set(self) -> None:
        if self._on:
            return
        self._on = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._on = False

    async def wait(self) -> bool:
        if self._on:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class Wire:
    """What a :class:`Connection` writes its frames to: a websocket, or the fallback's event stream
    (``chat.ws.fallback.StreamWire``). Frames in are the endpoint's business, not the wire's."""

    transport = "wire"

    def __init__(self, http: HTTPConnection) -> None:
        self.http = http  # the request: headers, client address, scope

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    async def send_text(self, text: str) -> None:
        raise NotImplementedError

    async def close(self, code: int, reason: str) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the TCP connection at once (the peer does not read, so no close can reach it)."""
        transport = self.http.scope.get("chat.transport")
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.abort()


class WebSocketWire(Wire):
    transport = "websocket"

    def __init__(self, ws: WebSocket) -> None:
        super().__init__(ws)
        self.ws = ws

    @property
    def is_open(self) -> bool:
        return self.ws.application_state is WebSocketState.CONNECTED

    async def send_text(self, text: str) -> None:
        await self.ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


class Connection:
    """One client's ordered delivery of session events, written to a :class:`Wire`.

    The writer and the pump are tasks only while they have work: a socket that sits idle (a visitor waiting
    in the queue) holds no task of its own but the server's handler, nor a queue, nor a buffer.
    """

    role = "connection"
    # Thousands of these sit open at once: no instance dict (about 1.5 kB each with this many attributes).
    __slots__ = (
        "__weakref__",
        "wire",
        "http",
        "transport",
        "rt",
        "cursors",
        "inbox",
        "_out",
        "_latency",
        "_relayed",
        "_unsent",
        "_room",
        "_closed",
        "_dead",
        "_slow_close",
        "_writer",
        "_deliver_lock",
        "_pump",
        "_started",
        "closing",
    )

    def __init__(self, wire: Wire, rt: Runtime) -> None:
        self.wire = wire
        self.http = wire.http
        self.transport = wire.transport
        self.rt = rt
        self.cursors: dict[str, Cursor] = {}
        # Pub/sub messages (channel, data) for the pump, made on the first one (a queued visitor gets none).
        self.inbox: deque[tuple[str, bytes]] | None = None
        # A frame; a live event's frame with its stored timestamp (ISO, from the event) for the relay
        # latency; or a close (code, reason). Made when there is something to send, dropped when sent.
        self._out: deque[str | tuple[str, str] | tuple[int, str]] | None = None
        self._latency = metrics.of(rt).relay_latency.labels(self.role, self.transport)
        self._relayed = metrics.of(rt).relayed
        self._unsent = 0
        self._room = Flag()
        self._closed = False  # a close is queued (or done): nothing more is sent
        self._dead = False  # the writer is done for good: the socket failed, a close went out, or too slow
        self._slow_close: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None  # running while frames are queued
        self._deliver_lock = asyncio.Lock()
        self._pump: asyncio.Task[None] | None = None  # running while the inbox has messages
        self._started = False
        self.closing = False

    # -- sending -------------------------------------------------------------------
    async def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame for this socket's writer; never waits for the socket."""
        if self.closing and frame.get("type") not in ("ended", "error"):
            return
        self.send_text(dumps(frame))

    def send_text(self, text: str, stored_ts: str | None = None) -> None:
        """Queue ``text``; with ``stored_ts`` (a live event's ``ts``) the writer observes the relay latency."""
        if self._closed:
            return
        size = len(text)
        if self._unsent + size > MAX_UNSENT_BYTES:
            self._too_slow()
            return
        self._unsent += size
        self._queue(text if stored_ts is None else (text, stored_ts))

    def _queue(self, item: str | tuple[str, str] | tuple[int, str]) -> None:
        """Queue ``item`` for the writer, and start the writer if it is not running."""
        if self._out is None:
            self._out = deque()
        self._out.append(item)
        if self._writer is None and not self._dead:
            self._writer = asyncio.create_task(self._write_loop(), name=f"{self.role}-writer")

    @property
    def unsent_bytes(self) -> int:
        """Characters queued for this socket and not yet handed to it."""
        return self._unsent

    async def _write_loop(self) -> None:
        try:
            await self._write_out()
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def _write_out(self) -> None:
        """Write what is queued, in order, and end when nothing is (or for good, at a close or a failure)."""
        wire = self.wire
        while True:
            out = self._out
            if not out:
                self._out = None  # an idle socket keeps no buffer
                return
            item = out.popleft()
            stored_ts: str | None = None
            if isinstance(item, tuple):
                if isinstance(item[0], int):
                    self._dead = True
                    code, reason = item
                    if code >= 0 and wire.is_open:
                        with contextlib.suppress(Exception):
                            await wire.close(code, reason)
                    return
                item, stored_ts = item
            self._unsent -= len(item)
            if self._unsent <= MAX_UNSENT_BYTES // 2 and not self._room.is_set():
                self._room.set()
            if not wire.is_open:
                continue
            try:
                await wire.send_text(item)
            except Exception:
                # The client is gone; whoever sent (the queue watcher, a relay) must not fail on it.
                self.closing = True
                self._dead = True
                self._out = None
                self._unsent = 0
                return
            if stored_ts is not None:
                self._observe_latency(stored_ts)

    def _observe_latency(self, stored_ts: str) -> None:
        """Store to socket, on the wall clock the event's ``ts`` was written with (instances keep NTP time)."""
        try:
            stored = datetime.fromisoformat(stored_ts).timestamp()
        except (TypeError, ValueError):
            return
        self._latency.observe(max(0.0, time.time() - stored))

    async def wait_room(self) -> None:
        """Wait until at most half of the buffer is unsent; a client that takes nothing for
        ROOM_TIMEOUT is too slow and is closed."""
        if self._unsent <= MAX_UNSENT_BYTES // 2 or self._closed:
            return
        self._room.clear()
        try:
            await asyncio.wait_for(self._room.wait(), ROOM_TIMEOUT)
        except TimeoutError:
            if not self._closed:
                self._too_slow()

    def _too_slow(self) -> None:
        """The client stopped reading: drop its backlog and close; it resumes from the stream."""
        log.warning("%s: client too slow (%d unsent); closing with %d", self.role, self._unsent, CLOSE_TOO_SLOW)
        self.closing = True
        self._closed = True
        self._dead = True
        self._out = None
        self._unsent = 0
        if self._writer is not None:
            self._writer.cancel()
        self._slow_close = asyncio.create_task(self._close_or_abort(CLOSE_TOO_SLOW, "too slow"))

    async def _close_or_abort(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.wire.close(code, reason), CLOSE_TIMEOUT)
        except Exception:
            self.abort()

    def abort(self) -> None:
        """Drop the TCP connection at once (the peer does not read, so no close frame can reach it)."""
        self.wire.abort()

    def close_soon(self, code: int, reason: str = "") -> None:
        """Queue the close after the frames queued so far, without waiting for it: for the pump, which must
        not wait on its own socket (Python 3.11's wait_for can swallow the cancel of a stop meanwhile)."""
        self.closing = True
        if self._closed or self._dead:
            return
        self._closed = True
        self._queue((code, reason))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close after the frames queued so far have gone out (or abort after CLOSE_TIMEOUT)."""
        self.closing = True
        if self._closed:
            return
        self._closed = True
        if self._dead:
            if self.wire.is_open:
                await self._close_or_abort(code, reason)
            return
        self._queue((code, reason))
        writer = self._writer
        if writer is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(writer), CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception:
            writer.cancel()
            self._dead = True
            self.abort()

    async def _drain(self) -> None:
        """Let the frames queued so far go out, briefly; then stop the writer."""
        writer = self._writer  # running: frames queued, or a close queued by close_soon() still being written
        if writer is not None and not self._dead and self.wire.is_open:
            self._queue((-1, ""))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(writer), DRAIN_TIMEOUT)
        self._dead = True
        if self._writer is not None:
            self._writer.cancel()

    # -- following sessions ----------------------------------------------------------
    def start(self) -> None:
        self._started = True
        self.rt.hub.on_resync(self.resync_all)
        self.rt.connections.add(self)

    async def stop(self) -> None:
        # From here on nobody (the queue watcher) should try to write to this socket.
        self.closing = True
        self._started = False  # no pump from here on
        self.rt.connections.discard(self)
        self.rt.hub.off_resync(self.resync_all)
        for sid in list(self.cursors):
            await self.unfollow(sid)
        if self._pump:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        await self._drain()

    def _listener(self, channel: str, data: bytes) -> None:
        inbox = self.inbox
        if inbox is None:
            inbox = self.inbox = deque()
        if len(inbox) >= INBOX_LIMIT:
            # A consumer this slow gets a resync from the stream instead of the backlog.
            log.warning("relay: inbox full; resynchronising from the stream")
            inbox.clear()
            data = _RESYNC
        inbox.append((channel, data))
        if self._pump is None and self._started:
            self._pump = asyncio.create_task(self._run_pump(), name=f"{self.role}-pump")

    def _sid_of(self, channel: str) -> str:
        # chat:{s_…}:ch
        return channel[channel.index("{") + 1 : channel.rindex("}")]

    async def follow(self, sid: str, last_seq: int = 0) -> None:
        """Deliver every event of ``sid`` after ``last_seq``, then live events, in order."""
        if sid in self.cursors:
            return
        await self.follow_live(sid, last_seq)
        await self.catch_up(sid)

    async def follow_live(self, sid: str, last_seq: int = 0) -> None:
        """:meth:`follow` without reading the stream: the caller catches up when it knows there is something."""
        self.cursors[sid] = Cursor(last_seq)
        await self.rt.hub.subscribe(self.rt.keys.session_channel(sid), self._listener)

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
        """After the hub reconnected: catch up from the streams, and tell of sessions Redis no longer has
        (it restarted empty); the store failing again here is an outage like any other, told once."""
        try:
            for sid in list(self.cursors):
                await self.catch_up(sid)
            gone = [sid for sid in list(self.cursors) if not await self.rt.redis.exists(self.rt.keys.session(sid))]
        except RedisError as exc:
            self.rt.outage.failed("relay", exc)
            self.resync_later()
            return
        if gone and not self.closing:
            await self.on_lost(gone)

    def resync_later(self, delay: float = RESYNC_RETRY_SECONDS) -> None:
        """Catch up again after ``delay``: a resync that met the store failing must not be the last one."""

        def queue() -> None:
            if not self.closing:
                self._listener("", _RESYNC)

        asyncio.get_running_loop().call_later(delay, queue)

    async def on_lost(self, sids: list[str]) -> None:
        """Sessions this socket follows are gone from Redis (a restart without persistence)."""
        for sid in sids:
            await self.unfollow(sid)

    async def _run_pump(self) -> None:
        try:
            await self._pump_out()
        finally:
            if self._pump is asyncio.current_task():
                self._pump = None

    async def _pump_out(self) -> None:
        """Deliver what the inbox holds, in order, and end when it is empty (the next message starts it again)."""
        while True:
            inbox = self.inbox
            if not inbox:
                self.inbox = None
                return
            channel, data = inbox.popleft()
            sid = self._sid_of(channel) if "{" in channel else ""
            try:
                if data == _RESYNC:
                    await self.resync_all()
                    continue
                frame = orjson.loads(data)
                if "seq" in frame:
                    async with self._deliver_lock:
                        cursor = self.cursors.get(sid)
                        if cursor is None:
                            continue
                        verdict = cursor.judge(int(frame["seq"]))
                        if verdict is Verdict.NEXT:
                            cursor.advance(int(frame["seq"]))
                            await self._deliver(sid, frame, data)
                        elif verdict is Verdict.GAP:
                            await self._catch_up_locked(sid)
                else:
                    await self.on_control(channel, sid, frame)
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                # Catching up from the stream met an outage: try again shortly (and at the hub's reconnect).
                self.rt.outage.failed("relay", exc)
                self.resync_later()
            except Exception:
                log.exception("relay: delivery failed")

    async def _deliver(self, sid: str, event: Event, raw: bytes | str | None = None) -> None:
        """Send one session event; ``raw`` is its JSON as published: a live event (from pub/sub, not a
        catch-up), sent as it came instead of encoded again for every socket that follows the session, and
        timed store to socket."""
        await self.wait_room()
        self._relayed.inc()
        if raw is None:
            await self.send(event)
        elif not self.closing or event.get("type") == "ended":
            stored_ts = event.get("ts")
            text = raw.decode() if isinstance(raw, bytes) else raw
            self.send_text(text, stored_ts if isinstance(stored_ts, str) else None)
        await self.on_event(sid, event)

    # -- hooks -------------------------------------------------------------------------
    async def on_event(self, sid: str, event: Event) -> None:
        """Called after an event was delivered to this socket."""

    async def on_control(self, channel: str, sid: str, frame: dict[str, Any]) -> None:
        """Called for an unsequenced message (typing, presence, paired, revoked)."""
