"""The visitor endpoint, ``/ws/visitor``: hello or resume, then chat until the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from chat.eta import shown_eta
from chat.events import Event, utc_now_iso
from chat.protocol import (
    ErrorCode,
    Hello,
    Ping,
    QuickExit,
    Resume,
    VisitorEnd,
    VisitorMessage,
    VisitorTyping,
    error_frame,
    parse_visitor,
)
from chat.services import metrics
from chat.services.addresses import http_client_address
from chat.services.auth import TokenBucket
from chat.services.runtime import Runtime, wall_ms
from chat.sessions import EndReason, Sender, SessionStatus
from chat.store.redis import RATE_LIMITED, SESSION_FULL, SessionInfo
from chat.ws.connection import Connection, Flag, Wire
from chat.ws.frames import Disconnected, FrameReader, run_endpoint
from chat.ws.instance import InstanceKeeper, visitor_ended, visitor_presence

log = logging.getLogger("chat.visitor")


class VisitorConnection(Connection):
    role = "visitor"
    __slots__ = (
        "sid",
        "status",
        "audience",
        "language",
        "started_ms",
        "client_hash",
        "client_hashes",
        "session_key",
        "last_queue",
        "ended",
        "_reading",
        "_interrupted",
        "_typing",
    )

    def __init__(self, wire: Wire, rt: Runtime) -> None:
        super().__init__(wire, rt)
        self.sid: str | None = None
        self.status: SessionStatus | None = None
        self.audience = ""
        self.language = ""
        self.started_ms = 0  # when the session began: triage scans its first minutes
        self.client_hash = ""  # HMAC of the client address (rotating salt); never the address itself
        self.client_hashes: list[str] = []  # today's and yesterday's, to find a block made yesterday
        self.session_key = ""  # HMAC of the session id, for the per-session rate limits
        self.last_queue: tuple[int, int | str | None, bool] | None = None
        self.ended = Flag()
        # The handler's task while it waits for the next frame: the end of the session interrupts that wait.
        self._reading: asyncio.Task[Any] | None = None
        self._interrupted = False
        # Typing is never stored: a bucket of this connection's own is enough for it.
        self._typing = TokenBucket(rt.settings.messages_per_second, rt.settings.message_burst)

    async def typing_allowed(self) -> bool:
        return self._typing.take()

    def end_wait(self) -> None:
        """The session ended: stop waiting for the client's next frame (``_next_or_end``)."""
        self.ended.set()
        task = self._reading
        if task is not None and task is not asyncio.current_task() and not self._interrupted:
            self._interrupted = True
            task.cancel()

    async def ended_here(self) -> None:
        """The visitor ended the session through this connection: deliver the ended event (and anything
        before it) before the loop closes."""
        assert self.sid is not None
        await self.catch_up(self.sid)
        self.status = SessionStatus.ENDED
        self.ended.set()

    async def on_event(self, sid: str, event: Event) -> None:
        if event.get("type") == "ended":
            self.status = SessionStatus.ENDED
            self.end_wait()
        elif event.get("type") == "handover" and event.get("counselor_name") is None:
            # Back in the queue: position updates resume until a counselor accepts.
            self.status = SessionStatus.QUEUED
            self.last_queue = None
            watcher = self.rt.extras.get("watcher")
            if watcher is not None:
                await watcher.visitor_joined(self)

    async def on_control(self, channel: str, sid: str, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "typing" and frame.get("sender") == Sender.COUNSELOR.value:
            await self.send({"type": "typing", "sender": "counselor", "active": bool(frame.get("active"))})
        elif kind == "receipt":
            await self.send({"type": "receipt", "delivered": frame.get("delivered"), "read": frame.get("read")})
        elif kind == "paired" and (self.status is SessionStatus.QUEUED or frame.get("handover")):
            self.status = SessionStatus.ACTIVE
            await self.send({"type": "paired", "counselor_name": frame.get("counselor_name")})

    async def on_lost(self, sids: list[str]) -> None:
        """Redis came back without this session (restarted empty): the same answer a resume would get now."""
        self.status = SessionStatus.ENDED  # nothing left to count offline or to time out
        await self.send(error_frame(ErrorCode.UNKNOWN_SESSION, "unknown or expired session"))
        self.close_soon(1008, "unknown session")
        self.end_wait()

    async def check_paired(self, info: SessionInfo | None | Literal[False] = False) -> None:
        """Send ``paired`` if a counselor claimed the session before this socket was subscribed.

        The ``paired`` notice is not stored; one published between reading the status and
        subscribing to the session's channel would otherwise never reach the visitor. ``info``: the
        session as read after subscribing, if the caller has it.
        """
        if self.sid is None or self.status is not SessionStatus.QUEUED:
            return
        if info is False:
            info = await self.rt.store.get_session(self.sid)
        if info is not None and info.status is SessionStatus.ACTIVE and self.status is SessionStatus.QUEUED:
            self.status = SessionStatus.ACTIVE
            await self.send({"type": "paired", "counselor_name": info.counselor_name})

    async def send_queue(
        self, position: int | None, eta: int | None, nobody_online: bool = False, text: str | None = None
    ) -> None:
        """Send ``queue`` when what the widget shows of it changed since the last one sent (the place, the
        estimate as shown, see ``chat.eta.shown_eta``, or nobody online); ``text``: the frame already encoded."""
        if self.status is not SessionStatus.QUEUED or position is None:
            return
        shown = (position, shown_eta(eta), nobody_online)
        if self.last_queue != shown:
            self.last_queue = shown
            if text is None:
                await self.send(
                    {"type": "queue", "position": position, "eta_seconds": eta, "nobody_online": nobody_online}
                )
            elif not self.closing:
                self.send_text(text)


async def visitor_endpoint(ws: WebSocket) -> None:
    await run_endpoint(ws, VisitorConnection, parse_visitor, _serve, _cleanup, log)


async def _cleanup(conn: VisitorConnection) -> None:
    rt = conn.rt
    await conn.stop()
    if conn.sid and conn.status is not SessionStatus.ENDED:
        # A queued visitor (a phone locked while waiting) keeps their place longer than a chat waits. The
        # store picks the grace by the session's state in Redis: this socket may not have heard `paired` yet.
        grace_ms = int(rt.settings.visitor_grace_seconds * 1000)
        queued_ms = int(rt.settings.queued_grace_seconds * 1000)
        with contextlib.suppress(RedisError):
            if await visitor_presence(rt, conn, -1, rt.now_ms(), grace_ms, queued_ms) == 0:
                await rt.store.publish_control(
                    conn.sid, {"type": "presence", "session_id": conn.sid, "visitor": "offline"}
                )
    elif conn.sid:
        with contextlib.suppress(RedisError):
            await visitor_ended(rt, conn)


async def _first_frame(conn: VisitorConnection, reader: FrameReader) -> Hello | Resume:
    settings = conn.rt.settings
    deadline = asyncio.get_running_loop().time() + settings.first_frame_timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            if remaining <= 0:
                raise TimeoutError
            frame = await reader.next(timeout=remaining)
        except TimeoutError:
            await conn.send(
                error_frame(
                    ErrorCode.BAD_REQUEST, f"expected hello or resume within {settings.first_frame_timeout:g} s"
                )
            )
            await conn.close(1008, "no hello")
            raise Disconnected() from None
        if isinstance(frame, Hello | Resume):
            return frame
        if isinstance(frame, Ping):
            await conn.send({"type": "pong"})
            continue
        await reader.strike(ErrorCode.BAD_REQUEST, "the first frame must be hello or resume")


async def _serve(conn: VisitorConnection, reader: FrameReader) -> None:
    first = await _first_frame(conn, reader)
    if not await open_session(conn, first):
        return
    while conn.status is not SessionStatus.ENDED:
        frame = await _next_or_end(conn, reader)
        if frame is None:
            break
        await handle_frame(conn, frame, reader.strike)
    # The ended event has been delivered; a normal close.
    await conn.close(1000)


async def open_session(conn: VisitorConnection, first: Hello | Resume) -> bool:
    """``hello`` or ``resume`` on a new connection (either transport); False when it was refused (and closed)."""
    rt = conn.rt
    address = http_client_address(conn.http, rt.settings.trusted_proxies) or "unknown"
    conn.client_hashes = await rt.hasher.recent_digests("addr", address)
    conn.client_hash = conn.client_hashes[0]
    if isinstance(first, Hello):
        if not await _hello(conn, first):
            return False
    elif not await _resume(conn, first):
        return False
    assert conn.sid is not None
    # Keyed on an HMAC of the session id, so that no key outlives the archived session naming it.
    conn.session_key = await rt.hasher.digest("session", conn.sid)
    return True


class Visit(Protocol):
    """What the handling of one frame needs of the visitor's side, whatever carried the frame: a
    :class:`VisitorConnection` (websocket or event stream), or one ``POST`` of the fallback transport
    (``chat.ws.fallback``), which holds no state between frames."""

    rt: Runtime
    sid: str | None
    language: str
    started_ms: int
    client_hash: str
    session_key: str

    async def send(self, frame: dict[str, Any]) -> None: ...

    async def typing_allowed(self) -> bool: ...

    async def ended_here(self) -> None: ...


Strike = Callable[..., Awaitable[None]]  # (code, message, **extra): answer a refused frame and count it


async def handle_frame(visit: Visit, frame: Any, strike: Strike) -> None:
    """One client frame of a running session, the same for both transports: frames in, frames out
    (through ``visit.send`` and ``strike``); stored events reach the client through its session's stream."""
    rt = visit.rt
    assert visit.sid is not None
    settings = rt.settings
    if isinstance(frame, VisitorMessage):
        # Per session and per client address, shared by every socket on every instance: six sockets
        # resuming one session get no more than one. The buckets are taken before anything else is looked
        # at; for a message that can be stored, in the append's own round trip (RedisStore.append).
        limits = (
            ("msg-session", visit.session_key, settings.messages_per_second, settings.message_burst),
            ("msg-addr", visit.client_hash, settings.address_messages_per_second, settings.address_message_burst),
        )
        if _refusal(rt, frame) is not None and not await rt.limiter.take(wall_ms(), *limits):
            await _rate_limited(visit, strike, frame)
            return
        await _message(visit, strike, frame, limits)
    elif isinstance(frame, VisitorTyping):
        if await visit.typing_allowed():
            await rt.store.publish_control(
                visit.sid, {"type": "typing", "session_id": visit.sid, "sender": "visitor", "active": frame.active}
            )
    elif isinstance(frame, VisitorEnd | QuickExit):
        reason = EndReason.QUICK_EXIT if isinstance(frame, QuickExit) else EndReason.VISITOR
        await metrics.end_session(rt, visit.sid, reason, rt.now_ms())
        await visit.ended_here()
    elif isinstance(frame, Ping):
        await visit.send({"type": "pong"})
    else:
        await strike(ErrorCode.BAD_REQUEST, f"{frame.type} is only allowed as the first frame")


async def _next_or_end(conn: VisitorConnection, reader: FrameReader) -> Any:
    """The next frame, or None once the session ended (by the counselor or a timer).

    Read in the handler's own task: the end of the session (``VisitorConnection.end_wait``, from the pump)
    cancels that wait, and the cancel is taken back here. No task per frame: an idle socket (a visitor in
    the queue) holds none but the server's handler.
    """
    if conn.ended.is_set():
        return None
    task = asyncio.current_task()
    assert task is not None
    conn._reading, conn._interrupted = task, False
    try:
        return await reader.next()
    except asyncio.CancelledError:
        # Ours (the session ended) and nobody else's (a shutdown cancels too): carry on to the normal close.
        if conn._interrupted and task.uncancel() == 0:
            return None
        raise
    finally:
        conn._reading = None


async def _hello(conn: VisitorConnection, hello: Hello) -> bool:
    rt = conn.rt
    settings = rt.settings
    if await rt.limiter.hit("hello", conn.client_hash, 60) > settings.hellos_per_minute:
        metrics.of(rt).rate_limited.labels("hello").inc()
        await conn.send(error_frame(ErrorCode.RATE_LIMITED, "too many new chats from here; try again later"))
        await conn.close(1008, "rate limited")
        return False
    if await rt.blocks.is_blocked(conn.client_hashes):
        metrics.of(rt).blocked.inc()
        # Neutral: the visitor is not told they were blocked, only that they cannot chat now, with help to call.
        closed = rt.extras.get("closed_frame")
        frame = await closed(hello.language.value) if closed else error_frame(ErrorCode.SERVICE_CLOSED, "closed")
        await conn.send(frame)
        await conn.close(1000)
        return False
    gate = rt.extras.get("hello_gate")
    if gate is not None:
        refusal = await gate(hello)
        if refusal is not None:
            await conn.send(refusal)
            await conn.close(1000)
            return False
    first_message = (hello.first_message or "").strip()
    if len(first_message) > settings.max_text_chars:
        await conn.send(
            error_frame(ErrorCode.TOO_LARGE, f"first_message is longer than {settings.max_text_chars} characters")
        )
        await conn.close(1008, "too large")
        return False
    urgent, category = False, None
    triage = rt.extras.get("triage")
    if triage is not None and first_message:
        urgent, category = triage(first_message, hello.language.value)
    now = rt.now_ms()
    log_id = metrics.new_correlation_id()
    keeper: InstanceKeeper | None = rt.extras.get("instance")
    counted_on = keeper.new_visitor() if keeper is not None else None
    watcher = rt.extras.get("watcher")
    moves = watcher.moves if watcher is not None else 0
    created = await rt.store.create_queued(
        audience=hello.audience,
        language=hello.language,
        topic=(hello.topic or "").strip() or None,
        urgent=urgent,
        category=category,
        now_ms=now,
        client=conn.client_hash,
        log_id=log_id,
        # Nothing written yet: a queued session that stays silent this long ends (the sweeper checks again).
        idle_deadline_ms=None if first_message else now + int(settings.queued_silent_timeout_seconds * 1000),
        counted_on=counted_on,
    )
    sid, token = created.sid, created.token
    conn.sid, conn.status, conn.started_ms = sid, SessionStatus.QUEUED, now
    if created.counted and keeper is not None and counted_on is not None:
        keeper.counted(conn, counted_on[0])
    metrics.session_queued(rt, sid, log_id, hello.audience.value, hello.language.value)
    conn.audience, conn.language = hello.audience.value, hello.language.value
    if first_message:
        event = {"type": "message", "session_id": sid, "sender": "visitor", "text": first_message, "ts": utc_now_iso()}
        await rt.store.append(sid, event, client_id=None, owner=None, allowed=(SessionStatus.QUEUED,), now_ms=now)
    if not created.counted:
        await visitor_presence(rt, conn, +1, now, 0)
    await conn.send({"type": "session", "session_id": sid, "token": token, "status": "queued", "resumed": False})
    if watcher is not None:
        await watcher.visitor_joined(conn, created.position, moves)
    await conn.follow_live(sid, 0)
    # One read for both checks once subscribed: what was stored before (the first message, a quick
    # counselor) is read from the stream only if there is any, and a `paired` published before is sent now.
    info = await rt.store.get_session(sid)
    if info is None or info.seq > 0:
        await conn.catch_up(sid)
    await conn.check_paired(info)
    return True


async def _resume(conn: VisitorConnection, resume: Resume) -> bool:
    rt = conn.rt
    sid = await rt.store.session_of_token(resume.token)
    info = await rt.store.get_session(sid) if sid else None
    if sid is None or info is None:
        await conn.send(error_frame(ErrorCode.UNKNOWN_SESSION, "unknown or expired session"))
        await conn.close(1008, "unknown session")
        return False
    conn.sid, conn.status, conn.started_ms = sid, info.status, info.enqueued_at
    conn.audience, conn.language = info.audience, info.language
    if info.status is SessionStatus.ENDED:
        # Whoever holds the token of an ended chat (a parent who finds it in a closed tab's storage)
        # learns that it ended, and nothing of what was said.
        await conn.send(
            {"type": "session", "session_id": sid, "token": resume.token, "status": "ended", "resumed": True}
        )
        for event in await rt.store.events_after(sid, max(0, info.seq - 1)):
            if event.get("type") == "ended":
                await conn.send(event)
        conn.ended.set()
        return True
    last_seq = min(resume.last_seq, info.seq)
    # resumed is false when the stream no longer holds everything after last_seq.
    events = await rt.store.events_after(sid, last_seq, count=1)
    complete = info.seq == last_seq or (bool(events) and int(events[0]["seq"]) == last_seq + 1)
    frame: dict[str, Any] = {
        "type": "session",
        "session_id": sid,
        "token": resume.token,
        "status": info.status.value,
        "resumed": complete,
    }
    if info.counselor_name and info.status is SessionStatus.ACTIVE:
        frame["counselor_name"] = info.counselor_name
    await conn.send(frame)
    n = await visitor_presence(rt, conn, +1, rt.now_ms(), 0)
    if n == 1 and info.status is SessionStatus.ACTIVE:
        await rt.store.publish_control(sid, {"type": "presence", "session_id": sid, "visitor": "online"})
    if info.status is SessionStatus.QUEUED:
        watcher = rt.extras.get("watcher")
        if watcher is not None:
            await watcher.visitor_joined(conn)
    await conn.follow(sid, last_seq)
    await conn.check_paired()
    delivered, read = await rt.store.receipts(sid)
    if delivered:
        # What the counselor's screen acknowledged while this visitor was away.
        await conn.send({"type": "receipt", "delivered": delivered, "read": read})
    return True


async def _rate_limited(visit: Visit, strike: Strike, frame: VisitorMessage) -> None:
    metrics.of(visit.rt).rate_limited.labels("message").inc()
    await strike(ErrorCode.RATE_LIMITED, "too many messages; slow down", client_id=frame.client_id)


def _refusal(rt: Runtime, frame: VisitorMessage) -> tuple[ErrorCode, str] | None:
    """Why a message cannot be stored whatever Redis holds (too long, empty), or None."""
    if len(frame.text) > rt.settings.max_text_chars:
        return ErrorCode.TOO_LARGE, f"text is longer than {rt.settings.max_text_chars} characters"
    if not frame.text.strip():
        return ErrorCode.BAD_REQUEST, "text is empty"
    return None


async def _message(
    conn: Visit, strike: Strike, frame: VisitorMessage, limits: tuple[tuple[str, str, float, int], ...]
) -> None:
    """A message whose rate limit is not yet taken (``limits``, taken by the append) unless it is refused here
    (the caller has taken it then)."""
    rt = conn.rt
    assert conn.sid is not None
    refusal = _refusal(rt, frame)
    if refusal is not None:
        await strike(*refusal, client_id=frame.client_id)
        return
    text = frame.text.strip()
    now = rt.now_ms()
    event = {
        "type": "message",
        "session_id": conn.sid,
        "sender": "visitor",
        "text": text,
        "ts": utc_now_iso(),
        "client_id": frame.client_id,
    }
    result = await rt.store.append(
        conn.sid,
        event,
        client_id=frame.client_id,
        owner=None,
        allowed=(SessionStatus.QUEUED, SessionStatus.ACTIVE),
        now_ms=now,
        limits=limits,
        limits_now_ms=wall_ms(),
    )
    if result.code == RATE_LIMITED:
        await _rate_limited(conn, strike, frame)
        return
    if result.code == SESSION_FULL:
        await strike(ErrorCode.TOO_LARGE, "this chat is full", client_id=frame.client_id, reason="session_full")
        return
    if result.code < 0:
        await conn.send(error_frame(ErrorCode.NOT_IN_SESSION, "the session has ended", client_id=frame.client_id))
        return
    await conn.send({"type": "ack", "client_id": frame.client_id, "seq": result.seq})
    # No idle timer update here: the append keeps last_activity, which the sweeper reads when the timer
    # is due (and then sets it again from there), so a relayed message is one round trip.
    if result.code == 1:
        triage = rt.extras.get("triage")
        window_ms = rt.settings.triage_window_seconds * 1000
        if triage is not None and now - conn.started_ms <= window_ms:
            urgent, category = triage(text, conn.language)
            if urgent and category:
                # Queued: ahead in the queue. In a chat: flagged to the counselor and every supervisor.
                await rt.store.raise_risk(conn.sid, category, now)
