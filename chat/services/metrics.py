"""Prometheus metrics (prometheus-client): process counters and histograms, plus gauges read from Redis at scrape.

Two kinds of series:

* Counters and histograms of what this process did (pairings, abandonments, events relayed, rate-limit and
  block hits, Redis errors). Each :class:`Metrics` has its own registry, so several apps in one test process
  never mix. With ``PROMETHEUS_MULTIPROC_DIR`` set (several workers behind one port), prometheus-client keeps
  them in files in that folder and a scrape of any worker sums every worker (docs/operations.md).
* Gauges of the shared state in Redis (queues, sessions, counselors, archivers), the same on every instance:
  read when scraped, so they never drift.

Labels never carry personal data or session ids: only audience, language, outcome, role, transport, reason and
kind, each from a small fixed set. No urgent count per queue (docs/security.md); only one total.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from redis.asyncio import Redis

from chat.sessions import Audience, EndReason
from chat.store.keys import Keys

# Seconds: a helpline wait is measured in tens of seconds to tens of minutes.
WAIT_BUCKETS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
# Milliseconds of redaction per session, as the archivers record them in Redis.
# The rate limits counted in chat_rate_limited_total{kind}.
RATE_LIMIT_KINDS = ("hello", "message", "login")
REDACTION_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
# Seconds from an event's stored timestamp to its write on a receiving socket: milliseconds when all is well.
RELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The (role, transport) pairs a connection can have (labels of chat_connections and chat_relay_latency_seconds):
# websockets, and the visitor's fallback event stream.
CONNECTION_LABELS = (("visitor", "websocket"), ("visitor", "sse"), ("counselor", "websocket"))


class Metrics:
    """This process's counters and histograms, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.wait = Histogram(
            "chat_wait_seconds",
            "Waits in the queue, observed when a counselor takes the visitor (paired) or the visitor leaves or "
            "times out first (abandoned).",
            ["outcome"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.abandoned = Counter(
            "chat_abandoned", "Visitors who left (or timed out) while still in the queue.", ["audience"], registry=r
        )
        self.paired = Counter("chat_paired", "Visitors taken from the queue by a counselor.", ["audience"], registry=r)
        self.sessions_started = Counter("chat_sessions_started", "New chats (hellos that queued).", registry=r)
        self.sessions_ended = Counter("chat_sessions_ended", "Chats ended, by reason.", ["reason"], registry=r)
        self.relayed = Counter("chat_events_relayed", "Events delivered to websockets by this process.", registry=r)
        self.relay_latency = Histogram(
            "chat_relay_latency_seconds",
            "Store to socket: from an event's stored timestamp to its write on a receiving connection (live "
            "events only, not catch-up after a resume), by role and transport.",
            ["role", "transport"],
            buckets=RELAY_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "chat_rate_limited", "Requests or frames refused by a rate limit, by limit.", ["kind"], registry=r
        )
        self.blocked = Counter("chat_blocked_hits", "New chats refused because the client is blocked.", registry=r)
        self.redis_errors = Counter(
            "chat_redis_errors", "Redis failures answered with 503 or retried (store unavailable).", registry=r
        )
        # Every series from the first scrape on, at zero (alerts and rate() need it there before the first event).
        for outcome in ("paired", "abandoned"):
            self.wait.labels(outcome)
        for audience in Audience:
            self.paired.labels(audience.value)
            self.abandoned.labels(audience.value)
        for reason in EndReason:
            self.sessions_ended.labels(reason.value)
        for kind in RATE_LIMIT_KINDS:
            self.rate_limited.labels(kind)
        for role, transport in CONNECTION_LABELS:
            self.relay_latency.labels(role, transport)

    def render_process(self) -> bytes:
        multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if multiproc:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=multiproc)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def of(rt: Any) -> Metrics:
    """The runtime's metrics (made on first use; the services never import the websocket side)."""
    metrics = rt.extras.get("metrics")
    if metrics is None:
        metrics = rt.extras["metrics"] = Metrics()
    assert isinstance(metrics, Metrics)
    return metrics


# -- archiver heartbeats ----------------------------------------------------------------------------


def new_archiver_id() -> str:
    """A random id per archiver process: no host name, no address."""
    return secrets.token_hex(6)


async def archiver_heartbeat(redis: Redis, keys: Keys, archiver_id: str, now_ms: int) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.archivers, {archiver_id: now_ms})
        pipe.zremrangebyscore(keys.archivers, "-inf", now_ms - 86_400_000)
        pipe.expire(keys.archivers, 86_400)
        await pipe.execute()


async def archiver_last_seen_ms(redis: Redis, keys: Keys) -> int | None:
    """When any archiver last wrote its heartbeat (ms), or None when none ever did (in the last day)."""
    newest = await redis.zrevrange(keys.archivers, 0, 0, withscores=True)
    return int(newest[0][1]) if newest else None


async def archivers_alive(redis: Redis, keys: Keys, now_ms: int, stale_seconds: float) -> int:
    return int(await redis.zcount(keys.archivers, now_ms - int(stale_seconds * 1000), "+inf"))


async def record_redaction(redis: Redis, keys: Keys, milliseconds: float) -> None:
    """Add one redaction time to the shared histogram in Redis (cumulative buckets, as Prometheus wants)."""
    async with redis.pipeline(transaction=False) as pipe:
        for bound in REDACTION_BUCKETS_MS:
            if milliseconds <= bound:
                pipe.hincrby(keys.redaction_stats, f"le:{bound}", 1)
        pipe.hincrby(keys.redaction_stats, "count", 1)
        pipe.hincrbyfloat(keys.redaction_stats, "sum_ms", milliseconds)
        await pipe.execute()


# -- the scrape ----------------------------------------------------------------------------------------


async def shared_families(rt: Any) -> list[Any]:
    """The gauges read from Redis (the same on every instance) and this process's websockets."""
    now = rt.now_ms()
    store, redis, keys, settings = rt.store, rt.redis, rt.keys, rt.settings
    stats = await store.queue_stats()
    waiting = GaugeMetricFamily("chat_queue_waiting", "Visitors waiting per queue.", labels=["audience", "language"])
    longest = GaugeMetricFamily(
        "chat_queue_longest_wait_seconds", "Longest current wait per queue.", labels=["audience", "language"]
    )
    urgent_total = 0
    longest_urgent = 0.0
    for s in stats:
        waiting.add_metric([s.audience, s.language], s.waiting)
        wait = max(0.0, (now - s.oldest_ms) / 1000) if s.oldest_ms is not None else 0.0
        longest.add_metric([s.audience, s.language], wait)
        urgent_total += s.urgent
        if s.urgent_oldest_ms is not None:
            longest_urgent = max(longest_urgent, (now - s.urgent_oldest_ms) / 1000)
    urgent = GaugeMetricFamily(
        "chat_urgent_waiting",
        "Visitors triaged urgent waiting, over all queues (no count per queue).",
        value=urgent_total,
    )
    urgent_wait = GaugeMetricFamily(
        "chat_urgent_longest_wait_seconds",
        "Longest current wait of a visitor triaged urgent, over all queues (0 when none).",
        value=longest_urgent,
    )
    queued = sum(s.waiting for s in stats)
    active = await store.active_sessions()
    to_archive = int(await redis.zcard(keys.archive_queue)) + int(await redis.zcard(keys.archive_processing))
    by_status = GaugeMetricFamily("chat_sessions", "Chats by status.", labels=["status"])
    by_status.add_metric(["queued"], queued)
    by_status.add_metric(["active"], active)
    by_status.add_metric(["ended_unarchived"], to_archive)
    online_ids = await redis.zrangebyscore(keys.counselors_online, now - 60_000, "+inf")
    free = 0
    for raw in online_ids:
        cid = int(raw.decode() if isinstance(raw, bytes) else raw)
        available, capacity = await store.counselor_status(cid, settings.default_capacity)
        if available:
            free += max(0, capacity - int(await redis.scard(keys.counselor_sessions(cid))))
    online = GaugeMetricFamily(
        "chat_counselors_online", "Counselors connected in the last minute.", value=len(online_ids)
    )
    capacity = GaugeMetricFamily(
        "chat_counselor_free_capacity", "Chats the available counselors online could still take.", value=free
    )
    conns = GaugeMetricFamily(
        "chat_connections",
        "Open client connections in this process, by role and transport (websocket, or the visitor's fallback "
        "event stream: sse).",
        labels=["role", "transport"],
    )
    roles = dict.fromkeys(CONNECTION_LABELS, 0)
    for conn in rt.connections:
        key = (getattr(conn, "role", "other"), getattr(conn, "transport", "websocket"))
        roles[key] = roles.get(key, 0) + 1
    for (role, transport), count in sorted(roles.items()):
        conns.add_metric([role, transport], count)
    # The archivers: alive, how long since any was seen, and how far behind they are.
    wall = int(time.time() * 1000)  # archivers beat on the wall clock, whatever clock a test gives the server
    last = await archiver_last_seen_ms(redis, keys)
    alive = await archivers_alive(redis, keys, wall, settings.archiver_stale_seconds)
    up = GaugeMetricFamily(
        "chat_archiver_up",
        f"1 when an archiver wrote its heartbeat in the last {settings.archiver_stale_seconds:g} s; 0: no transcripts, "
        "statistics or retention purge.",
        value=1 if alive else 0,
    )
    alive_g = GaugeMetricFamily("chat_archivers_alive", "Archivers with a recent heartbeat.", value=alive)
    since = GaugeMetricFamily(
        "chat_archiver_last_seen_seconds",
        "Seconds since any archiver's heartbeat (-1: none seen in the last day).",
        value=-1 if last is None else max(0.0, (wall - last) / 1000),
    )
    oldest = await redis.zrangebyscore(keys.archive_queue, "-inf", now, start=0, num=1, withscores=True)
    lag = GaugeMetricFamily(
        "chat_archive_lag_seconds",
        "How long the oldest ended chat that is ready to archive has waited for an archiver (0 when none).",
        value=max(0.0, (now - oldest[0][1]) / 1000) if oldest else 0.0,
    )
    ready = GaugeMetricFamily(
        "chat_archive_ready",
        "Ended chats ready to archive.",
        value=int(await redis.zcount(keys.archive_queue, "-inf", now)),
    )
    return [
        waiting,
        longest,
        urgent,
        urgent_wait,
        by_status,
        online,
        capacity,
        conns,
        up,
        alive_g,
        since,
        lag,
        ready,
        await _redaction_family(redis, keys),
    ]


async def _redaction_family(redis: Redis, keys: Keys) -> HistogramMetricFamily:
    raw = {_s(a): _s(b) for a, b in (await redis.hgetall(keys.redaction_stats)).items()}
    count = int(raw.get("count", 0))
    buckets: list[tuple[str, float]] = [(f"{b / 1000:g}", int(raw.get(f"le:{b}", 0))) for b in REDACTION_BUCKETS_MS]
    buckets.append(("+Inf", count))
    return HistogramMetricFamily(
        "chat_redaction_seconds",
        "Time the archivers spent redacting one chat (all archivers).",
        buckets=buckets,
        sum_value=float(raw.get("sum_ms", 0.0)) / 1000,
    )


class _Snapshot:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


async def render(rt: Any) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await shared_families(rt)))
    return of(rt).render_process() + generate_latest(registry)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- the session lifecycle: metrics and one log line per step ------------------------------------------

lifecycle_log = logging.getLogger("chat.lifecycle")


# sid -> correlation id of the chats this process logged a step of, so that the next step needs no
# Redis read (the paired step takes it from the accept script's reply). Bounded; dropped at the end.
_CIDS_MAX = 20_000


def _cids(rt: Any) -> dict[str, str]:
    cids: dict[str, str] = rt.extras.setdefault("correlation_ids", {})
    return cids


def _remember(rt: Any, sid: str, cid: str) -> str:
    cids = _cids(rt)
    if len(cids) >= _CIDS_MAX:
        del cids[next(iter(cids))]
    cids[sid] = cid
    return cid


async def correlation_id(rt: Any, sid: str) -> str:
    """The random id that ties one chat's log lines together; not the session id, not a token.

    Kept in the session's own hash (deleted with it by the archiver), made on first use.
    """
    known = _cids(rt).get(sid)
    if known is not None:
        return known
    key = rt.keys.session(sid)
    fresh = secrets.token_hex(6)
    if await rt.redis.hsetnx(key, "log_id", fresh):
        return _remember(rt, sid, fresh)
    return _remember(rt, sid, _s(await rt.redis.hget(key, "log_id") or fresh))


def log_step(step: str, cid: str, **fields: Any) -> None:
    """One JSON log line for a step of a chat: ``session.queued``, ``session.paired``, ``session.ended``."""
    lifecycle_log.info(step, extra={"fields": {"event": step, "correlation_id": cid, **fields}})


def new_correlation_id() -> str:
    """A fresh correlation id, for a session that stores it as it is created (``RedisStore.create_session``)."""
    return secrets.token_hex(6)


def session_queued(rt: Any, sid: str, log_id: str, audience: str, language: str) -> None:
    """A session was queued with ``log_id`` as its correlation id (stored by the create): no Redis round trip."""
    of(rt).sessions_started.inc()
    log_step("session.queued", _remember(rt, sid, log_id), audience=audience, language=language)


async def session_paired(rt: Any, info: Any, now_ms: int) -> None:
    """A counselor took the visitor: the wait goes into the histogram (no Redis read: the accept
    script's reply has the session's hash, its correlation id included)."""
    waited = max(0.0, ((info.paired_at or now_ms) - info.enqueued_at) / 1000) if info.enqueued_at else 0.0
    m = of(rt)
    m.wait.labels("paired").observe(waited)
    m.paired.labels(info.audience or "unknown").inc()
    log_id = getattr(info, "log_id", None)
    cid = _remember(rt, info.sid, log_id) if log_id else await correlation_id(rt, info.sid)
    log_step("session.paired", cid, wait_seconds=round(waited, 1))


async def end_session(
    rt: Any, sid: str, reason: Any, now_ms: int, *, require_offline: bool = False, queued: bool | None = None
) -> Any:
    """``RedisStore.end`` plus its metrics and log line; a visitor who leaves the queue is an abandonment.

    ``queued=False``: the caller knows the chat is no longer queued (a counselor ends their chat, a
    paired visitor leaves); with the correlation id known here too, the end is one round trip.
    """
    from chat.events import utc_now_iso

    cid = _cids(rt).pop(sid, None)
    if queued is False and cid is not None:
        status, enqueued, audience = b"active", None, None
    else:
        status, enqueued, audience, stored = await rt.redis.hmget(
            rt.keys.session(sid), ["status", "enqueued_at", "audience", "log_id"]
        )
        cid = _s(stored) if stored else cid
    result = await rt.store.end(sid, reason, utc_now_iso(), now_ms, require_offline=require_offline)
    if result.code != 1:
        if cid is not None:
            _remember(rt, sid, cid)  # not ended (yet): a later end logs under the same id
        return result
    m = of(rt)
    reason_value = str(getattr(reason, "value", reason))
    m.sessions_ended.labels(reason_value).inc()
    fields: dict[str, Any] = {"reason": reason_value}
    if _s(status or "") == "queued":
        waited = max(0.0, (now_ms - int(enqueued or now_ms)) / 1000)
        m.wait.labels("abandoned").observe(waited)
        m.abandoned.labels(_s(audience or "unknown")).inc()
        fields.update(abandoned=True, wait_seconds=round(waited, 1))
    log_step("session.ended", cid or secrets.token_hex(6), **fields)
    return result
