"""The Redis client for a ``CHAT_REDIS_URL``: one server, a Redis Cluster, or a primary found by Sentinel.

URL forms (README "Configuration", docs/deploy.md):

- ``redis://host:6379/0``, ``rediss://…``, ``unix:///path/redis.sock``: one server (redis-py's own forms).
- ``redis+cluster://host:7000,host:7001,host:7002/``: a Redis Cluster; any reachable node is enough to find
  the others (``rediss+cluster://`` for TLS). The path must be empty (a cluster has one database).
- ``redis+sentinel://host:26379,host:26380,host:26381/MASTERNAME[/DB]``: the primary that the Sentinels
  name ``MASTERNAME`` (``rediss+sentinel://`` for TLS to the data nodes). A password in the URL is the data
  nodes' password; ``?sentinel_password=…`` is the Sentinels' own, if they have one.

Everything else in the process holds the client as ``redis.asyncio.Redis``: the cluster client speaks the
same commands. Where code needs to know (a MULTI across keys of different slots is refused on a cluster),
it asks :func:`is_cluster` and :func:`atomic`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}


class BadRedisUrl(ValueError):
    """``CHAT_REDIS_URL`` is not one of the documented forms."""


@dataclass(frozen=True)
class Target:
    """What a URL names: its kind, the seed hosts, and the rest."""

    kind: str  # "single", "cluster" or "sentinel"
    hosts: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    sentinel_password: str | None = None


def parse(url: str) -> Target:
    """Read the cluster and sentinel forms; anything else is left to redis-py (``kind="single"``)."""
    scheme = url.partition("://")[0].lower()
    if scheme not in CLUSTER_SCHEMES and scheme not in SENTINEL_SCHEMES:
        return Target("single")
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, _, hostlist = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    hosts: list[tuple[str, int]] = []
    default_port = 26379 if scheme in SENTINEL_SCHEMES else 6379
    for item in hostlist.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, ""
        try:
            hosts.append((host, int(port) if port else default_port))
        except ValueError as exc:
            raise BadRedisUrl(f"{scheme}: bad port in {item!r}") from exc
    if not hosts:
        raise BadRedisUrl(f"{scheme}: no host given")
    query = parse_qs(parts.query)
    path = [p for p in parts.path.split("/") if p]
    common: dict[str, Any] = {
        "hosts": tuple(hosts),
        "username": unquote(username) or None,
        "password": unquote(password) or None,
    }
    if scheme in CLUSTER_SCHEMES:
        if path:
            raise BadRedisUrl("redis+cluster: a cluster has one database; leave the path empty")
        return Target("cluster", ssl=CLUSTER_SCHEMES[scheme], **common)
    if not path:
        raise BadRedisUrl("redis+sentinel: the master name is missing (redis+sentinel://host:port/MASTERNAME)")
    try:
        db = int(path[1]) if len(path) > 1 else 0
    except ValueError as exc:
        raise BadRedisUrl("redis+sentinel: the database after the master name must be a number") from exc
    sentinel_password = query.get("sentinel_password", [None])[0]
    return Target(
        "sentinel", master=unquote(path[0]), db=db, ssl=SENTINEL_SCHEMES[scheme],
        sentinel_password=sentinel_password, **common,
    )  # fmt: skip


def connect(
    url: str, *, max_connections: int = 64, timeout: float = 10, server: bool = True, retry: Retry | None = None
) -> Redis:
    """The client for ``url``. ``server``: the options of a long-lived server process (a blocking pool, keepalive,
    health checks); without it a plain client for a short command (``chat archiver``, the CLI). ``retry``: how
    commands that never reached Redis are resent (chat/store/retry.py; one server and Sentinel; a cluster
    client has its own retries across nodes)."""
    target = parse(url)
    if target.kind == "cluster":
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in target.hosts],
            username=target.username,
            password=target.password,
            ssl=target.ssl,
            max_connections=max_connections,
            socket_keepalive=True,
            health_check_interval=30 if server else 0,
        )
        return cast(Redis, cluster)
    if target.kind == "sentinel":
        auth: dict[str, Any] = {"username": target.username, "password": target.password, "ssl": target.ssl}
        sentinel = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
            list(target.hosts),
            sentinel_kwargs={"password": target.sentinel_password} if target.sentinel_password else None,
            socket_timeout=timeout,
        )
        client = sentinel.master_for(
            target.master,
            redis_class=SentinelRedis,
            connection_pool_class=SentinelConnectionPool,
            db=target.db,
            max_connections=max_connections,
            socket_keepalive=True,
            health_check_interval=30 if server else 0,
            retry=retry,
            **auth,
        )
        assert isinstance(client, SentinelRedis)
        client.sentinels = sentinel
        return client
    if not server:
        return Redis.from_url(url, retry=retry)
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": timeout,
        "health_check_interval": 30,
        "retry": retry,
    }
    if not url.startswith("unix:"):
        options["socket_keepalive"] = True  # TCP only; a unix socket connection refuses the option
    # A burst of requests waits for a free connection instead of failing, first come, first served.
    pool = FairConnectionPool.from_url(url, **options)
    return Redis.from_pool(pool)  # the client owns the pool and closes it


class FairConnectionPool(BlockingConnectionPool):
    """A blocking pool that serves its waiters in the order they came (issue 11).

    redis-py's ``BlockingConnectionPool`` wakes one waiter when a connection comes back, but leaves the
    connection in the pool until that waiter runs; a task that asks in the meantime takes it. Under
    saturation that task is nearly always the one that just gave it back (a visitor whose next frame is
    already read asks again without yielding), so a few dozen sockets keep every connection while the
    pool's waiters wait until the load stops or ``timeout`` runs out (``unavailable``; an instance heartbeat
    past its TTL). Here a returned connection goes straight to the first waiter, and nobody takes a free
    connection while anyone is waiting.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiters: deque[asyncio.Future[AbstractConnection]] = deque()

    def _serve_waiters(self) -> None:
        """Hand what the pool can give (a free connection, or room for a new one) to the first waiters."""
        while self._waiters and self.can_get_connection():
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._take())

    def _take(self) -> AbstractConnection:
        connection: AbstractConnection = self.get_available_connection()  # type: ignore[no-untyped-call]
        return connection

    def _put_back(self, connection: AbstractConnection) -> None:
        """An unused connection handed to a waiter that gave up: back to the pool, or to the next waiter."""
        self._in_use_connections.discard(connection)
        self._available_connections.append(connection)
        self._serve_waiters()

    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> AbstractConnection:
        self._serve_waiters()  # in case connections were freed without a release (a reset)
        connection: AbstractConnection
        if not self._waiters and self.can_get_connection():
            connection = self._take()
        else:
            waiter: asyncio.Future[AbstractConnection] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(self.timeout):
                    connection = await waiter
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():
                    self._put_back(waiter.result())
                else:
                    waiter.cancel()
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                if isinstance(exc, TimeoutError):
                    raise RedisConnectionError("No connection available.") from exc
                raise
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        try:
            await ConnectionPool.release(self, connection)
        finally:
            self._serve_waiters()


class SentinelRedis(Redis):
    """The primary's client; closing it closes its pool and the connections to the Sentinels too."""

    sentinels: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool=True if close_connection_pool is None else close_connection_pool)
        for client in self.sentinels.sentinels if self.sentinels else ():
            await client.aclose()


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


async def sharded_pubsub(redis: Redis) -> bool:
    """Whether this client's pub/sub is sharded: a cluster of Redis 7 or later (SSUBSCRIBE/SPUBLISH).

    Every instance on one cluster comes to the same answer, so publishers and subscribers agree.
    """
    if not is_cluster(redis):
        return False
    info: Any = await redis.info("server")
    if "redis_version" not in info:  # one answer per node
        info = next(iter(info.values()), {})
    return int(str(info.get("redis_version", "0")).split(".")[0]) >= 7


def atomic(redis: Redis) -> Pipeline:
    """A MULTI/EXEC pipeline on one server; on a cluster a plain pipeline (a MULTI cannot span slots).

    Callers that use it put commands in an order that is safe when only some of them ran (each is
    idempotent, and what must exist first comes first); see docs/architecture.md "Redis Cluster".
    """
    return redis.pipeline(transaction=not is_cluster(redis))
