"""What one server process holds: settings, Redis, SQL, the relay hub, the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from chat.services import metrics
from chat.services.auth import Hasher, RateLimiter, TokenStore
from chat.services.blocks import Blocks
from chat.services.outage import Outage
from chat.settings import Settings
from chat.store.client import connect
from chat.store.keys import Keys
from chat.store.pubsub import Hub
from chat.store.redis import RedisStore
from chat.store.retry import ConnectRetry
from chat.store.sql import make_engine, make_sessionmaker


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    engine: AsyncEngine
    db: async_sessionmaker  # type: ignore[type-arg]
    keys: Keys
    store: RedisStore
    hub: Hub
    tokens: TokenStore
    hasher: Hasher
    limiter: RateLimiter
    blocks: Blocks
    clock: Callable[[], int] = wall_ms
    # Redis outages told once per component (chat/services/outage.py); set in build().
    outage: Outage = field(default_factory=lambda: Outage(None))
    # This process's open websockets (``chat.ws.connection.Connection`` objects, which
    # add and remove themselves). Typed loosely so that the services never import
    # the websocket side; only ``chat.ws`` looks inside them.
    connections: set[Any] = field(default_factory=set)
    extras: dict[str, Any] = field(default_factory=dict)

    def now_ms(self) -> int:
        return self.clock()

    @classmethod
    def build(cls, settings: Settings, redis_url: str) -> Runtime:
        # One server, a cluster or a Sentinel-managed primary, by the URL's form (chat/store/client.py).
        # A Redis restarting refuses connections for a moment: commands that never reached it are resent.
        redis = connect(
            redis_url,
            max_connections=settings.redis_max_connections,
            retry=ConnectRetry(settings.redis_retry_seconds),
        )
        keys = Keys(settings.redis_prefix)
        engine = make_engine(settings.sqlalchemy_url)
        rt = cls(
            settings=settings,
            redis=redis,
            engine=engine,
            db=make_sessionmaker(engine),
            keys=keys,
            store=RedisStore(
                redis,
                keys,
                session_ttl=settings.session_ttl_seconds,
                ended_ttl=settings.ended_ttl_seconds,
                wrapup_wait_ms=int(settings.wrapup_wait_seconds * 1000),
                max_events=settings.max_session_events,
                max_bytes=settings.max_session_bytes,
                wait_replicas=settings.redis_wait_replicas,
                wait_timeout_ms=settings.redis_wait_timeout_ms,
            ),
            hub=Hub(redis),
            tokens=TokenStore(redis, keys, settings.token_ttl_seconds),
            hasher=Hasher(redis, keys),
            limiter=RateLimiter(redis, keys),
            blocks=Blocks(redis, keys),
        )
        rt.outage = Outage(redis, on_error=lambda: _count_redis_error(rt))
        return rt

    async def close(self) -> None:
        await self.outage.stop()
        await self.hub.stop()
        await self.redis.aclose()
        await self.engine.dispose()


def _count_redis_error(rt: Runtime) -> None:
    metrics.of(rt).redis_errors.inc()
