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
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from chat.eta import shown_eta
from chat.services import metrics
from chat.services.auth import Principal
from chat.services.runtime import Runtime
from chat.sessions import EndReason, SessionStatus
from chat.skills import Skills
from chat.ws.connection import dumps

log = logging.getLogger("chat.ws.watcher")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# What the watcher needs of the endpoints' connections, so that it does not
# import the endpoints (which import it).
class VisitorConnection(Protocol):
    sid: str | None
    status: SessionStatus | None
    audience: str
    language: str
    closing: bool
    # What the visitor's widget shows of the last `queue` frame: (position, shown_eta(eta), nobody_online).
    last_queue: tuple[int, int | str | None, bool] | None

    async def send_queue(
        self, position: int | None, eta: int | None, nobody_online: bool = False, text: str | None = None
    ) -> None: ...


class CounselorConnection(Protocol):
    principal: Principal | None
    last_queues: list[dict[str, Any]] | None  # the overview last sent
    alerted: dict[tuple[str, str], int]
    closing: bool

    @property
    def is_supervisor(self) -> bool: ...

    async def send(self, frame: dict[str, Any]) -> None: ...

    async def send_queues(self, queues: list[dict[str, Any]], text: str | None = None) -> None: ...


REFRESH_SECONDS = 5.0
# Rounds of updates. A change starts a round after COALESCE_SECONDS (changes close together make one),
# but never sooner than the interval after the last round began, nor sooner than ROUND_SHARE times its
# own cost after it ended: under a burst of pairings (every queued visitor moves on each accept) a
# queued visitor gets at most one `queue` frame per VISITOR_ROUND_SECONDS, the consoles one overview per
# OVERVIEW_ROUND_SECONDS, and the rounds take at most about 1 / (1 + ROUND_SHARE) of the loop. A round's
# cost counts the socket writes it queued (done by each socket's writer after the round), at about
# WRITE_SECONDS each (measured: uvicorn's websocket send of a small frame, bench_pairing.py's profile).
COALESCE_SECONDS = 0.05
VISITOR_ROUND_SECONDS = 2.0
OVERVIEW_ROUND_SECONDS = 0.25
ROUND_SHARE = 4
WRITE_SECONDS = 30e-6
# Counselors' skills, read from Redis for the overview's "skilled_online", are kept this long
# (a change on this instance clears them at once; one on another instance shows within this time).
SKILLS_TTL_MS = 5_000
# Up to this many visitors, positions are read one ZRANK each rather than whole queues.
FEW_VISITORS = 8
HEARTBEAT_SECONDS = 20.0
# Hellos this close together share one read of the wait estimate and of who is online (a surge reads it
# once, not per hello); any change that moves visitors, or a counselor coming or going here, reads it anew.
JOIN_ESTIMATE_SECONDS = 1.0
ALERT_REPEAT_MS = 60_000


class Watcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.visitors: dict[str, VisitorConnection] = {}
        self.counselors: set[CounselorConnection] = set()
        # "The queues changed", once for the visitors' rounds and once for the consoles' overview.
        self._changed = asyncio.Event()
        self._overview_changed = asyncio.Event()
        self._moved = False  # a change since the last visitors' round that may move a queued visitor
        self.moves = 0  # such changes heard so far (a hello that read its place before one reads it again)
        self._full_round_at = 0.0  # when the visitors' round last ran (a plain hello does not start one)
        # (when made, wait estimates, nobody online) for the visitors who join within JOIN_ESTIMATE_SECONDS
        self._join_estimate: tuple[float, Callable[[int], int | None], bool] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # counselor id -> (when read, the queues they take)
        self._skills: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {}
        self._stopping = False

    async def start(self) -> None:
        await self.rt.hub.subscribe(self.rt.keys.queue_channel, self._on_change)
        await self.rt.hub.subscribe(self.rt.keys.supervisors_channel, self._on_supervisor_alert)
        self._tasks = [
            asyncio.create_task(
                self._rounds(self._changed, VISITOR_ROUND_SECONDS, self.visitor_round, "queue watcher"),
                name="queue-watcher",
            ),
            asyncio.create_task(
                self._rounds(self._overview_changed, OVERVIEW_ROUND_SECONDS, self.overview_round, "queue overview"),
                name="queue-overview",
            ),
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
        # A visitor queued at the tail (a hello that is not urgent) moves nobody's place: that change is for
        # the counselors' overview (the visitor hears their own place from visitor_joined).
        if data not in (b"enqueued", "enqueued"):
            self._moved = True
            self.moves += 1
            self._join_estimate = None
        self._changed.set()
        self._overview_changed.set()

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

    async def visitor_joined(
        self, conn: VisitorConnection, position: int | None = None, moves: int | None = None
    ) -> None:
        """A queued visitor to keep informed, told their place now. ``position``: the place as the caller read
        it (the hello's create step) when no change that moves visitors was heard since (``moves``, the
        count of :attr:`moves` before that read); then the wait estimate of a surge of hellos is read once."""
        assert conn.sid is not None
        self.visitors[conn.sid] = conn
        if position is None or moves != self.moves or conn.status is not SessionStatus.QUEUED or conn.closing:
            await self.update_visitors([conn])
            return
        now = asyncio.get_running_loop().time()
        cached = self._join_estimate
        if cached is None or now - cached[0] > JOIN_ESTIMATE_SECONDS:
            nobody_online = await self.rt.store.counselors_online(self.rt.now_ms()) == 0
            cached = self._join_estimate = (now, await self.estimator(), nobody_online)
        await conn.send_queue(position, cached[1](position), cached[2])

    async def counselor_joined(self, conn: CounselorConnection) -> None:
        self.counselors.add(conn)
        self._join_estimate = None
        await conn.send_queues(await self.queues_frame())

    def counselor_left(self, conn: CounselorConnection) -> None:
        self.counselors.discard(conn)
        self._join_estimate = None

    # -- queues ----------------------------------------------------------------------
    def changed(self) -> None:
        """Something the queue overview shows changed (such as a counselor's skills): update soon."""
        self._skills.clear()
        self._join_estimate = None
        self._changed.set()
        self._overview_changed.set()

    async def skilled_online(self, now_ms: int, horizon_ms: int = 60_000) -> dict[tuple[str, str], int]:
        """Per queue, how many counselors online take it: ``RedisStore.skilled_online`` with the skills
        kept for SKILLS_TTL_MS, so a round reads only the online set, not one hash per counselor."""
        rt = self.rt
        ids = [_text(x) for x in await rt.redis.zrangebyscore(rt.keys.counselors_online, now_ms - horizon_ms, "+inf")]
        stale = [cid for cid in ids if now_ms - self._skills.get(cid, (-SKILLS_TTL_MS, ()))[0] >= SKILLS_TTL_MS]
        if stale:
            async with rt.redis.pipeline(transaction=False) as pipe:
                for cid in stale:
                    pipe.hget(rt.keys.counselor_state(int(cid)), "skills")
                raw = await pipe.execute()
            for cid, text in zip(stale, raw, strict=True):
                self._skills[cid] = (now_ms, tuple(Skills.parse(_text(text or "")).queues()))
        if len(self._skills) > 2 * len(ids) + 100:
            online = set(ids)
            self._skills = {cid: entry for cid, entry in self._skills.items() if cid in online}
        counts: dict[tuple[str, str], int] = {}
        for cid in ids:
            for queue in self._skills[cid][1]:
                counts[queue] = counts.get(queue, 0) + 1
        return counts

    async def queues_frame(self) -> list[dict[str, Any]]:
        now = self.rt.now_ms()
        skilled = await self.skilled_online(now)
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

    async def update_visitors(self, conns: list[VisitorConnection]) -> int:
        """Send each of ``conns`` still queued its position and estimate, when what its widget shows changed.

        One ZRANGE per queue (a ZRANK each for a few), one read of the recent pairings, and each distinct
        frame encoded once; a visitor whose place and shown estimate did not move gets nothing. Returns
        how many frames it queued.
        """
        live: list[VisitorConnection] = []
        for conn in conns:
            if conn.sid and conn.status is SessionStatus.QUEUED and not conn.closing:
                live.append(conn)
            elif conn.sid and self.visitors.get(conn.sid) is conn:
                del self.visitors[conn.sid]
        if not live:
            return 0
        positions = await self.positions(live)
        estimate = await self.estimator()
        nobody_online = await self.rt.store.counselors_online(self.rt.now_ms()) == 0
        etas: dict[int, int | None] = {}
        texts: dict[tuple[int, int | None], str] = {}
        sent = 0
        for conn in live:
            position = positions.get(conn.sid or "")
            if position is None:
                continue
            if position in etas:
                eta = etas[position]
            else:
                eta = etas[position] = estimate(position)
            shown = (position, shown_eta(eta), nobody_online)
            if conn.last_queue == shown:
                continue  # what this visitor sees would not change
            text = texts.get((position, eta))
            if text is None:
                frame = {"type": "queue", "position": position, "eta_seconds": eta, "nobody_online": nobody_online}
                text = texts[(position, eta)] = dumps(frame)
            await conn.send_queue(position, eta, nobody_online, text)
            sent += 1
        return sent

    async def visitor_round(self) -> int:
        """Every queued visitor's place and estimate, after a change that may move visitors, and at least every
        REFRESH_SECONDS (estimates age); a burst of plain hellos at the tail starts none (it moves nobody)."""
        now = asyncio.get_running_loop().time()
        moved, self._moved = self._moved, False
        if not moved and now - self._full_round_at < REFRESH_SECONDS / 2:
            return 0
        self._full_round_at = now
        return await self.update_visitors(list(self.visitors.values()))

    async def overview_round(self) -> int:
        webhook = self.rt.extras.get("alert_webhook")
        if self.counselors or webhook is not None:
            frame = await self.queues_frame()
            # Encoded once for every console (each still gets it only when it changed).
            text = dumps({"type": "queues", "queues": frame})
            sent = 0
            for conn in list(self.counselors):
                sent += conn.last_queues != frame
                await conn.send_queues(frame, text)
            await self.alert_supervisors(frame)
            return sent
        return 0

    async def positions(self, conns: list[VisitorConnection]) -> dict[str, int | None]:
        """Queue positions: a ZRANK each for a few visitors (one who just said hello), one ZRANGE
        per queue for a whole round; a hello must not read the whole queue."""
        if len(conns) > FEW_VISITORS:
            return await self.rt.store.positions([(c.sid or "", c.audience, c.language) for c in conns])
        rt = self.rt
        async with rt.redis.pipeline(transaction=False) as pipe:
            for c in conns:
                pipe.zrank(rt.keys.queue(c.audience, c.language), c.sid or "")
            ranks = await pipe.execute()
        return {c.sid or "": None if rank is None else int(rank) + 1 for c, rank in zip(conns, ranks, strict=True)}

    async def _rounds(
        self, changed: asyncio.Event, interval: float, work: Callable[[], Awaitable[int]], component: str
    ) -> None:
        """Run ``work`` after each change (and every REFRESH_SECONDS), spaced as the constants above say."""
        loop = asyncio.get_running_loop()
        next_at = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), REFRESH_SECONDS)
            # The flag is cleared after the pause, so what changed during it is in this round.
            await asyncio.sleep(max(COALESCE_SECONDS, next_at - loop.time()))
            changed.clear()
            started = loop.time()
            try:
                writes = await work()
            except RedisError as exc:
                self.rt.outage.failed(component, exc)
                await asyncio.sleep(1)
                continue
            except Exception:
                log.exception("%s: update failed", component)
                await asyncio.sleep(1)
                continue
            ended = loop.time()
            cost = ended - started + writes * WRITE_SECONDS
            # A round that sent nothing (the 5 s refresh, mostly) holds back nobody's next frame.
            next_at = max(started + interval if writes else 0.0, ended + ROUND_SHARE * cost)
            self.rt.outage.recovered(component)

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
            except RedisError as exc:
                self.rt.outage.failed("sweeper", exc)
                continue
            except Exception:
                log.exception("sweeper: failed")
                continue
            self.rt.outage.recovered("sweeper")

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            ids = {c.principal.counselor_id for c in self.counselors if c.principal is not None}
            for counselor_id in ids:
                with contextlib.suppress(Exception):
                    await self.rt.store.heartbeat_counselor(counselor_id, self.rt.now_ms())
