"""The counselor endpoint, ``/ws/counselor``: auth, then queues, accept and chats."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from starlette.websockets import WebSocket

from chat.events import Event, utc_now_iso
from chat.protocol import (
    Accept,
    Auth,
    CounselorEnd,
    CounselorMessage,
    CounselorResource,
    CounselorTyping,
    ErrorCode,
    Monitor,
    Ping,
    Receipt,
    Status,
    Transfer,
    Unmonitor,
    Whisper,
    Wrapup,
    error_frame,
    parse_counselor,
)
from chat.services import accounts, metrics
from chat.services.auth import Principal, Role, TokenBucket
from chat.services.runtime import Runtime
from chat.sessions import EndReason, SessionStatus
from chat.skills import Skills
from chat.store.redis import NOT_OWNER, SESSION_FULL, SessionInfo
from chat.store.sql import AuditEntry, Counselor
from chat.ws.connection import Connection, Wire
from chat.ws.frames import Disconnected, FrameReader, run_endpoint
from chat.ws.instance import counselor_joined, counselor_left

log = logging.getLogger("chat.counselor")


class CounselorConnection(Connection):
    role = "counselor"

    def __init__(self, wire: Wire, rt: Runtime) -> None:
        super().__init__(wire, rt)
        self.principal: Principal | None = None
        self.last_queues: list[dict[str, Any]] | None = None
        self.monitoring: set[str] = set()
        # Per queue, when this (supervisor's) console was last alerted about a long wait.
        self.alerted: dict[tuple[str, str], int] = {}

    async def on_event(self, sid: str, event: Event) -> None:
        if event.get("type") == "ended":
            self.monitoring.discard(sid)
            await self.unfollow(sid)

    async def follow(self, sid: str, last_seq: int = 0) -> None:
        """Events as every connection gets them, and the session's staff-only notes, first those so far."""
        if sid in self.cursors:
            return
        # The notes are read while the events are (one round trip, not two), and still sent after them.
        notes = asyncio.ensure_future(self._staff_notes(sid))
        try:
            await super().follow(sid, last_seq)
        except BaseException:
            with contextlib.suppress(Exception):
                await notes  # not left running behind the failure
            raise
        for note in await notes:
            await self.send(note)

    async def _staff_notes(self, sid: str) -> list[Event]:
        await self.rt.hub.subscribe(self.rt.keys.staff_channel(sid), self._listener)
        return await self.rt.store.notes(sid)

    async def on_lost(self, sids: list[str]) -> None:
        """Redis came back without these chats (restarted empty): each is named, then 1013. The console
        reconnects: without a token (gone too) it asks for the login; otherwise its replay leaves them out."""
        for sid in sids:
            self.monitoring.discard(sid)
            await self.unfollow(sid)
            await self.send(error_frame(ErrorCode.UNKNOWN_SESSION, "this chat is gone from the store", session_id=sid))
        self.close_soon(1013, "try again later")

    async def unfollow(self, sid: str) -> None:
        if sid in self.cursors:
            await self.rt.hub.unsubscribe(self.rt.keys.staff_channel(sid), self._listener)
        await super().unfollow(sid)

    async def on_control(self, channel: str, sid: str, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "whisper":
            if sid in self.cursors:
                await self.send(frame)
            return
        if kind == "typing" and frame.get("sender") == "visitor" and sid in self.cursors:
            await self.send(
                {"type": "typing", "session_id": sid, "sender": "visitor", "active": bool(frame.get("active"))}
            )
        elif kind == "risk" and sid in self.cursors:
            await self.send({"type": "risk", "session_id": sid, "urgent": True, "category": frame.get("category")})
        elif kind == "presence" and sid in self.cursors:
            await self.send({"type": "presence", "session_id": sid, "visitor": frame.get("visitor")})
        elif kind == "transfer_in" and self.principal is not None:
            info = await self.rt.store.get_session(str(frame.get("session_id")))
            if info is not None and info.counselor == str(self.principal.counselor_id):
                await self.send_assigned(info, transfer={"from": frame.get("from"), "note": frame.get("note", "")})
                await self.follow(info.sid, 0)
        elif kind == "transfer_out":
            moved = str(frame.get("session_id"))
            if moved in self.cursors and moved not in self.monitoring:
                await self.unfollow(moved)
                reason = {"reason": frame["reason"]} if "reason" in frame else {}
                await self.send({"type": "transferred", "session_id": moved, "to": frame.get("to"), **reason})
        elif kind == "status":
            keep = ("type", "available", "capacity", "active", "audiences", "languages")
            await self.send({k: frame[k] for k in keep if k in frame})
        elif kind == "revoked" and self.principal is not None:
            if frame.get("token_hash") in ("*", self.principal.token_hash):
                await self.send(error_frame(ErrorCode.UNAUTHORIZED, "your login was revoked"))
                await self.close(1008, "revoked")

    async def send_queues(self, queues: list[dict[str, Any]], text: str | None = None) -> None:
        """The overview, when it changed; ``text`` is the frame already encoded (the watcher's fan-out)."""
        if queues != self.last_queues:
            self.last_queues = queues
            if text is None:
                await self.send({"type": "queues", "queues": queues})
            elif not self.closing:
                self.send_text(text)

    async def send_assigned(self, info: SessionInfo, kind: str = "assigned", **extra: Any) -> None:
        if kind == "assigned" and info.transfer_from is not None:
            # The note of the last transfer, to whoever has the chat now: after a reload, or from the queue.
            extra.setdefault("transfer", {"from": info.transfer_from, "note": info.transfer_note or ""})
        await self.send(
            {
                "type": kind,
                "session_id": info.sid,
                "audience": info.audience,
                "language": info.language,
                "topic": info.topic,
                "urgent": info.urgent,
                "category": info.category,
                "waited_seconds": max(0, ((info.paired_at or info.enqueued_at) - info.enqueued_at) // 1000),
                "visitor": "online" if info.visitor_online else "offline",
                "status": info.status.value,
                **extra,
            }
        )

    @property
    def is_supervisor(self) -> bool:
        return self.principal is not None and self.principal.role in (Role.SUPERVISOR, Role.ADMIN)


async def counselor_endpoint(ws: WebSocket) -> None:
    await run_endpoint(ws, CounselorConnection, parse_counselor, _serve, _cleanup, log)


async def _cleanup(conn: CounselorConnection) -> None:
    rt = conn.rt
    watcher = rt.extras.get("watcher")
    if watcher is not None:
        watcher.counselor_left(conn)
    if conn.principal is not None:
        await rt.hub.unsubscribe(rt.keys.counselor_channel(conn.principal.counselor_id), conn._listener)
        if not any(
            isinstance(c, CounselorConnection)
            and c.principal
            and c.principal.counselor_id == conn.principal.counselor_id
            for c in rt.connections
            if c is not conn
        ):
            with contextlib.suppress(RedisError):
                await rt.store.counselor_offline(conn.principal.counselor_id)
        with contextlib.suppress(RedisError):
            await counselor_left(rt, conn)
    await conn.stop()


async def _authenticate(conn: CounselorConnection, reader: FrameReader) -> Principal:
    rt = conn.rt
    try:
        frame = await reader.next(timeout=rt.settings.first_frame_timeout)
    except TimeoutError:
        await conn.send(
            error_frame(ErrorCode.UNAUTHORIZED, f"expected auth within {rt.settings.first_frame_timeout:g} s")
        )
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
    # Skills first, so that `welcome` is the first frame (the status frames come after it).
    async with rt.db() as db:
        account = await db.get(Counselor, principal.counselor_id)
    skills = Skills.parse(account.skills if account is not None else None)
    await rt.store.set_counselor_skills(principal.counselor_id, skills, rt.settings.token_ttl_seconds)
    await rt.hub.subscribe(rt.keys.counselor_channel(principal.counselor_id), conn._listener)
    # A token revoked between the check and the subscription is caught here.
    if not await rt.tokens.is_valid_hash(principal.token_hash):
        await conn.send(error_frame(ErrorCode.UNAUTHORIZED, "your login was revoked"))
        await conn.close(1008, "revoked")
        return
    await rt.store.heartbeat_counselor(principal.counselor_id, rt.now_ms())
    await conn.send({"type": "welcome", "counselor": {**principal.public(), **skills.public()}})
    await _publish_status(conn)
    watcher = rt.extras.get("watcher")
    if watcher is not None:
        await watcher.counselor_joined(conn)
    for sid in await rt.store.counselor_session_ids(principal.counselor_id):
        info = await rt.store.get_session(sid)
        if info is not None and info.status is SessionStatus.ACTIVE:
            await conn.send_assigned(info)
            await conn.follow(sid, 0)
    # Ended chats whose wrap-up is still open come back too, with their events up to `ended`.
    for sid in await rt.store.awaiting_wrapup(principal.counselor_id):
        info = await rt.store.get_session(sid)
        if info is not None and info.status is SessionStatus.ENDED and info.counselor == str(principal.counselor_id):
            await conn.send_assigned(info)
            await conn.follow(sid, 0)
    # Counted on this instance (the counselor grace stops), and told of chats handed back while away.
    await counselor_joined(rt, conn)
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
                await rt.store.publish_control(
                    frame.session_id,
                    {"type": "typing", "session_id": frame.session_id, "sender": "counselor", "active": frame.active},
                )
        elif isinstance(frame, Receipt):
            # One round trip: the ownership check, the marks and (when they rose) the notice to the visitor.
            marks = await rt.store.receipt(frame.session_id, str(principal.counselor_id), frame.delivered, frame.read)
            if marks is None:
                await _not_yours(conn, frame.session_id)
        elif isinstance(frame, CounselorEnd):
            if await _owns(conn, frame.session_id):
                client = await rt.redis.hget(rt.keys.session(frame.session_id), "client")
                await metrics.end_session(rt, frame.session_id, EndReason.COUNSELOR, rt.now_ms(), queued=False)
                if frame.abusive:
                    await _block(conn, frame.session_id, client.decode() if isinstance(client, bytes) else client)
        elif isinstance(frame, Wrapup):
            wrapup = {"category": frame.category.value, "risk": frame.risk.value, "referral": frame.referral.value}
            if await rt.store.save_wrapup(frame.session_id, principal.counselor_id, wrapup, rt.now_ms()):
                await conn.send({"type": "wrapup_saved", "session_id": frame.session_id})
            else:
                await conn.send(
                    error_frame(
                        ErrorCode.NOT_IN_SESSION,
                        "this session is not yours (or is archived)",
                        session_id=frame.session_id,
                    )
                )
        elif isinstance(frame, Status):
            await rt.store.set_counselor_status(
                principal.counselor_id, frame.available, frame.capacity, rt.settings.token_ttl_seconds
            )
            if frame.audiences is not None or frame.languages is not None:
                await _set_skills(conn, frame)
            await _publish_status(conn)
        elif isinstance(frame, Transfer):
            await _transfer(conn, frame)
        elif isinstance(frame, Whisper):
            await _whisper(conn, reader, frame)
        elif isinstance(frame, Monitor):
            await _monitor(conn, frame.session_id)
        elif isinstance(frame, Unmonitor):
            if frame.session_id in conn.monitoring:
                conn.monitoring.discard(frame.session_id)
                await conn.unfollow(frame.session_id)
        elif isinstance(frame, Auth):
            await reader.strike(ErrorCode.BAD_REQUEST, "already authenticated")


async def _block(conn: CounselorConnection, sid: str, client: str | None) -> None:
    """The chat was ended as abusive: refuse new chats from its client hash for a while; audited, no text."""
    rt = conn.rt
    assert conn.principal is not None
    if client:
        await rt.blocks.block(client, by=conn.principal.username, now_ms=rt.now_ms(), seconds=rt.settings.block_seconds)
    async with rt.db() as db:
        db.add(AuditEntry(actor=conn.principal.username, action="block", session_id=sid))
        await db.commit()
    await conn.send({"type": "blocked", "session_id": sid, "block_seconds": rt.settings.block_seconds})


async def _owns(conn: CounselorConnection, sid: str, **extra: Any) -> bool:
    assert conn.principal is not None
    info = await conn.rt.store.get_session(sid)
    if info is None or info.counselor != str(conn.principal.counselor_id) or info.status is not SessionStatus.ACTIVE:
        await _not_yours(conn, sid, **extra)
        return False
    return True


async def _not_yours(conn: CounselorConnection, sid: str, **extra: Any) -> None:
    await conn.send(error_frame(ErrorCode.NOT_IN_SESSION, "this session is not yours", session_id=sid, **extra))


async def _accept(conn: CounselorConnection, frame: Accept) -> None:
    """One round trip (the accept script, which also tells the counselor's consoles their new load) and the
    reply; then the chat's history (on a cluster also the status)."""
    rt = conn.rt
    assert conn.principal is not None
    me = conn.principal
    now = rt.now_ms()
    got = await rt.store.accept(
        me.counselor_id,
        me.display_name,
        now,
        default_capacity=rt.settings.default_capacity,
        idle_deadline_ms=now + int(rt.settings.idle_timeout_seconds * 1000),
        audience=frame.audience.value if frame.audience else None,
        language=frame.language.value if frame.language else None,
    )
    if got.verdict == "unavailable":
        await conn.send(
            error_frame(
                ErrorCode.FORBIDDEN, "set yourself available to accept chats", reason="unavailable", **{"for": "accept"}
            )
        )
        return
    if got.verdict == "full":
        await conn.send(
            error_frame(ErrorCode.FORBIDDEN, "you are at your capacity", reason="at_capacity", **{"for": "accept"})
        )
        return
    if got.info is None or got.skills is None:
        await conn.send(
            error_frame(ErrorCode.QUEUE_EMPTY, "nobody is waiting in the queues you take", **{"for": "accept"})
        )
        return
    await metrics.session_paired(rt, got.info, rt.now_ms())
    if not got.info.visitor_online:
        # Taken while away on the longer queued grace: from now on a chat waits the active grace (xx: only
        # while the timer runs, so a visitor who came back meanwhile gets none).
        deadline = rt.now_ms() + int(rt.settings.visitor_grace_seconds * 1000)
        await rt.redis.zadd(rt.keys.grace_timers, {got.info.sid: deadline}, xx=True)
    # "for": this answers the console's accept, even when it carries the kept note of an earlier transfer.
    await conn.send_assigned(got.info, **{"for": "accept"})
    if got.status_sent:
        await conn.follow(got.info.sid, 0)  # the new load went to the counselor's consoles with the claim
        return
    # The chat's history and the new load for the counselor's consoles do not wait for each other:
    # the console's next frame is read once both are done, so they take one round trip, not two.
    await asyncio.gather(
        conn.follow(got.info.sid, 0),
        rt.store.publish_status_frame(
            me.counselor_id, available=True, capacity=got.capacity, active=got.active, skills=got.skills
        ),
    )


async def _set_skills(conn: CounselorConnection, frame: Status) -> None:
    """The counselor chooses which audiences and languages they take: kept in SQL and, for claims, in Redis."""
    rt = conn.rt
    assert conn.principal is not None
    current = await rt.store.counselor_skills(conn.principal.counselor_id)
    skills = Skills(
        frozenset(frame.audiences) if frame.audiences is not None else current.audiences,
        frozenset(frame.languages) if frame.languages is not None else current.languages,
    )
    async with rt.db() as db:
        account = await db.get(Counselor, conn.principal.counselor_id)
        if account is not None:
            account.skills = skills.dump()
            await db.commit()
    await rt.store.set_counselor_skills(conn.principal.counselor_id, skills, rt.settings.token_ttl_seconds)
    watcher = rt.extras.get("watcher")
    if watcher is not None:
        watcher.changed()


async def _publish_status(conn: CounselorConnection) -> None:
    """Tell every console of this counselor their availability, capacity, load and skills."""
    assert conn.principal is not None
    await conn.rt.store.publish_counselor_status(conn.principal.counselor_id, conn.rt.settings.default_capacity)


async def _transfer(conn: CounselorConnection, frame: Transfer) -> None:
    rt = conn.rt
    assert conn.principal is not None
    me = conn.principal
    target: Counselor | None = None
    if frame.to is not None:
        async with rt.db() as db:
            target = await accounts.find(db, frame.to)
        if target is None or not target.active or target.id == me.counselor_id:
            await conn.send(error_frame(ErrorCode.FORBIDDEN, "no such colleague", session_id=frame.session_id))
            return
        now = rt.now_ms()
        available, capacity = await rt.store.counselor_status(target.id, rt.settings.default_capacity)
        online = await rt.redis.zscore(rt.keys.counselors_online, str(target.id))
        if (
            not available
            or online is None
            or float(online) < now - 60_000
            or await rt.store.active_count(target.id) >= capacity
        ):
            await conn.send(
                error_frame(ErrorCode.FORBIDDEN, "that colleague is not available", session_id=frame.session_id)
            )
            return
    result = await rt.store.transfer(
        frame.session_id,
        me.counselor_id,
        target.id if target else None,
        target.display_name if target else None,
        rt.now_ms(),
        utc_now_iso(),
        from_name=me.display_name,
        note=frame.note,
    )
    if result.code < 0:
        await conn.send(error_frame(ErrorCode.NOT_IN_SESSION, "this session is not yours", session_id=frame.session_id))
        return
    to = target.username if target else None
    # Every console of the sender lets go of the chat; the colleague's consoles take it up.
    await rt.store.publish(
        rt.keys.counselor_channel(me.counselor_id),
        json.dumps({"type": "transfer_out", "session_id": frame.session_id, "to": to}),
    )
    if target is not None:
        await rt.store.publish(
            rt.keys.counselor_channel(target.id),
            json.dumps(
                {"type": "transfer_in", "session_id": frame.session_id, "from": me.display_name, "note": frame.note}
            ),
        )
        await rt.store.publish_control(
            frame.session_id,
            {"type": "paired", "session_id": frame.session_id, "counselor_name": target.display_name, "handover": True},
        )
    await _publish_status(conn)


async def _monitor(conn: CounselorConnection, sid: str) -> None:
    rt = conn.rt
    assert conn.principal is not None
    if not conn.is_supervisor:
        await conn.send(error_frame(ErrorCode.FORBIDDEN, "only supervisors may monitor chats", session_id=sid))
        return
    info = await rt.store.get_session(sid)
    if info is None or info.status is SessionStatus.ENDED:
        await conn.send(error_frame(ErrorCode.UNKNOWN_SESSION, "no such active chat", session_id=sid))
        return
    async with rt.db() as db:
        # A console that reconnects opens the same chat again: one entry per opening within ten minutes.
        recent = (
            await db.execute(
                select(AuditEntry.id).where(
                    AuditEntry.actor == conn.principal.username,
                    AuditEntry.action == "monitor",
                    AuditEntry.session_id == sid,
                    AuditEntry.at > datetime.now(UTC) - timedelta(minutes=10),
                )
            )
        ).first()
        if recent is None:
            db.add(AuditEntry(actor=conn.principal.username, action="monitor", session_id=sid))
            await db.commit()
    conn.monitoring.add(sid)
    await conn.send_assigned(info, kind="monitoring", counselor_name=info.counselor_name)
    await conn.follow(sid, 0)


async def _say(conn: CounselorConnection, reader: FrameReader, frame: CounselorMessage | CounselorResource) -> None:
    rt = conn.rt
    assert conn.principal is not None
    event: dict[str, Any]
    if isinstance(frame, CounselorMessage):
        text = await _checked_text(reader, frame.text, frame.client_id)
        if text is None:
            return
        event = {
            "type": "message",
            "session_id": frame.session_id,
            "sender": "counselor",
            "text": text,
            "ts": utc_now_iso(),
            "client_id": frame.client_id,
        }
    else:
        # Someone else's session is not_in_session whatever the snippet_id (the append checks again).
        if not await _owns(conn, frame.session_id, client_id=frame.client_id):
            return
        snippet = await _snippet(rt, frame.snippet_id)
        if snippet is None:
            await reader.strike(ErrorCode.BAD_REQUEST, "unknown or inactive snippet_id", client_id=frame.client_id)
            return
        event = {
            "type": "resource",
            "session_id": frame.session_id,
            "sender": "counselor",
            "ts": utc_now_iso(),
            "client_id": frame.client_id,
            "snippet": snippet,
        }
    now = rt.now_ms()
    result = await rt.store.append(
        frame.session_id,
        event,
        client_id=frame.client_id,
        owner=str(conn.principal.counselor_id),
        allowed=(SessionStatus.ACTIVE,),
        now_ms=now,
    )
    if result.code == SESSION_FULL:
        await reader.strike(
            ErrorCode.TOO_LARGE,
            "this chat is full",
            session_id=frame.session_id,
            client_id=frame.client_id,
            reason="session_full",
        )
        return
    if result.code < 0:
        await conn.send(
            error_frame(
                ErrorCode.NOT_IN_SESSION,
                "this session is not yours" if result.code == NOT_OWNER else "this session is not active",
                session_id=frame.session_id,
                client_id=frame.client_id,
            )
        )
        return
    # No idle timer update here: the append keeps last_activity, which the sweeper reads when the timer is due.
    await conn.send({"type": "ack", "session_id": frame.session_id, "client_id": frame.client_id, "seq": result.seq})


async def _checked_text(reader: FrameReader, raw: str, client_id: str) -> str | None:
    """The text to store, or None after telling the counselor why not (too long, or empty)."""
    limit = reader.conn.rt.settings.max_text_chars
    if len(raw) > limit:
        await reader.strike(ErrorCode.TOO_LARGE, f"text is longer than {limit} characters", client_id=client_id)
        return None
    if not raw.strip():
        await reader.strike(ErrorCode.BAD_REQUEST, "text is empty", client_id=client_id)
        return None
    return raw.strip()


async def _whisper(conn: CounselorConnection, reader: FrameReader, frame: Whisper) -> None:
    """A private note between the chat's counselor and supervisors: stored with the session, shown to staff
    who follow it, kept (redacted) in the transcript, and never sent to the visitor."""
    rt = conn.rt
    assert conn.principal is not None
    text = await _checked_text(reader, frame.text, frame.client_id)
    if text is None:
        return
    info = await rt.store.get_session(frame.session_id)
    own = info is not None and info.counselor == str(conn.principal.counselor_id)
    watching = frame.session_id in conn.monitoring and conn.is_supervisor
    if info is None or info.status is not SessionStatus.ACTIVE or not (own or watching):
        await conn.send(
            error_frame(
                ErrorCode.NOT_IN_SESSION,
                "whisper in your own active chat, or in one you monitor",
                session_id=frame.session_id,
                client_id=frame.client_id,
            )
        )
        return
    note = {
        "type": "whisper",
        "session_id": frame.session_id,
        "sender": "counselor" if own else "supervisor",
        "name": conn.principal.display_name,
        "text": text,
        "ts": utc_now_iso(),
        "client_id": frame.client_id,
    }
    result = await rt.store.add_note(frame.session_id, note, client_id=frame.client_id)
    if result.code < 0:
        await conn.send(
            error_frame(
                ErrorCode.NOT_IN_SESSION,
                "this session is not active",
                session_id=frame.session_id,
                client_id=frame.client_id,
            )
        )
        return
    await conn.send(
        {"type": "whisper_ack", "session_id": frame.session_id, "client_id": frame.client_id, "note_id": result.seq}
    )
    if own and result.code == 1:
        # Every supervisor hears that someone asks; the words stay in the chat, for whoever opens it.
        await rt.store.publish_supervisors(
            {
                "type": "whisper",
                "session_id": frame.session_id,
                "audience": info.audience,
                "language": info.language,
                "counselor_name": info.counselor_name,
            }
        )


async def _snippet(rt: Runtime, snippet_id: str) -> dict[str, Any] | None:
    lookup = rt.extras.get("snippet_lookup")
    if lookup is None:
        return None
    result: dict[str, Any] | None = await lookup(snippet_id)
    return result
