"""Fan-out between server instances through Redis pub/sub.

One subscriber connection per process carries every channel that a local
websocket cares about; each message goes to the local listeners of that
channel. Pub/sub may drop messages (a reconnect, a slow consumer): the Redis
stream stays the source of truth, and listeners are told to resynchronise
from it after every reconnect of the hub.

On a Redis 7 cluster the hub uses sharded pub/sub instead (``sharded``): each
channel is SSUBSCRIBEd on the node that owns its slot (a session's channel
lives on the session's shard, so a message crosses no other node), with one
connection and one reader per node. When a node goes away (or a slot moves),
the hub learns the cluster's slots again, subscribes the channels where they
now live, and tells the listeners to resynchronise. Anywhere else (one server,
Sentinel, an older cluster) it uses plain SUBSCRIBE on one connection; a
cluster broadcasts plain PUBLISH to every node.

Unsubscribing never waits: channels whose last listener left are collected
and one UNSUBSCRIBE goes out for all of them (a socket closing is no round
trip, and a shutdown with 10,000 sockets is a handful of commands); once the
hub is stopping it unsubscribes nothing, as the connection closes anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chat.store.client import is_cluster, sharded_pubsub

log = logging.getLogger("chat.store.pubsub")


class _Watched:
    """redis-py reconnects a pub/sub connection and resubscribes by itself, silently; the hub must know, to
    tell its listeners to resynchronise (what was published meanwhile is lost to pub/sub)."""

    reconnected: Callable[[], None] | None = None

    async def on_connect(self, connection: Any) -> None:
        await super().on_connect(connection)  # type: ignore[misc]
        if self.reconnected is not None:
            self.reconnected()


class _PubSub(_Watched, PubSub):
    pass


class _ClusterPubSub(_Watched, ClusterPubSub):
    pass


Listener = Callable[[str, bytes], Awaitable[None] | None]
Resync = Callable[[], Awaitable[None]]


class Hub:
    """``subscribe``/``unsubscribe``/``publish`` for the whole process."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self._resyncs: set[Resync] = set()
        self._pubsub: PubSub = redis.pubsub(ignore_subscribe_messages=True)  # replaced by _new_pubsub() at start
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._gone: set[str] = set()  # channels without listeners, to unsubscribe in one command
        self._flusher: asyncio.Task[None] | None = None
        self.stopping = False
        self._closed = False  # stop() was called: the reader ends too, should its cancel be lost
        self.relayed = 0
        self.sharded = False
        # Sharded mode: per node name its pub/sub and reader; per channel the node it is subscribed on.
        self._nodes: dict[str, PubSub] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._where: dict[str, str] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._clients: dict[str, Redis] = {}

    async def start(self, *, sharded: bool | None = None) -> None:
        """Connect; ``sharded`` None: sharded pub/sub where the server has it (a Redis 7 cluster)."""
        if is_cluster(self.redis):
            # A cluster client learns the slots on its first command; the pub/sub connection needs them first.
            await cast(Any, self.redis).initialize()
            self.sharded = await sharded_pubsub(self.redis) if sharded is None else sharded
            if self.sharded:
                return
        self._pubsub = self._new_pubsub()
        # A placeholder channel keeps the pub/sub connection in subscribe mode from the start.
        await self._pubsub.subscribe("chat:hub:noop")
        self._task = asyncio.create_task(self._run(), name="relay-hub")

    async def stop(self) -> None:
        self.stopping = True
        self._closed = True
        if self._flusher:
            self._flusher.cancel()
        tasks = [t for t in (self._task, *self._readers.values(), *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            # A cancel that lands as redis-py completes a read can be lost (see Watcher.stop): again until it ends.
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        for pubsub in (self._pubsub, *self._nodes.values()):
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()

    def wind_down(self) -> None:
        """The process is about to close every socket and stop: from now on a channel whose last listener
        leaves is not unsubscribed (the connection closes at :meth:`stop`, which drops every subscription at
        once), so the sockets closing together cost Redis nothing."""
        self.stopping = True

    async def subscribe(self, channel: str, listener: Listener) -> None:
        listeners = self._listeners[channel]
        first = not listeners
        listeners.add(listener)
        if first and self._gone and channel in self._gone:
            self._gone.discard(channel)  # still subscribed: the UNSUBSCRIBE had not gone out yet
        elif first:
            async with self._lock:
                if self.sharded:
                    await self._ssubscribe(channel)
                else:
                    await self._pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str, listener: Listener) -> None:
        """Drop a listener; the channel's UNSUBSCRIBE goes out later, together with others."""
        listeners = self._listeners.get(channel)
        if not listeners:
            return
        listeners.discard(listener)
        if not listeners:
            del self._listeners[channel]
            if self.stopping:
                return
            self._gone.add(channel)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush_unsubscribes(), name="relay-unsubscribe")

    async def _flush_unsubscribes(self) -> None:
        await asyncio.sleep(0.05)  # the sockets closing together make one command
        while self._gone and not self.stopping:
            batch = [self._gone.pop() for _ in range(min(len(self._gone), 1000))]
            async with self._lock:
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                    if self.sharded:
                        await self._sunsubscribe(batch)
                    else:
                        await self._pubsub.unsubscribe(*batch)

    def on_resync(self, callback: Resync) -> None:
        self._resyncs.add(callback)

    def off_resync(self, callback: Resync) -> None:
        self._resyncs.discard(callback)

    async def _run(self) -> None:
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("relay: lost the subscriber connection; reconnecting")
                await self._reconnect()
                continue
            if message is None or message.get("type") != "message":
                continue
            await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        data = message["data"]
        for listener in list(self._listeners.get(channel, ())):
            try:
                result = listener(channel, data)
                if result is not None:
                    await result
            except Exception:  # one broken listener must not stop the relay for everyone
                log.exception("relay: listener failed")
            self.relayed += 1

    async def _reconnect(self) -> None:
        delay = 0.1
        while True:
            await asyncio.sleep(delay)
            try:
                async with self._lock:
                    with contextlib.suppress(Exception):
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
                    self._pubsub = self._new_pubsub()
                    await self._pubsub.subscribe("chat:hub:noop", *self._listeners.keys())
                break
            except (RedisConnectionError, RedisTimeoutError, OSError):
                delay = min(delay * 2, 1.0)  # back within a second of Redis: clients resume soon
        log.info("relay: subscriber connection restored")
        await self._resync()

    def _new_pubsub(self) -> PubSub:
        pubsub: _PubSub | _ClusterPubSub
        if is_cluster(self.redis):
            pubsub = _ClusterPubSub(cast(Any, self.redis), ignore_subscribe_messages=True)
        else:
            pubsub = _PubSub(self.redis.connection_pool, ignore_subscribe_messages=True)
        pubsub.reconnected = lambda: self._reconnected("relay: subscriber connection restored")
        return pubsub

    def _reconnected(self, what: str) -> None:
        if not self.stopping:
            log.info(what)
            self._spawn(self._resync())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A background task the hub keeps a reference to until it is done."""
        task = asyncio.create_task(work, name="relay-recover")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _resync(self) -> None:
        for callback in list(self._resyncs):
            try:
                await callback()
            except Exception:
                log.exception("relay: resync failed")

    # -- sharded pub/sub (a Redis 7 cluster) ---------------------------------------------------
    def _node_pubsub(self, channel: str) -> tuple[str, PubSub]:
        """The pub/sub connection to the node that owns the channel's slot (made, with its reader, on first use)."""
        cluster = cast(Any, self.redis)
        node = cluster.get_node_from_key(channel)
        pubsub = self._nodes.get(node.name)
        if pubsub is None:
            kwargs = cluster.get_connection_kwargs()
            client = Redis(
                host=node.host,
                port=node.port,
                **{k: kwargs[k] for k in ("username", "password", "ssl") if k in kwargs},
            )
            self._clients[node.name] = client
            pubsub = self._nodes[node.name] = _PubSub(client.connection_pool)
            pubsub.reconnected = lambda: self._reconnected("relay: shard subscriptions restored (reconnected)")
            self._readers[node.name] = asyncio.create_task(self._read(node.name, pubsub), name="relay-shard")
        return node.name, pubsub

    async def _ssubscribe(self, channel: str) -> None:
        name, pubsub = self._node_pubsub(channel)
        await pubsub.ssubscribe(channel)
        self._where[channel] = name

    async def _sunsubscribe(self, channels: list[str]) -> None:
        for channel in channels:  # SUNSUBSCRIBE takes channels of one slot only
            pubsub = self._nodes.get(self._where.pop(channel, ""))
            if pubsub is not None:
                await pubsub.sunsubscribe(channel)

    async def _read(self, name: str, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError):
                # RuntimeError: redis-py's "pubsub connection not set" once every channel of the node is gone;
                # a ResponseError: MOVED, the node no longer owns a channel's slot.
                if not pubsub.subscribed and not any(n == name for n in self._where.values()):
                    await asyncio.sleep(1.0)
                    continue
                log.warning("relay: lost a shard's subscriber connection; resubscribing")
                self._spawn(self._recover(name))
                return
            if message is None:
                continue
            kind = message.get("type")
            if kind == "smessage":
                await self._dispatch(message)
            elif kind == "sunsubscribe":
                channel = message["channel"]
                channel = channel.decode() if isinstance(channel, bytes) else channel
                if channel in self._listeners and self._where.get(channel) == name and not self.stopping:
                    # The server dropped it (its slot moved): subscribe where it lives now, then resynchronise.
                    log.info("relay: a channel's slot moved; resubscribing")
                    self._spawn(self._recover(name, only=channel))

    async def _recover(self, name: str, only: str | None = None) -> None:
        """Subscribe again, on their current nodes, the channels that were on node ``name`` (or just ``only``)."""
        delay = 0.1
        while not self.stopping:
            try:
                async with self._lock:
                    if only is None:
                        gone = self._nodes.pop(name, None)
                        self._readers.pop(name, None)
                        client = self._clients.pop(name, None)
                        with contextlib.suppress(Exception):
                            if gone is not None:
                                await gone.aclose()  # type: ignore[no-untyped-call, unused-ignore]
                            if client is not None:
                                await client.aclose()
                    await cast(Any, self.redis).nodes_manager.initialize()
                    moved = [c for c, n in self._where.items() if n == name and (only is None or c == only)]
                    for channel in moved:
                        if channel in self._listeners:
                            await self._ssubscribe(channel)
                        else:
                            self._where.pop(channel, None)
                break
            except (RedisConnectionError, RedisTimeoutError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        log.info("relay: shard subscriptions restored")
        await self._resync()
