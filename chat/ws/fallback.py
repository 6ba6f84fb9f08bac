"""The visitor's fallback transport, for networks that block or break websockets: Server-Sent Events from
the server, ``POST`` from the client, the same frames, seq, ack, resume and limits as ``/ws/visitor``
(docs/protocol.md, "Fallback transport").

``POST /sse/visitor`` opens the event stream. Its body is the first frame (``hello`` or ``resume``); the
answer is ``text/event-stream``: one frame per event (``data: {…}``), a comment now and then as a
keep-alive, and at the end ``event: close`` with the close code a websocket would have had. The stream is a
:class:`~chat.ws.visitor.VisitorConnection` like a websocket: it follows the session's channel through this
process's pub/sub hub and replays from the Redis stream after ``last_seq``.

``POST /sse/visitor/send`` carries one client frame, with the visitor's token in ``Authorization: Bearer``,
and is answered with a JSON array of frames (``ack``, ``pong``, ``error``). It holds no state: any instance
takes it, against Redis (the append script dedups by ``client_id`` and gives the seq, and publishes the
event to whichever instance holds the stream). So several instances need no sticky sessions.

The token never travels in a URL: the widget opens the stream with ``fetch()`` and a body, not with
``EventSource``, and sends the token in a header; neither is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from chat.protocol import ErrorCode, Hello, ProtocolError, Resume, error_frame, parse_visitor
from chat.services.addresses import http_client_address
from chat.services.runtime import Runtime, wall_ms
from chat.sessions import SessionStatus
from chat.settings import Settings
from chat.ws.connection import STREAM_PATH, Wire, admit, origin_allowed, release
from chat.ws.frames import serve_connection
from chat.ws.visitor import Visit, VisitorConnection, _cleanup, handle_frame, open_session

log = logging.getLogger("chat.visitor")

SEND_PATH = STREAM_PATH + "/send"
# What a keep-alive is on the wire: an SSE comment, which EventSource and the widget's reader both skip.
_KEEPALIVE = b": keep-alive\n\n"
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    # nginx and similar proxies buffer responses unless told not to; a buffered stream carries nothing.
    (b"x-accel-buffering", b"no"),
]


class StreamWire(Wire):
    """A connection's frames as the body of one streaming HTTP answer."""

    transport = "sse"

    def __init__(self, request: Request, send: Send) -> None:
        super().__init__(request)
        self._send = send
        self.finished = False
        self.gone = asyncio.Event()  # the client went away

    @property
    def is_open(self) -> bool:
        return not self.finished and not self.gone.is_set()

    async def start(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await self._write(_KEEPALIVE)  # the headers and a first byte go out now, through any proxy

    async def _write(self, chunk: bytes) -> None:
        if not self.is_open:
            raise ConnectionError("the event stream is gone")
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def send_text(self, text: str) -> None:
        # An empty text is the connection's keep-alive (see keep_alive), everything else one frame.
        await self._write(b"data: " + text.encode() + b"\n\n" if text else _KEEPALIVE)

    async def close(self, code: int, reason: str) -> None:
        if self.finished:
            return
        # No await in a finally here: a close cancelled (its peer does not read) must end at once, so that the
        # connection can abort the TCP connection instead.
        try:
            if not self.gone.is_set():
                await self._write(b"event: close\ndata: " + orjson.dumps({"code": code, "reason": reason}) + b"\n\n")
            self.finished = True
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:
            pass  # gone meanwhile
        finally:
            self.finished = True


class BodyTooSlow(Exception):
    """The request body did not arrive within its time."""


async def read_body(request: Request, limit: int, timeout: float) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (read no further than that).

    Raises :class:`BodyTooSlow` when it has not arrived whole within ``timeout`` seconds: the server's guard
    times out a request head that trickles in, not its body, and a frame is small."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTooSlow from None
    return b"".join(chunks)


def _frames(status: int, *frames: dict[str, Any], retry_after: int | None = None) -> Response:
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(list(frames), status_code=status, headers=headers)


def _parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not valid UTF-8") from None
    return parse_visitor(text)


async def _refused(request: Request) -> Response | bytes:
    """What both paths check first: the origin and the size of the body. The body, or the answer."""
    rt: Runtime = request.app.state.rt
    if not origin_allowed(request, rt.settings.allowed_origins):
        return _frames(403, error_frame(ErrorCode.FORBIDDEN, "origin not allowed"))
    try:
        raw = await read_body(request, rt.settings.max_frame_bytes, rt.settings.header_timeout_seconds)
    except BodyTooSlow:
        return _frames(408, error_frame(ErrorCode.BAD_REQUEST, "the frame took too long to arrive"))
    if raw is None:
        return _frames(413, error_frame(ErrorCode.TOO_LARGE, "frame is larger than the limit"))
    return raw


# -- the event stream ----------------------------------------------------------------------------------


async def stream_endpoint(request: Request) -> Response:
    """``POST /sse/visitor``: hello or resume, then the session's frames as Server-Sent Events."""
    # Not a "simple" request: a page elsewhere cannot open a stream (and a chat) without a CORS preflight,
    # which is never granted, even from a browser that sends no Origin with a form or no-cors POST.
    # (The POSTs need no such check: their Authorization header is never simple.)
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        return _frames(415, error_frame(ErrorCode.BAD_REQUEST, "the first frame must come as application/json"))
    checked = await _refused(request)
    if isinstance(checked, Response):
        return checked
    return _Stream(request, checked)


class _Stream(Response):
    """Runs the visitor's connection for as long as the answer streams."""

    def __init__(self, request: Request, first: bytes) -> None:
        super().__init__()
        self.request = request
        self.first = first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rt: Runtime = self.request.app.state.rt
        slot = admit(self.request, rt)
        if slot is None:
            busy = _frames(429, error_frame(ErrorCode.RATE_LIMITED, "too many connections from here"), retry_after=5)
            await busy(scope, receive, send)
            return
        wire = StreamWire(self.request, send)
        watch = asyncio.create_task(_watch(receive, wire), name="stream-watch")
        try:
            await wire.start()
            conn = VisitorConnection(wire, rt)
            await serve_connection(conn, lambda: _serve(conn, wire, self.first), _cleanup, log)
        except ConnectionError:
            pass  # gone before the answer began
        finally:
            watch.cancel()
            release(rt, slot)
            if not wire.finished:
                wire.finished = True
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _watch(receive: Receive, wire: StreamWire) -> None:
    """The only thing the client says on the stream once it is open: that it went away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            wire.gone.set()
            return


async def _serve(conn: VisitorConnection, wire: StreamWire, raw: bytes) -> None:
    try:
        first = _parse(raw)
    except ProtocolError as exc:
        first = exc
    if not isinstance(first, Hello | Resume):
        # No second chance on a stream: its first frame is all the client sends on it.
        message = first.message if isinstance(first, ProtocolError) else "the first frame must be hello or resume"
        code = first.code if isinstance(first, ProtocolError) else ErrorCode.BAD_REQUEST
        await conn.send(error_frame(code, message))
        await conn.close(1008, "no hello")
        return
    if not await open_session(conn, first):
        return
    beat = asyncio.create_task(_keep_alive(conn, conn.rt.settings.stream_heartbeat_seconds), name="stream-beat")
    stopping: asyncio.Event = wire.http.scope.get("chat.shutdown") or asyncio.Event()
    waits = [asyncio.create_task(e.wait()) for e in (conn.ended, wire.gone, stopping)]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        beat.cancel()
        for task in waits:
            task.cancel()
    if conn.ended.is_set():
        await conn.close(1000)
    elif stopping.is_set():
        await conn.close(1012, "server shutting down")  # the client reconnects, to any instance, and resumes


async def _keep_alive(conn: VisitorConnection, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        conn.send_text("")  # in order with the frames (StreamWire.send_text writes a comment for it)


def _post_addr_bucket(settings: Settings, client_hash: str) -> tuple[str, str, float, int]:
    return ("post-addr", client_hash, 2 * settings.address_messages_per_second, 2 * settings.address_message_burst)


# -- frames from the client ---------------------------------------------------------------------------


class PostedFrame:
    """One ``POST`` of a client frame: the :class:`~chat.ws.visitor.Visit` of a request, read from Redis."""

    def __init__(
        self, rt: Runtime, sid: str, language: str, started_ms: int, client_hash: str, key: str, status: SessionStatus
    ) -> None:
        self.rt = rt
        self.sid: str | None = sid
        self.language = language
        self.started_ms = started_ms
        self.client_hash = client_hash
        self.session_key = key
        self.status = status
        self.replies: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        self.replies.append(frame)

    async def strike(self, code: ErrorCode, message: str, **extra: Any) -> None:
        self.replies.append(error_frame(code, message, **extra))

    async def typing_allowed(self) -> bool:
        # Every POST took from the post buckets already. An ended chat's token still finds its session (the
        # ``ended`` event must reach a late stream), but its typing reaches no counselor's screen.
        return self.status is not SessionStatus.ENDED

    async def ended_here(self) -> None:
        """Nothing to do here: the ``ended`` event reaches the client on its stream, on whichever instance."""


async def send_endpoint(request: Request) -> Response:
    """``POST /sse/visitor/send``: one client frame of a running session; the answers in the response."""
    checked = await _refused(request)
    if isinstance(checked, Response):
        return checked
    rt: Runtime = request.app.state.rt
    settings = rt.settings
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    sid = await rt.store.session_of_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    info = await rt.store.get_session(sid) if sid else None
    address = http_client_address(request, settings.trusted_proxies) or "unknown"
    client_hash = await rt.hasher.digest("addr", address)
    if sid is None or info is None:
        # A flood of POSTs with no or made-up tokens takes from the address's bucket too, and gets 429 past it.
        if not await rt.limiter.take(wall_ms(), _post_addr_bucket(settings, client_hash)):
            return _frames(429, error_frame(ErrorCode.RATE_LIMITED, "too many requests; slow down"), retry_after=1)
        return _frames(401, error_frame(ErrorCode.UNKNOWN_SESSION, "unknown or expired session"))
    key = await rt.hasher.digest("session", sid)
    try:
        frame: Any = _parse(checked)
    except ProtocolError as exc:
        frame = exc
    # No connection to close after twenty bad frames: every POST takes from a bucket of its session and
    # of its address instead (twice the message rates: messages take from those as well).
    if not await rt.limiter.take(
        wall_ms(),
        ("post-session", key, 2 * settings.messages_per_second, 2 * settings.message_burst),
        _post_addr_bucket(settings, client_hash),
    ):
        extra = {"client_id": frame.client_id} if isinstance(getattr(frame, "client_id", None), str) else {}
        refusal = error_frame(ErrorCode.RATE_LIMITED, "too many requests; slow down", **extra)
        return _frames(429, refusal, retry_after=1)
    post = PostedFrame(rt, sid, info.language, info.enqueued_at, client_hash, key, info.status)
    if isinstance(frame, ProtocolError):
        await post.strike(frame.code, frame.message)
    else:
        visit: Visit = post
        await handle_frame(visit, frame, post.strike)
    return _frames(200, *post.replies)
