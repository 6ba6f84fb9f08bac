"""Which server instance holds which socket, and taking over what a dead instance held.

Each instance has an id of its own (per process) and a heartbeat key with a TTL. A session's meta
counts its visitor's sockets per instance (``conns:<instance id>``) beside the total
(``visitor_conns``), and a counselor's sockets are counted per instance in ``chat:{c:<id>}:conns``,
so that dropping a dead instance's share is one idempotent step per session or counselor: doing it
twice drops nothing the second time. Every script here touches the keys of one hash slot only; the
cross-slot follow-ups (the grace timers, the indexes) are separate steps that are safe to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from chat.store.keys import Keys

# "drop" as the delta removes everything the instance holds (a takeover); a negative delta never goes
# below what the instance holds, so a socket closing on an instance that was taken over changes nothing.
_VISITOR_CONNS = """
-- KEYS: meta   ARGV: delta or 'drop', instance id, now_ms (away_since when the last socket goes)
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-1, 0, 0, ''} end
local field = 'conns:' .. ARGV[2]
local mine = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local delta
if ARGV[1] == 'drop' then delta = -mine else delta = tonumber(ARGV[1]) end
if mine + delta < 0 then delta = -mine end
local m = mine + delta
if m > 0 then redis.call('HSET', KEYS[1], field, m) else redis.call('HDEL', KEYS[1], field) end
local n = tonumber(redis.call('HGET', KEYS[1], 'visitor_conns') or '0') + delta
if n < 0 then n = 0 end
redis.call('HSET', KEYS[1], 'visitor_conns', n)
if n == 0 and delta < 0 then redis.call('HSET', KEYS[1], 'away_since', ARGV[3]) end
return {n, m, delta, status}
"""

_COUNSELOR_CONNS = """
-- KEYS: counselor conns hash   ARGV: delta or 'drop', instance id, ttl
local mine = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
local delta
if ARGV[1] == 'drop' then delta = -mine else delta = tonumber(ARGV[1]) end
if mine + delta < 0 then delta = -mine end
local m = mine + delta
if m > 0 then redis.call('HSET', KEYS[1], ARGV[2], m) else redis.call('HDEL', KEYS[1], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return {total, m, delta}
"""

_BEAT = """
-- KEYS: alive, visitors index, counselors index   ARGV: now_ms, ttl_ms, index ttl s
local before = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
if before then return 1 end
return 0
"""

_CLAIM = """
-- KEYS: alive, claim   ARGV: taker, lease_ms
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""


# The registry of instances is renewed by every beat; with no instance left for a day it goes.
REGISTRY_TTL = 24 * 3600


@dataclass(frozen=True)
class Presence:
    """What a change of a visitor's sockets came to: the total over all instances, this instance's share,
    the change actually made (0 when there was nothing to drop), and the session's status ('' if gone)."""

    total: int
    mine: int
    delta: int
    status: str


class InstanceStore:
    """Heartbeats, per-instance socket counts and the claim of a dead instance, in Redis."""

    def __init__(self, redis: Redis, keys: Keys, *, index_ttl: int) -> None:
        self.redis = redis
        self.keys = keys
        self.index_ttl = index_ttl
        self._visitor = redis.register_script(_VISITOR_CONNS)
        self._counselor = redis.register_script(_COUNSELOR_CONNS)
        self._beat = redis.register_script(_BEAT)
        self._claim = redis.register_script(_CLAIM)

    # -- heartbeats --------------------------------------------------------------------
    async def beat(self, instance_id: str, now_ms: int, ttl_ms: int) -> bool:
        """Refresh the heartbeat; False when the key had expired (this instance was presumed dead)."""
        k = self.keys
        existed = await self._beat(
            keys=[k.instance_alive(instance_id), k.instance_visitors(instance_id), k.instance_counselors(instance_id)],
            args=[now_ms, ttl_ms, self.index_ttl],
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(k.instances, {instance_id: now_ms})
            pipe.expire(k.instances, REGISTRY_TTL)
            await pipe.execute()
        return bool(int(existed))

    async def stop(self, instance_id: str) -> None:
        """A clean stop: the heartbeat goes at once, so that whatever is left is taken over without waiting;
        with nothing left, the instance leaves the registry too."""
        await self.redis.delete(self.keys.instance_alive(instance_id))
        sids, counselor_ids = await self.held(instance_id)
        if not sids and not counselor_ids:
            await self.forget(instance_id)

    async def dead(self, exclude: str) -> list[tuple[str, int]]:
        """(instance id, last heartbeat ms) of every registered instance whose heartbeat key is gone."""
        raw = await self.redis.zrange(self.keys.instances, 0, -1, withscores=True)
        members = cast(list[tuple[Any, float]], raw)
        others = [(_s(m), int(score)) for m, score in members if _s(m) != exclude]
        if not others:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for iid, _ in others:
                pipe.exists(self.keys.instance_alive(iid))
            alive = await pipe.execute()
        return [other for other, up in zip(others, alive, strict=True) if not up]

    async def claim(self, instance_id: str, taker: str, lease_ms: int) -> bool:
        """Claim a dead instance for a takeover; False when it lives or another instance has the lease."""
        k = self.keys
        won = await self._claim(
            keys=[k.instance_alive(instance_id), k.instance_claim(instance_id)], args=[taker, lease_ms]
        )
        return bool(int(won))

    async def held(self, instance_id: str) -> tuple[list[str], list[int]]:
        """The sessions and counselor ids the instance's indexes name."""
        sids = await self.redis.smembers(self.keys.instance_visitors(instance_id))
        cids = await self.redis.smembers(self.keys.instance_counselors(instance_id))
        return sorted(_s(x) for x in sids), sorted(int(_s(x)) for x in cids)

    async def forget(self, instance_id: str) -> None:
        """After a takeover: the dead instance's indexes and registry entry go (the claim lease expires)."""
        k = self.keys
        await self.redis.delete(k.instance_visitors(instance_id), k.instance_counselors(instance_id))
        await self.redis.zrem(k.instances, instance_id)

    # -- visitors ----------------------------------------------------------------------------
    async def visitor(self, sid: str, instance_id: str, delta: int | str, now_ms: int) -> Presence:
        """Count a visitor socket on ``instance_id`` (+1, -1, or "drop" for all of them). The caller then
        updates the instance's index (``index_visitor``) in the same round trip as the grace timer."""
        return presence(await self._visitor(keys=[self.keys.session(sid)], args=[delta, instance_id, now_ms]))

    async def visitor_on(self, pipe: Any, sid: str, instance_id: str, delta: int | str, now_ms: int) -> None:
        """Queue ``visitor``'s script on a pipeline (a graceful stop uncounts every socket at once); its reply
        is what :func:`presence` reads."""
        await self._visitor(keys=[self.keys.session(sid)], args=[delta, instance_id, now_ms], client=pipe)

    def index_visitor(self, pipe: Any, sid: str, instance_id: str, presence: Presence) -> None:
        """Queue the index update that follows ``visitor`` on a pipeline."""
        key = self.keys.instance_visitors(instance_id)
        if presence.mine > 0 and presence.total >= 0:
            pipe.sadd(key, sid)
            # The beat renews it; an SADD that creates the set must not leave it without a TTL until then.
            pipe.expire(key, self.index_ttl)
        else:
            pipe.srem(key, sid)

    # -- counselors -------------------------------------------------------------------------
    async def counselor(self, counselor_id: int, instance_id: str, delta: int | str) -> tuple[int, int]:
        """Count a counselor socket on ``instance_id``; returns (sockets on every instance, the change made)."""
        k = self.keys
        total, mine, change = await self._counselor(
            keys=[k.counselor_conns(counselor_id)], args=[delta, instance_id, self.index_ttl]
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            self.index_counselor(pipe, counselor_id, instance_id, int(mine))
            await pipe.execute()
        return int(total), int(change)

    async def counselor_on(self, pipe: Any, counselor_id: int, instance_id: str, delta: int | str) -> None:
        """Queue ``counselor``'s script on a pipeline; its reply is (total, mine, change). The caller queues the
        index update (``index_counselor``) in a later round trip."""
        await self._counselor(
            keys=[self.keys.counselor_conns(counselor_id)], args=[delta, instance_id, self.index_ttl], client=pipe
        )

    def index_counselor(self, pipe: Any, counselor_id: int, instance_id: str, mine: int) -> None:
        key = self.keys.instance_counselors(instance_id)
        if mine > 0:
            pipe.sadd(key, counselor_id)
            pipe.expire(key, self.index_ttl)
        else:
            pipe.srem(key, counselor_id)

    async def counselor_sockets(self, counselor_id: int) -> int:
        values = await self.redis.hvals(self.keys.counselor_conns(counselor_id))
        return sum(int(_s(v)) for v in values)


def presence(reply: Any) -> Presence:
    """A ``visitor`` script's reply (from a pipeline) as a :class:`Presence`."""
    total, mine, change, status = reply
    return Presence(int(total), int(mine), int(change), _s(status))


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
