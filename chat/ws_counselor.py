"""The counselor endpoint, ``/ws/counselor``: auth, then queues, accept and chats."""

from __future__ import annotations

import logging
from typing import Any

from starlette.websockets import WebSocket

from chat.auth import Principal, TokenBucket
from chat.connection import Connection, origin_allowed
from chat.events import Event, utc_now_iso
from chat.protocol import (
    Accept,
    Auth,
    CounselorEnd,
    CounselorMessage,
    CounselorResource,
    CounselorTyping,
    ErrorCode,
    Ping,
    Wrapup,
    error_frame,
    parse_counselor,
)
from chat.runtime import Runtime
from chat.sessions import EndReason, SessionStatus
from chat.store.redis_store import NOT_OWNER, AtCapacity, SessionInfo
from chat.ws_common import Disconnected, FrameReader

log = logging.getLogger("chat.counselor")


class CounselorConnection(Connection):
    role = "counselor"

    def __init__(self, ws: WebSocket, rt: Runtime) -> None:
        super().__init__(ws, rt)
        self.principal: Principal | None = None
        self.last_queues: list[dict[str, Any]] | None = None
        self.capacity = 0

    async def on_event(self, sid: str, event: Event) -> None:
        if event.get("type") == "ended":
            await self.unfollow(sid)

    async def on_control(self, channel: str, sid: str, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "typing" and frame.get("sender") == "visitor" and sid in self.cursors:
            await self.send({"type": "typing", "session_id": sid, "sender": "visitor",
                             "active": bool(frame.get("active"))})
        elif kind == "presence" and sid in self.cursors:
            await self.send({"type": "presence", "session_id": sid, "visitor": frame.get("visitor")})
        elif kind == "revoked" and self.principal is not None:
            if frame.get("token_hash") in ("*", self.principal.token_hash):
                await self.send(error_frame(ErrorCode.UNAUTHORIZED, "your login was revoked"))
                await self.close(1008, "revoked")

    async def send_queues(self, queues: list[dict[str, Any]]) -> None:
        if queues != self.last_queues:
            self.last_queues = queues
            await self.send({"type": "queues", "queues": queues})

    async def send_assigned(self, info: SessionInfo) -> None:
        await self.send({
            "type": "assigned", "session_id": info.sid, "audience": info.audience, "language": info.language,
            "topic": info.topic, "urgent": info.urgent, "category": info.category,
            "waited_seconds": max(0, ((info.paired_at or info.enqueued_at) - info.enqueued_at) // 1000),
            "visitor": "online" if info.visitor_online else "offline",
        })


async def counselor_endpoint(ws: WebSocket) -> None:
    rt: Runtime = ws.app.state.rt
    if not origin_allowed(ws, rt.settings.allowed_origins):
        await ws.close(1008, "origin not allowed")
        return
    await ws.accept()
    conn = CounselorConnection(ws, rt)
    reader = FrameReader(conn, parse_counselor)
    conn.start()
    try:
        await _serve(conn, reader)
    except Disconnected:
        pass
    except Exception:
        log.exception("counselor: unexpected failure")
        await conn.send(error_frame(ErrorCode.INTERNAL, "internal error"))
        await conn.close(1011)
    finally:
        watcher = rt.extras.get("watcher")
        if watcher is not None:
            watcher.counselor_left(conn)
        if conn.principal is not None:
            await rt.hub.unsubscribe(rt.keys.counselor_channel(conn.principal.counselor_id), conn._listener)
            if not any(isinstance(c, CounselorConnection) and c.principal
                       and c.principal.counselor_id == conn.principal.counselor_id for c in rt.connections
                       if c is not conn):
                await rt.store.counselor_offline(conn.principal.counselor_id)
        await conn.stop()


async def _authenticate(conn: CounselorConnection, reader: FrameReader) -> Principal:
    rt = conn.rt
    try:
        frame = await reader.next(timeout=rt.settings.first_frame_timeout)
    except TimeoutError:
        await conn.send(error_frame(ErrorCode.UNAUTHORIZED, "expected auth within "
                                    f"{rt.settings.first_frame_timeout:g} s"))
        await conn.close(1008, "no auth")
        raise Disconnected() from None
    principal = await rt.tokens.check(frame.token) if isinstance(frame, Auth) else None
    if principal is None:
        await conn.send(error_frame(ErrorCode.UNAUTHORIZED, "a valid auth token is required"))
        await conn.close(1008, "unauthorized")
        raise Disconnected()
    return principal


async def _serve(conn: CounselorConnection, reader: FrameReader) -> None:
    rt = conn.rt
    principal = await _authenticate(conn, reader)
    conn.principal = principal
    await rt.hub.subscribe(rt.keys.counselor_channel(principal.counselor_id), conn._listener)
    # A token revoked between the check and the subscription is caught here.
    if not await rt.tokens.is_valid_hash(principal.token_hash):
        await conn.send(error_frame(ErrorCode.UNAUTHORIZED, "your login was revoked"))
        await conn.close(1008, "revoked")
        return
    await rt.store.heartbeat_counselor(principal.counselor_id, rt.now_ms())
    await conn.send({"type": "welcome", "counselor": principal.public()})
    watcher = rt.extras.get("watcher")
    if watcher is not None:
        await watcher.counselor_joined(conn)
    for sid in await rt.store.counselor_session_ids(principal.counselor_id):
        info = await rt.store.get_session(sid)
        if info is not None and info.status is SessionStatus.ACTIVE:
            await conn.send_assigned(info)
            await conn.follow(sid, 0)
    bucket = TokenBucket(rt.settings.messages_per_second * 4, rt.settings.message_burst * 2)
    last_beat = rt.now_ms()
    while not conn.closing:
        frame = await reader.next()
        # Any frame shows the counselor is there; the watcher's heartbeat covers quiet times.
        if rt.now_ms() - last_beat > 10_000:
            last_beat = rt.now_ms()
            await rt.store.heartbeat_counselor(principal.counselor_id, last_beat)
        if isinstance(frame, Ping):
            await conn.send({"type": "pong"})
            continue
        if not bucket.take():
            await reader.strike(ErrorCode.RATE_LIMITED, "too many frames; slow down")
            continue
        if isinstance(frame, Accept):
            await _accept(conn, frame)
        elif isinstance(frame, CounselorMessage | CounselorResource):
            await _say(conn, reader, frame)
        elif isinstance(frame, CounselorTyping):
            if await _owns(conn, frame.session_id):
                await rt.store.publish_control(frame.session_id, {
                    "type": "typing", "session_id": frame.session_id, "sender": "counselor", "active": frame.active})
        elif isinstance(frame, CounselorEnd):
            if await _owns(conn, frame.session_id):
                await rt.store.end(frame.session_id, EndReason.COUNSELOR, utc_now_iso(), rt.now_ms())
        elif isinstance(frame, Wrapup):
            wrapup = {"category": frame.category.value, "risk": frame.risk.value, "referral": frame.referral.value}
            if await rt.store.save_wrapup(frame.session_id, principal.counselor_id, wrapup, rt.now_ms()):
                await conn.send({"type": "wrapup_saved", "session_id": frame.session_id})
            else:
                await conn.send(error_frame(ErrorCode.NOT_IN_SESSION, "this session is not yours (or is archived)",
                                            session_id=frame.session_id))
        elif isinstance(frame, Auth):
            await reader.strike(ErrorCode.BAD_REQUEST, "already authenticated")


async def _owns(conn: CounselorConnection, sid: str, **extra: Any) -> bool:
    assert conn.principal is not None
    info = await conn.rt.store.get_session(sid)
    if info is None or info.counselor != str(conn.principal.counselor_id) or info.status is not SessionStatus.ACTIVE:
        await conn.send(error_frame(ErrorCode.NOT_IN_SESSION, "this session is not yours", session_id=sid, **extra))
        return False
    return True


async def _accept(conn: CounselorConnection, frame: Accept) -> None:
    rt = conn.rt
    assert conn.principal is not None
    try:
        sid = await rt.store.claim(
            conn.principal.counselor_id, conn.principal.display_name, rt.now_ms(), capacity=conn.capacity,
            audience=frame.audience.value if frame.audience else None,
            language=frame.language.value if frame.language else None,
        )
    except AtCapacity:
        await conn.send(error_frame(ErrorCode.FORBIDDEN, "you are at your capacity"))
        return
    if sid is None:
        await conn.send(error_frame(ErrorCode.QUEUE_EMPTY, "nobody is waiting"))
        return
    info = await rt.store.get_session(sid)
    assert info is not None
    await rt.store.touch_idle(sid, rt.now_ms() + int(rt.settings.idle_timeout_seconds * 1000))
    await conn.send_assigned(info)
    await conn.follow(sid, 0)
    await rt.store.publish_control(sid, {"type": "paired", "session_id": sid,
                                         "counselor_name": conn.principal.display_name})


async def _say(conn: CounselorConnection, reader: FrameReader, frame: CounselorMessage | CounselorResource) -> None:
    rt = conn.rt
    assert conn.principal is not None
    event: dict[str, Any]
    if isinstance(frame, CounselorMessage):
        if len(frame.text) > rt.settings.max_text_chars:
            await reader.strike(ErrorCode.TOO_LARGE, f"text is longer than {rt.settings.max_text_chars} characters",
                                client_id=frame.client_id)
            return
        if not frame.text.strip():
            await reader.strike(ErrorCode.BAD_REQUEST, "text is empty", client_id=frame.client_id)
            return
        event = {"type": "message", "session_id": frame.session_id, "sender": "counselor",
                 "text": frame.text.strip(), "ts": utc_now_iso(), "client_id": frame.client_id}
    else:
        # Someone else's session is not_in_session whatever the snippet_id (the append checks again).
        if not await _owns(conn, frame.session_id, client_id=frame.client_id):
            return
        snippet = await _snippet(rt, frame.snippet_id)
        if snippet is None:
            await reader.strike(ErrorCode.BAD_REQUEST, "unknown or inactive snippet_id", client_id=frame.client_id)
            return
        event = {"type": "resource", "session_id": frame.session_id, "sender": "counselor", "ts": utc_now_iso(),
                 "client_id": frame.client_id, "snippet": snippet}
    now = rt.now_ms()
    result = await rt.store.append(frame.session_id, event, client_id=frame.client_id,
                                   owner=str(conn.principal.counselor_id), allowed=(SessionStatus.ACTIVE,),
                                   now_ms=now)
    if result.code < 0:
        await conn.send(error_frame(ErrorCode.NOT_IN_SESSION, "this session is not yours"
                                    if result.code == NOT_OWNER else "this session is not active",
                                    session_id=frame.session_id, client_id=frame.client_id))
        return
    await conn.send({"type": "ack", "session_id": frame.session_id, "client_id": frame.client_id,
                     "seq": result.seq})
    await rt.store.touch_idle(frame.session_id, now + int(rt.settings.idle_timeout_seconds * 1000))


async def _snippet(rt: Runtime, snippet_id: str) -> dict[str, Any] | None:
    lookup = rt.extras.get("snippet_lookup")
    if lookup is None:
        return None
    result: dict[str, Any] | None = await lookup(snippet_id)
    return result


