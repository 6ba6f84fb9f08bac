"""This instance's heartbeat, and what happens when an instance or a counselor is gone.

Every process has an instance id and refreshes its heartbeat key every
``CHAT_INSTANCE_HEARTBEAT_SECONDS``; the key lives ``CHAT_INSTANCE_TTL_SECONDS``. The sockets it
holds are counted per instance (``chat.store.instances``). Each beat also looks for instances whose
key expired: one living instance claims a dead one (a lease) and drops its share of every visitor's
and counselor's sockets, as if they had closed at its last heartbeat. A visitor left with no socket
gets the usual grace period (the queued grace while queued) and their counselor the usual
``presence`` offline; a counselor left with no socket starts the counselor grace.

A counselor whose sockets are all gone for ``CHAT_COUNSELOR_GRACE_SECONDS`` (a close anywhere, or a
dead instance) has their open chats handed back to the head of their queues, urgent ones first: the
visitor gets the ``handover`` event and is paired with the next counselor as usual, and the counselor
is told on return (``transferred`` with ``reason: "counselor_lost"``). Every instance sweeps these
timers; a ZREM decides which one acts.

A graceful stop (SIGTERM, after the drain) hands its counts over in bulk (:meth:`InstanceKeeper.hand_over_soon`):
every socket still counted here is uncounted in a few pipelines of one script per session or counselor
(each in its own slot: fine on a cluster), followed by one pipeline of the indexes, grace timers and
``presence`` offline notices, exactly what each socket's own cleanup would have done one round trip at a
time. The sockets' cleanup then finds nothing left to uncount. The stop itself hands over whatever is still
counted (a handler cancelled at uvicorn's graceful timeout), so no visitor stays online without a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import Counter
from typing import Any, cast

from redis.exceptions import RedisError

from chat.events import utc_now_iso
from chat.services.runtime import Runtime
from chat.sessions import SessionStatus
from chat.store.instances import InstanceStore, Presence, presence

log = logging.getLogger("chat.ws.instance")

LOST_REASON = "counselor_lost"
CLAIM_LEASE_MS = 30_000
# A graceful stop uncounts its sockets in pipelines of this many sessions (or counselors) each.
HAND_OVER_CHUNK = 1000
# How long a stop waits for its hand-over; what is left then is taken over by another instance (its next beat).
HAND_OVER_TIMEOUT = 5.0


def new_instance_id() -> str:
    return "i_" + secrets.token_hex(6)


class InstanceKeeper:
    """One per process: the heartbeat, the socket counts of this instance, takeovers and hand-backs."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.id = new_instance_id()
        self.store = InstanceStore(rt.redis, rt.keys, index_ttl=rt.settings.session_ttl_seconds)
        # Each counted socket (a visitor or counselor connection) -> the instance id it was counted under.
        self.registered: dict[Any, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._hand_overs: list[asyncio.Task[None]] = []
        self._stopping = False
        self._beating = asyncio.Lock()  # held by a heartbeat (with its revive and takeovers)

    @property
    def ttl_ms(self) -> int:
        return int(self.rt.settings.instance_ttl_seconds * 1000)

    async def start(self) -> None:
        await self.store.beat(self.id, self.rt.now_ms(), self.ttl_ms)
        self._task = asyncio.create_task(self._run(), name="instance-keeper")
        log.info("instance: %s up", self.id)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            # A cancel that lands in a Redis call can be lost (Python 3.11's timeouts, redis-py's retries; see
            # Watcher.stop): the task is cancelled until it ends, and the loop checks `_stopping` too. A lost
            # cancel used to hold the stop for ever (the heartbeat went on beating), the process killed at last.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.5)
        # Sockets still counted (their handler was cancelled before its cleanup, or nobody called
        # hand_over_soon): uncounted here, in bulk, like the rest.
        self.hand_over_soon()
        deadline = time.monotonic() + HAND_OVER_TIMEOUT
        while (pending := [t for t in self._hand_overs if not t.done()]) and time.monotonic() < deadline:
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        # Whatever is still counted after that is taken over at the next beat of another instance.
        with contextlib.suppress(RedisError, OSError):
            await self.store.stop(self.id)

    # -- a graceful stop ---------------------------------------------------------------------------
    def hand_over_soon(self) -> None:
        """Uncount every socket this instance counts, in bulk, in a task of its own (awaited by :meth:`stop`).

        The sockets leave ``registered`` here, before this returns and before their handlers run again:
        their own cleanup, which runs once they are closed (with 1012), finds them uncounted and makes no
        round trip. Sockets counted later (a hello still under way) uncount themselves as usual. A heartbeat
        under way (a revive re-counts sockets) finishes before the hand-over goes out."""
        # A stopping instance neither revives (its heartbeat may lapse under load while it closes) nor takes
        # over others: either would count sockets again that are being handed over here.
        self._stopping = True
        taken, self.registered = self.registered, {}
        visitors: Counter[tuple[str, str]] = Counter()
        counselors: Counter[tuple[int, str]] = Counter()
        for conn, instance_id in taken.items():
            if getattr(conn, "role", "") == "counselor":
                principal = getattr(conn, "principal", None)
                if principal is not None:
                    counselors[(principal.counselor_id, instance_id)] += 1
            elif getattr(conn, "sid", None):
                visitors[(conn.sid, instance_id)] += 1
        if visitors or counselors:
            task = asyncio.create_task(self._hand_over(visitors, counselors), name="instance-hand-over")
            self._hand_overs.append(task)

    async def _hand_over(self, visitors: Counter[tuple[str, str]], counselors: Counter[tuple[int, str]]) -> None:
        async with self._beating:  # after a heartbeat under way (its revive may be counting one of these)
            await self._hand_over_now(visitors, counselors)

    async def _hand_over_now(self, visitors: Counter[tuple[str, str]], counselors: Counter[tuple[int, str]]) -> None:
        started = time.monotonic()
        now = self.rt.now_ms()
        offline = failed = 0
        items = list(visitors.items())
        for i in range(0, len(items), HAND_OVER_CHUNK):
            try:
                offline += await self._hand_over_visitors(items[i : i + HAND_OVER_CHUNK], now)
            except (RedisError, OSError) as exc:
                # Left counted under this instance's id: another instance takes them over at its next beat.
                failed += len(items[i : i + HAND_OVER_CHUNK])
                log.warning("instance: hand-over of visitors failed (%s)", type(exc).__name__)
        gone = 0
        if counselors:
            try:
                gone = await self._hand_over_counselors(list(counselors.items()), now)
            except (RedisError, OSError) as exc:
                failed += len(counselors)
                log.warning("instance: hand-over of counselors failed (%s)", type(exc).__name__)
        fields = {
            "event": "instance.handover",
            "instance": self.id,
            "visitors": len(visitors),
            "visitors_offline": offline,
            "counselors": len(counselors),
            "counselors_offline": gone,
            "failed": failed,
            "seconds": round(time.monotonic() - started, 3),
        }
        log.info(
            "instance: stopping; %d visitors (%d now offline) and %d counselors uncounted in %.2f s",
            len(visitors),
            offline,
            len(counselors),
            fields["seconds"],
            extra={"fields": fields},
        )

    async def _hand_over_visitors(self, items: list[tuple[tuple[str, str], int]], now_ms: int) -> int:
        """What ``visitor_presence(-1)`` and the endpoint's cleanup do per socket, for many: two round trips."""
        rt = self.rt
        async with rt.redis.pipeline(transaction=False) as pipe:
            for (sid, instance_id), n in items:
                await self.store.visitor_on(pipe, sid, instance_id, -n, now_ms)
            replies = await pipe.execute()
        offline = 0
        queued_ms = int(rt.settings.queued_grace_seconds * 1000)
        chat_ms = int(rt.settings.visitor_grace_seconds * 1000)
        async with rt.redis.pipeline(transaction=False) as pipe:
            for ((sid, instance_id), _), reply in zip(items, replies, strict=True):
                p = presence(reply)
                grace_ms = queued_ms if p.status == "queued" else chat_ms
                self._queue_follow_up(pipe, sid, instance_id, p, now_ms + grace_ms)
                if p.total == 0 and p.delta < 0 and p.status in ("queued", "active"):
                    frame = {"type": "presence", "session_id": sid, "visitor": "offline"}
                    rt.store.queue_publish_control(pipe, sid, frame)
                    offline += 1
            await pipe.execute()
        return offline

    async def _hand_over_counselors(self, items: list[tuple[tuple[int, str], int]], now_ms: int) -> int:
        """What ``counselor_left`` does per socket, for every counselor here: two round trips."""
        rt = self.rt
        async with rt.redis.pipeline(transaction=False) as pipe:
            for (counselor_id, instance_id), n in items:
                await self.store.counselor_on(pipe, counselor_id, instance_id, -n)
            replies = await pipe.execute()
        gone = 0
        async with rt.redis.pipeline(transaction=False) as pipe:
            for ((counselor_id, instance_id), _), (total, mine, change) in zip(items, replies, strict=True):
                self.store.index_counselor(pipe, counselor_id, instance_id, int(mine))
                if int(total) == 0 and int(change) < 0:
                    self._queue_counselor_gone(pipe, counselor_id, now_ms)
                    gone += 1
            await pipe.execute()
        return gone

    async def _run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.rt.settings.instance_heartbeat_seconds)
            try:
                await self.beat_once()
            except RedisError as exc:
                log.warning("instance: beat failed (%s)", type(exc).__name__)
            except Exception:
                log.exception("instance: beat failed")

    async def beat_once(self) -> None:
        """Refresh the heartbeat, take over dead instances, hand back the chats of counselors gone too long."""
        async with self._beating:
            if self._stopping:
                return
            if not await self.store.beat(self.id, self.rt.now_ms(), self.ttl_ms):
                await self._revive()
            for instance_id, last_ms in await self.store.dead(self.id):
                if self._stopping:
                    return
                await self.take_over(instance_id, last_ms)
            await self.sweep_counselors()

    # -- visitors -------------------------------------------------------------------------------
    def new_visitor(self) -> tuple[str, str, int]:
        """Where ``RedisStore.create_queued`` counts a new session's first socket in its own step: this
        instance, its visitor index and the index's TTL (then :meth:`counted` with the socket)."""
        return self.id, self.rt.keys.instance_visitors(self.id), self.store.index_ttl

    def counted(self, conn: Any, instance_id: str) -> None:
        """``conn`` was counted on ``instance_id`` by the step that created its session (a new session has
        no grace timer to stop)."""
        self.registered[conn] = instance_id

    async def visitor_presence(
        self, conn: Any, delta: int, now_ms: int, grace_ms: int, queued_grace_ms: int | None = None
    ) -> int:
        """Count the visitor socket ``conn`` (+1 or -1) on this instance; at zero the grace timer starts:
        ``grace_ms`` for a chat, ``queued_grace_ms`` (default the same) for a session queued at that moment in
        Redis (not what the socket last heard: a visitor claimed just before the drop gets a chat's grace).
        Returns the visitor's sockets on every instance (-1: no such session)."""
        if delta > 0:
            instance_id = self.registered[conn] = self.id
        else:
            registered = self.registered.pop(conn, None)
            if registered is None:
                return -1  # never counted (or already dropped)
            instance_id = registered
        presence = await self.store.visitor(conn.sid, instance_id, delta, now_ms)
        if presence.status == "queued" and queued_grace_ms is not None:
            grace_ms = queued_grace_ms
        await self._follow_up(conn.sid, instance_id, presence, now_ms + grace_ms)
        return presence.total

    async def _follow_up(self, sid: str, instance_id: str, presence: Presence, deadline_ms: int) -> None:
        """The instance's index and the grace timer after a count changed: one round trip, two slots."""
        async with self.rt.redis.pipeline(transaction=False) as pipe:
            self._queue_follow_up(pipe, sid, instance_id, presence, deadline_ms)
            await pipe.execute()

    def _queue_follow_up(self, pipe: Any, sid: str, instance_id: str, presence: Presence, deadline_ms: int) -> None:
        self.store.index_visitor(pipe, sid, instance_id, presence)
        if presence.status in ("queued", "active"):  # gone, or ended: nothing to wait for
            if presence.total == 0 and presence.delta < 0:
                pipe.zadd(self.rt.keys.grace_timers, {sid: deadline_ms})
            elif presence.total > 0:
                pipe.zrem(self.rt.keys.grace_timers, sid)

    # -- counselors ------------------------------------------------------------------------------
    async def counselor_joined(self, conn: Any) -> None:
        """Count the counselor's socket, stop their grace timer, and tell them which chats they lost."""
        rt = self.rt
        counselor_id: int = conn.principal.counselor_id
        self.registered[conn] = self.id
        await self.store.counselor(counselor_id, self.id, +1)
        await rt.redis.zrem(rt.keys.counselor_grace_timers, str(counselor_id))
        lost_key = rt.keys.counselor_lost(counselor_id)
        lost = sorted(x.decode() if isinstance(x, bytes) else str(x) for x in await rt.redis.smembers(lost_key))
        if not lost:
            return
        await rt.redis.delete(lost_key)
        for sid in lost:
            info = await rt.store.get_session(sid)
            if info is not None and info.counselor == str(counselor_id):
                continue  # accepted again since
            await conn.send({"type": "transferred", "session_id": sid, "to": None, "reason": LOST_REASON})

    async def counselor_left(self, conn: Any) -> None:
        """Uncount the counselor's socket; with none left anywhere, they are offline and the grace starts."""
        instance_id = self.registered.pop(conn, None)
        if instance_id is None or conn.principal is None:
            return
        counselor_id: int = conn.principal.counselor_id
        total, change = await self.store.counselor(counselor_id, instance_id, -1)
        if total == 0 and change < 0:
            await self._counselor_gone(counselor_id, self.rt.now_ms())

    async def _counselor_gone(self, counselor_id: int, at_ms: int) -> None:
        async with self.rt.redis.pipeline(transaction=False) as pipe:
            self._queue_counselor_gone(pipe, counselor_id, at_ms)
            await pipe.execute()

    def _queue_counselor_gone(self, pipe: Any, counselor_id: int, at_ms: int) -> None:
        """The counselor has no socket left anywhere: offline, and their grace timer starts (on ``pipe``)."""
        rt = self.rt
        pipe.zrem(rt.keys.counselors_online, str(counselor_id))
        pipe.zadd(
            rt.keys.counselor_grace_timers, {str(counselor_id): at_ms + int(rt.settings.counselor_grace_seconds * 1000)}
        )

    async def sweep_counselors(self) -> int:
        """Hand back the chats of every counselor whose grace ran out. Returns how many chats went back."""
        rt = self.rt
        now = rt.now_ms()
        key = rt.keys.counselor_grace_timers
        handed = 0
        due = cast(list[bytes], await rt.redis.zrangebyscore(key, "-inf", now, start=0, num=100))
        for raw in due:
            if not await rt.redis.zrem(key, raw):
                continue  # another instance acts on it
            counselor_id = int(raw)
            if await self.store.counselor_sockets(counselor_id) > 0:
                continue  # back in time
            handed += await self.hand_back(counselor_id, now)
        return handed

    async def hand_back(self, counselor_id: int, now_ms: int) -> int:
        """Every open chat of the counselor back to the head of its queue, urgent ones first."""
        rt = self.rt
        infos = [await rt.store.get_session(sid) for sid in await rt.store.counselor_session_ids(counselor_id)]
        open_chats = [
            i for i in infos if i is not None and i.status is SessionStatus.ACTIVE and i.counselor == str(counselor_id)
        ]
        open_chats.sort(key=lambda i: (not i.urgent, i.paired_at or 0))
        lost_key = rt.keys.counselor_lost(counselor_id)
        handed = 0
        for n, info in enumerate(open_chats):
            # A millisecond apart, so that an urgent chat comes back ahead of the others in its queue.
            result = await rt.store.transfer(
                info.sid, counselor_id, None, None, now_ms + n, utc_now_iso(), from_name=info.counselor_name or ""
            )
            if result.code < 0:
                continue
            handed += 1
            async with rt.redis.pipeline(transaction=False) as pipe:
                # The archiver takes the session out of the counselor's lost set (no key outlives the session).
                pipe.hset(rt.keys.session(info.sid), "lost_by", str(counselor_id))
                pipe.sadd(lost_key, info.sid)
                pipe.expire(lost_key, rt.settings.token_ttl_seconds)
                frame = {"type": "transfer_out", "session_id": info.sid, "to": None, "reason": LOST_REASON}
                pipe.publish(rt.keys.counselor_channel(counselor_id), json.dumps(frame))
                await pipe.execute()
        if handed:
            fields = {"event": "counselor.lost", "counselor_id": counselor_id, "chats": handed}
            log.info(
                "counselor lost: counselor %s, %d chats back to the queue",
                counselor_id,
                handed,
                extra={"fields": fields},
            )
        return handed

    # -- dead instances ---------------------------------------------------------------------------
    async def take_over(self, instance_id: str, last_ms: int) -> bool:
        """Drop what a dead instance held, as if its sockets had closed at its last heartbeat.

        The claim is a lease: one living instance does it; one that dies halfway leaves the rest to the
        next, and every step is idempotent (a share already dropped drops nothing)."""
        rt = self.rt
        if not await self.store.claim(instance_id, self.id, CLAIM_LEASE_MS):
            return False
        sids, counselor_ids = await self.store.held(instance_id)
        offline = 0
        for sid in sids:
            presence = await self.store.visitor(sid, instance_id, "drop", last_ms)
            queued = presence.status == "queued"
            grace = rt.settings.queued_grace_seconds if queued else rt.settings.visitor_grace_seconds
            await self._follow_up(sid, instance_id, presence, last_ms + int(grace * 1000))
            if presence.delta < 0 and presence.total == 0 and presence.status in ("queued", "active"):
                await rt.store.publish_control(sid, {"type": "presence", "session_id": sid, "visitor": "offline"})
                offline += 1
        for counselor_id in counselor_ids:
            total, change = await self.store.counselor(counselor_id, instance_id, "drop")
            if total == 0 and change < 0:
                await self._counselor_gone(counselor_id, last_ms)
        await self.store.forget(instance_id)
        fields = {"event": "instance.takeover", "instance": instance_id, "visitors_offline": offline}
        log.info(
            "instance: took over %s (%d visitors offline, %d counselors)",
            instance_id,
            offline,
            len(counselor_ids),
            extra={"fields": {**fields, "counselors": len(counselor_ids)}},
        )
        return True

    async def _revive(self) -> None:
        """Our heartbeat had expired (a stall longer than the TTL): another instance may be taking over what
        we hold, so every socket here is counted again under a new instance id, and the old one is left to
        the takeover."""
        rt = self.rt
        old, self.id = self.id, new_instance_id()
        await self.store.beat(self.id, rt.now_ms(), self.ttl_ms)
        now = rt.now_ms()
        # Each socket's share under the old id is dropped here too, after it is counted under the new one (so
        # its total never passes 0): a socket that opened during the stall, after another instance had taken
        # the old id over and forgotten it, would otherwise stay counted under an id nobody takes over again.
        for conn in [c for c in rt.connections if c in self.registered]:
            if conn not in self.registered:
                continue  # closed meanwhile
            was = self.registered[conn]
            self.registered[conn] = self.id
            if getattr(conn, "role", "") == "counselor" and conn.principal is not None:
                await self.store.counselor(conn.principal.counselor_id, self.id, +1)
                await rt.redis.zrem(rt.keys.counselor_grace_timers, str(conn.principal.counselor_id))
                if was != self.id:
                    await self.store.counselor(conn.principal.counselor_id, was, "drop")
            elif getattr(conn, "sid", None):
                presence = await self.store.visitor(conn.sid, self.id, +1, now)
                await self._follow_up(conn.sid, self.id, presence, now)
                if presence.total == 1 and presence.status == "active":
                    await rt.store.publish_control(
                        conn.sid, {"type": "presence", "session_id": conn.sid, "visitor": "online"}
                    )
                if was != self.id:
                    dropped = await self.store.visitor(conn.sid, was, "drop", now)
                    await self._follow_up(conn.sid, was, dropped, now)
        log.warning(
            "instance: heartbeat of %s had expired; sockets counted again as %s",
            old,
            self.id,
            extra={"fields": {"event": "instance.revived", "instance": self.id, "was": old}},
        )


async def visitor_presence(
    rt: Runtime, conn: Any, delta: int, now_ms: int, grace_ms: int, queued_grace_ms: int | None = None
) -> int:
    """``RedisStore.visitor_presence`` counted per instance (when the instance keeper runs)."""
    keeper: InstanceKeeper | None = rt.extras.get("instance")
    if keeper is None:
        return await rt.store.visitor_presence(conn.sid, delta, now_ms, grace_ms, queued_grace_ms)
    return await keeper.visitor_presence(conn, delta, now_ms, grace_ms, queued_grace_ms)


async def visitor_ended(rt: Runtime, conn: Any) -> None:
    """The socket of an ended chat closed: uncounted here (no grace, no presence: the chat is over)."""
    keeper: InstanceKeeper | None = rt.extras.get("instance")
    if keeper is not None:
        await keeper.visitor_presence(conn, -1, rt.now_ms(), 0)


async def counselor_joined(rt: Runtime, conn: Any) -> None:
    keeper: InstanceKeeper | None = rt.extras.get("instance")
    if keeper is not None:
        await keeper.counselor_joined(conn)


async def counselor_left(rt: Runtime, conn: Any) -> None:
    keeper: InstanceKeeper | None = rt.extras.get("instance")
    if keeper is not None:
        await keeper.counselor_left(conn)
