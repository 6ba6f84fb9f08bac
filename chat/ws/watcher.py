"""Background work of each server instance: queue updates and the timers.

The queue watcher listens for "the queues changed" and sends each local
queued visitor its position and ETA, and each local counselor the overview,
only when the numbers changed. The sweeper ends sessions whose grace period
or idle time ran out (and queued sessions that never wrote anything, after
``CHAT_QUEUED_SILENT_TIMEOUT_SECONDS``); every instance sweeps, and a ZREM decides which one
acts on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from chat.services import metrics
from chat.services.auth import Principal
from chat.services.runtime import Runtime
from chat.sessions import EndReason, SessionStatus

log = logging.getLogger("chat.ws.watcher")


# What the watcher needs of the endpoints' connections, so that it does not
# import the endpoints (which import it).
class VisitorConnection(Protocol):
    sid: str | None
    status: SessionStatus | None
    audience: str
    language: str
    closing: bool

    async def send_queue(self, position: int | None, eta: int | None, nobody_online: bool = False) -> None: ...


class CounselorConnection(Protocol):
    principal: Principal | None
    alerted: dict[tuple[str, str], int]
    closing: bool

    @property
    def is_supervisor(self) -> bool: ...

    async def send(self, frame: dict[str, Any]) -> None: ...

    async def send_queues(self, queues: list[dict[str, Any]]) -> None: ...


REFRESH_SECONDS = 5.0
HEARTBEAT_SECONDS = 20.0
ALERT_REPEAT_MS = 60_000


class Watcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.visitors: dict[str, VisitorConnection] = {}
        self.counselors: set[CounselorConnection] = set()
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        await self.rt.hub.subscribe(self.rt.keys.queue_channel, self._on_change)
        await self.rt.hub.subscribe(self.rt.keys.supervisors_channel, self._on_supervisor_alert)
        self._tasks = [
            asyncio.create_task(self._queue_loop(), name="queue-watcher"),
            asyncio.create_task(self._sweep_loop(), name="sweeper"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
        ]

    async def stop(self) -> None:
        # A cancel that lands as an awaited call completes can be lost (asyncio.wait_for in Python 3.11, and
        # library code that retries): the loops also check `_stopping`, and each task is cancelled until it
        # ends, so a shutdown never waits on a loop that swallowed its cancel.
        self._stopping = True
        for task in self._tasks:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()

    def _on_change(self, channel: str, data: bytes) -> None:
        self._changed.set()

    async def _on_supervisor_alert(self, channel: str, data: bytes) -> None:
        """A risk raised in an active chat, or a counselor asking for help, on any instance: every
        supervisor here hears of it at once (the reason, never the words)."""
        alert = json.loads(data)
        reason = "whisper" if alert.get("type") == "whisper" else "risk"
        webhook = self.rt.extras.get("alert_webhook")
        if webhook is not None and reason == "risk":
            # Counts and the queue only: the session id stays out of the ops channel.
            await webhook.offer(
                "risk_in_chat",
                str(alert.get("session_id")),
                24 * 3600,
                audience=alert.get("audience"),
                language=alert.get("language"),
            )
        frame = {
            "type": "alert",
            "reason": reason,
            **{k: alert[k] for k in ("session_id", "category", "audience", "language", "counselor_name") if k in alert},
        }
        for conn in list(self.counselors):
            if conn.is_supervisor and not conn.closing:
                await conn.send(frame)

    async def visitor_joined(self, conn: VisitorConnection) -> None:
        assert conn.sid is not None
        self.visitors[conn.sid] = conn
        await self.update_visitors([conn])

    async def counselor_joined(self, conn: CounselorConnection) -> None:
        self.counselors.add(conn)
        await conn.send_queues(await self.queues_frame())

    def counselor_left(self, conn: CounselorConnection) -> None:
        self.counselors.discard(conn)

    # -- queues ----------------------------------------------------------------------
    def changed(self) -> None:
        """Something the queue overview shows changed (such as a counselor's skills): update soon."""
        self._changed.set()

    async def queues_frame(self) -> list[dict[str, Any]]:
        now = self.rt.now_ms()
        skilled = await self.rt.store.skilled_online(now)
        return [
            {
                "audience": s.audience,
                "language": s.language,
                "waiting": s.waiting,
                "urgent": s.urgent,
                "urgent_categories": list(s.urgent_categories),
                "longest_wait_seconds": (max(0, (now - s.oldest_ms) // 1000) if s.oldest_ms is not None else 0),
                # How many counselors online take this queue: 0 shows a queue that nobody can answer.
                "skilled_online": skilled.get((s.audience, s.language), 0),
                "longest_urgent_wait_seconds": (
                    max(0, (now - s.urgent_oldest_ms) // 1000) if s.urgent_oldest_ms is not None else 0
                ),
            }
            for s in await self.rt.store.queue_stats()
        ]

    async def estimator(self) -> Callable[[int], int | None]:
        """Wait estimates for this round of updates: the recent pairings are read once, not per visitor."""
        make = self.rt.extras.get("wait_estimator")
        if make is None:
            return lambda position: None
        result: Callable[[int], int | None] = await make()
        return result

    async def update_visitors(self, conns: list[VisitorConnection]) -> None:
        live = [c for c in conns if c.sid and c.status is SessionStatus.QUEUED and not c.closing]
        for conn in conns:
            if conn not in live and conn.sid:
                self.visitors.pop(conn.sid, None)
        if not live:
            return
        positions = await self.rt.store.positions([(c.sid or "", c.audience, c.language) for c in live])
        nobody_online = await self.rt.store.counselors_online(self.rt.now_ms()) == 0
        eta = await self.estimator()
        for conn in live:
            position = positions.get(conn.sid or "")
            if position is None:
                continue
            await conn.send_queue(position, eta(position), nobody_online)

    async def _queue_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), REFRESH_SECONDS)
            self._changed.clear()
            # Many changes close together make one update.
            await asyncio.sleep(0.05)
            try:
                await self.update_visitors(list(self.visitors.values()))
                webhook = self.rt.extras.get("alert_webhook")
                if self.counselors or webhook is not None:
                    frame = await self.queues_frame()
                    for conn in list(self.counselors):
                        await conn.send_queues(frame)
                    await self.alert_supervisors(frame)
            except Exception:
                log.exception("queue watcher: update failed")
                await asyncio.sleep(1)

    def overdue(self, q: dict[str, Any]) -> str | None:
        """Whether a queue's wait calls for supervisors: "urgent_wait" (an urgent visitor past the
        shorter threshold), "long_wait" (anyone past the normal one), or None."""
        settings = self.rt.settings
        if q["urgent"] and q["longest_urgent_wait_seconds"] >= settings.alert_urgent_after_seconds:
            return "urgent_wait"
        if q["waiting"] and q["longest_wait_seconds"] >= settings.alert_after_seconds:
            return "long_wait"
        return None

    async def alert_supervisors(self, queues: list[dict[str, Any]]) -> None:
        """Tell supervisors about a wait past the threshold, once a minute while it lasts; urgent
        visitors sooner. Supervisors who are not logged in hear of it through the webhook."""
        now = self.rt.now_ms()
        webhook = self.rt.extras.get("alert_webhook")
        for q in queues:
            kind = self.overdue(q)
            key = (q["audience"], q["language"])
            if kind is not None and webhook is not None:
                await webhook.offer(
                    kind,
                    f"{q['audience']}:{q['language']}",
                    ALERT_REPEAT_MS // 1000,
                    **{
                        k: q[k]
                        for k in (
                            "audience",
                            "language",
                            "waiting",
                            "urgent",
                            "longest_wait_seconds",
                            "longest_urgent_wait_seconds",
                        )
                    },
                )
            for conn in list(self.counselors):
                if not conn.is_supervisor:
                    continue
                if kind is None:
                    conn.alerted.pop(key, None)
                elif now - conn.alerted.get(key, 0) >= ALERT_REPEAT_MS:
                    conn.alerted[key] = now
                    await conn.send(
                        {
                            "type": "alert",
                            "reason": "wait",
                            "audience": q["audience"],
                            "language": q["language"],
                            "urgent": q["urgent"],
                            "longest_wait_seconds": q["longest_wait_seconds"],
                            "longest_urgent_wait_seconds": q["longest_urgent_wait_seconds"],
                        }
                    )

    # -- timers ----------------------------------------------------------------------------
    async def sweep_once(self) -> int:
        """End sessions whose grace period or idle time ran out. Returns how many ended."""
        rt = self.rt
        now = rt.now_ms()
        ended = 0
        for sid in await rt.store.due_timers(rt.keys.grace_timers, now):
            if await rt.redis.zrem(rt.keys.grace_timers, sid):
                later = await self._grace_deadline(sid, now)
                if later is not None:
                    await rt.redis.zadd(rt.keys.grace_timers, {sid: later})
                    continue
                result = await metrics.end_session(rt, sid, EndReason.TIMEOUT, now, require_offline=True)
                ended += result.code == 1
        idle_ms = int(rt.settings.idle_timeout_seconds * 1000)
        for sid in await rt.store.due_timers(rt.keys.idle_timers, now):
            if not await rt.redis.zrem(rt.keys.idle_timers, sid):
                continue
            status, seq, raw = await rt.redis.hmget(rt.keys.session(sid), ["status", "seq", "last_activity"])
            if raw is None:
                continue
            limit_ms = idle_ms
            if status in (b"queued", "queued"):
                if int(seq or 0) > 0:
                    continue  # a queued visitor who wrote something waits as long as it takes
                # Queued and never wrote anything: a flood of empty hellos must not hold the queue for ever.
                limit_ms = int(rt.settings.queued_silent_timeout_seconds * 1000)
            deadline = int(raw) + limit_ms
            if deadline > now:
                await rt.store.touch_idle(sid, deadline)
                continue
            result = await metrics.end_session(rt, sid, EndReason.TIMEOUT, now)
            ended += result.code == 1
        return ended

    async def _grace_deadline(self, sid: str, now: int) -> int | None:
        """A later deadline when the session's state changed while its visitor was away, else None.

        The timer was set for the state at the drop: a queued visitor who is paired while away gets the
        active grace from the pairing, and an active chat handed back to the queue the queued grace.
        """
        rt = self.rt
        status, away, paired = await rt.redis.hmget(rt.keys.session(sid), ["status", "away_since", "paired_at"])
        if status is None or away is None:
            return None
        if status in (b"queued", "queued"):
            deadline = int(away) + int(rt.settings.queued_grace_seconds * 1000)
        elif status in (b"active", "active"):
            deadline = max(int(away), int(paired or 0)) + int(rt.settings.visitor_grace_seconds * 1000)
        else:
            return None
        return deadline if deadline > now else None

    async def _sweep_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.rt.settings.sweep_interval)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweeper: failed")

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            ids = {c.principal.counselor_id for c in self.counselors if c.principal is not None}
            for counselor_id in ids:
                with contextlib.suppress(Exception):
                    await self.rt.store.heartbeat_counselor(counselor_id, self.rt.now_ms())
