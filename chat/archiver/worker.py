"""The archiver: a separate process that turns ended sessions into redacted transcripts.

Any number may run. Each claims one session at a time with a lease (a Lua
script moves it from the ready set to the in-progress set); an archiver that
dies leaves its lease to run out, and another takes the session over. Writing
is idempotent (one summary and one transcript per session id), and the raw
events are deleted from Redis only after the SQL transaction committed.
Redaction (deduce) runs here, never in the websocket server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.services import metrics
from chat.services.outage import Outage
from chat.settings import Settings
from chat.store.client import atomic, connect, is_cluster
from chat.store.keys import Keys
from chat.store.redis import decode_entries
from chat.store.retry import ConnectRetry
from chat.store.sql import ChatSummary, Transcript, make_engine, make_sessionmaker
from chat.transcripts import build

log = logging.getLogger("chat.archiver")

_CLAIM = """
-- KEYS: ready set, in-progress set   ARGV: now_ms, lease_ms
-- A lease that ran out first: its archiver died.
local sid = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1)[1]
if not sid then
  sid = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)[1]
  if not sid then return false end
  redis.call('ZREM', KEYS[1], sid)
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), sid)
return sid
"""


class TextRedactor(Protocol):
    def redact(self, text: str) -> Any: ...


PURGE_EVERY_SECONDS = 3600.0


class Archiver:
    def __init__(self, settings: Settings, redis: Redis, engine: AsyncEngine, redactor: TextRedactor | None) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = Keys(settings.redis_prefix)
        self.engine = engine
        self.db = make_sessionmaker(engine)
        self.redactor = redactor
        self._claim = redis.register_script(_CLAIM)
        self.archived = 0
        self.id = metrics.new_archiver_id()
        self.outage = Outage(redis)

    async def heartbeat(self) -> None:
        """Tell the servers an archiver runs (``/readyz``, ``chat_archiver_up``, the warning at ``chat serve``)."""
        await metrics.archiver_heartbeat(self.redis, self.keys, self.id, self._now_ms())

    def _now_ms(self) -> int:
        return int(time.time() * 1000)

    async def claim(self) -> str | None:
        sid = await self._claim(
            keys=[self.keys.archive_queue, self.keys.archive_processing],
            args=[self._now_ms(), int(self.settings.archive_lease_seconds * 1000)],
        )
        if sid is None:
            return None
        return sid.decode() if isinstance(sid, bytes) else str(sid)

    async def _pause(self, point: str) -> None:
        spec = self.settings.archiver_pause
        if spec and spec.partition(":")[0] == point:
            await asyncio.sleep(float(spec.partition(":")[2] or "0"))

    def _redact(self, text: str) -> str:
        assert self.redactor is not None
        return str(self.redactor.redact(text).text)

    async def archive(self, sid: str) -> bool:
        """Archive one claimed session. True when its records are in SQL (now or before)."""
        k = self.keys
        await self._pause("claimed")
        raw = await self.redis.hgetall(k.session(sid))
        meta = {_s(a): _s(b) for a, b in raw.items()}
        if not meta:
            # Its TTL ran out before anyone archived it: nothing is left to keep or to delete.
            log.warning("archiver: session expired before it was archived")
            await self.redis.zrem(k.archive_processing, sid)
            return False
        if meta.get("status") != "ended":
            # On a cluster an end marks the session due before it ends it (chat/store/redis.py): a process that
            # died between the two left a live session here. Its real end marks it again.
            await self.redis.zrem(k.archive_processing, sid)
            return False
        events = decode_entries(await self.redis.xrange(k.events(sid)))
        notes = decode_entries(await self.redis.xrange(k.notes(sid)))
        started = time.perf_counter()
        redact = self._redact if (self.settings.store_transcripts and self.redactor is not None) else None
        summary, transcript = await asyncio.to_thread(build, sid, meta, events, redact, notes)
        redaction_ms = (time.perf_counter() - started) * 1000
        if redact is not None:
            await metrics.record_redaction(self.redis, self.keys, redaction_ms)
        async with self.db() as db:
            exists = (await db.execute(select(ChatSummary.id).where(ChatSummary.session_id == sid))).first()
            if exists is None:
                db.add(ChatSummary(**asdict(summary)))
                if transcript is not None:
                    db.add(Transcript(**asdict(transcript)))
                try:
                    await db.commit()
                except IntegrityError:
                    # Another archiver committed the same session a moment ago: once is enough.
                    await db.rollback()
        await self._pause("written")
        # On a cluster the keys of several slots go in parallel: the session's keys first, the lease last, so
        # that a crash in between leaves the lease to run out and the session to be archived (once) again.
        cluster = is_cluster(self.redis)
        async with atomic(self.redis) as pipe:
            pipe.delete(*k.session_keys(sid), k.notes(sid), k.note_ids(sid))
            if meta.get("vtoken"):
                pipe.delete(k.visitor_token(meta["vtoken"]))
            if meta.get("counselor"):
                pipe.srem(k.counselor_wrapups(int(meta["counselor"])), sid)
                # Left there only when an end on a cluster stopped half-way (chat/store/redis.py).
                pipe.srem(k.counselor_sessions(int(meta["counselor"])), sid)
            if not cluster:
                pipe.zrem(k.archive_processing, sid)
                pipe.zrem(k.archive_queue, sid)
            if meta.get("lost_by"):
                pipe.srem(k.counselor_lost(int(meta["lost_by"])), sid)
            await pipe.execute()
        if cluster:
            async with atomic(self.redis) as pipe:
                pipe.zrem(k.archive_processing, sid)
                pipe.zrem(k.archive_queue, sid)
                await pipe.execute()
        self.archived += 1
        log.info("archiver: archived a session (%d events, redaction %.0f ms)", len(events), redaction_ms)
        return True

    async def run_once(self) -> int:
        """Archive every session that is ready now; returns how many."""
        done = 0
        await self.heartbeat()
        while (sid := await self.claim()) is not None:
            try:
                done += await self.archive(sid)
                await self.heartbeat()
            except RedisError:
                raise  # an outage, told once by run(); the lease runs out and the session is archived later
            except Exception:
                # The lease runs out and this or another archiver tries again.
                log.exception("archiver: archiving a session failed; it will be retried")
                break
        return done

    async def purge(self) -> int:
        """Delete transcripts past the retention period; summaries (no text) stay."""
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.transcript_retention_days)
        async with self.db() as db:
            result = await db.execute(delete(Transcript).where(Transcript.ended_at < cutoff))
            await db.commit()
        removed = int(getattr(result, "rowcount", 0) or 0)
        if removed:
            log.info(
                "archiver: purged %d transcripts older than %d days", removed, self.settings.transcript_retention_days
            )
        return removed

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        last_purge = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                    await self.purge()
                    last_purge = time.monotonic()
                await self.run_once()
            except RedisError as exc:
                self.outage.failed("archiver", exc)
            except Exception:
                log.exception("archiver: loop failed; retrying")
            else:
                self.outage.recovered("archiver")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def main(settings: Settings, redis_url: str, *, once: bool = False) -> int:
    """``chat archiver``: warm the redactor, then archive until SIGTERM."""
    import signal

    from chat.store.migrate import upgrade_async

    await upgrade_async(settings)
    redis = connect(redis_url, server=False, retry=ConnectRetry(settings.redis_retry_seconds))
    engine = make_engine(settings.sqlalchemy_url)
    redactor = None
    archiver = Archiver(settings, redis, engine, redactor)
    # Seen at once, while the redactor warms up (a minute at most on a cold cache).
    await archiver.heartbeat()
    if settings.store_transcripts:
        from chat.redaction import Redactor

        redactor = Redactor(settings.deduce_cache)
        started = time.perf_counter()
        await asyncio.to_thread(redactor.warm)
        log.info("archiver: redactor ready in %.1f s", time.perf_counter() - started)
        archiver.redactor = redactor
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print("chat: archiver ready", flush=True)
    try:
        if once:
            await archiver.purge()
            await archiver.run_once()
        else:
            await archiver.run(stop)
    finally:
        await archiver.outage.stop()
        await redis.aclose()
        await engine.dispose()
    return 0


async def purge_main(settings: Settings) -> int:
    """``chat purge``: delete transcripts past the retention period, once."""
    from chat.store.migrate import upgrade_async

    await upgrade_async(settings)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        archiver = Archiver(settings, Redis(), engine, None)
        removed = await archiver.purge()
        await archiver.redis.aclose()
    finally:
        await engine.dispose()
    print(f"chat: purged {removed} transcript(s) older than {settings.transcript_retention_days} days")
    return 0
