"""Blocking an abusive visitor without storing who they are.

A counselor ends a chat as abusive; the visitor's client hash (an HMAC of the
address with the daily salt, see :class:`chat.services.auth.Hasher`) is then
refused new chats for ``CHAT_BLOCK_SECONDS``. No address is stored, only that
hash, and the hash means nothing once its salt is gone (two days at most).
Supervisors see the active blocks and may lift one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from chat.store.keys import Keys


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Block:
    id: str
    since_ms: int
    until_ms: int
    by: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "since_ms": self.since_ms, "until_ms": self.until_ms, "by": self.by}


class Blocks:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def block(self, subject_hash: str, *, by: str, now_ms: int, seconds: int) -> str:
        """Refuse new chats from this client hash for ``seconds``; returns the block's id."""
        block_id = "b_" + secrets.token_urlsafe(9)
        until = now_ms + seconds * 1000
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(k.block(subject_hash), block_id, ex=seconds)
            pipe.hset(
                k.block_info(block_id), mapping={"subject": subject_hash, "since": now_ms, "until": until, "by": by}
            )
            pipe.expire(k.block_info(block_id), seconds)
            pipe.zadd(k.blocks, {block_id: until})
            pipe.zremrangebyscore(k.blocks, "-inf", now_ms)
            pipe.expire(k.blocks, seconds)
            pipe.incr(k.blocks_total)
            pipe.expire(k.blocks_total, 24 * 3600)
            await pipe.execute()
        return block_id

    async def is_blocked(self, subject_hashes: list[str]) -> bool:
        if not subject_hashes:
            return False
        found = await self.redis.mget([self.keys.block(h) for h in subject_hashes])
        return any(v is not None for v in found)

    async def active(self, now_ms: int) -> list[Block]:
        ids = [_s(m) for m in await self.redis.zrangebyscore(self.keys.blocks, now_ms, "+inf")]
        out = []
        for block_id in ids:
            raw = {_s(a): _s(b) for a, b in (await self.redis.hgetall(self.keys.block_info(block_id))).items()}
            if raw:
                out.append(Block(block_id, int(raw["since"]), int(raw["until"]), raw.get("by", "")))
        return out

    async def total(self) -> int:
        return int(await self.redis.get(self.keys.blocks_total) or 0)

    async def unblock(self, block_id: str) -> bool:
        info = self.keys.block_info(block_id)
        subject = await self.redis.hget(info, "subject")
        if subject is None:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.block(_s(subject)), info)
            pipe.zrem(self.keys.blocks, block_id)
            await pipe.execute()
        return True
