"""Fan-out between server instances through Redis pub/sub.

One subscriber connection per process carries every channel that a local
websocket cares about; each message goes to the local listeners of that
channel. Pub/sub may drop messages (a reconnect, a slow consumer): the Redis
stream stays the source of truth, and listeners are told to resynchronise
from it after every reconnect of the hub.

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
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chat.store.client import is_cluster

log = logging.getLogger("chat.store.pubsub")

Listener = Callable[[str, bytes], Awaitable[None] | None]
Resync = Callable[[], Awaitable[None]]


class Hub:
    """``subscribe``/``unsubscribe``/``publish`` for the whole process."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self._resyncs: set[Resync] = set()
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._gone: set[str] = set()  # channels without listeners, to unsubscribe in one command
        self._flusher: asyncio.Task[None] | None = None
        self.stopping = False
        self.relayed = 0

    async def start(self) -> None:
        if is_cluster(self.redis):
            # A cluster client learns the slots on its first command; the pub/sub connection needs them first.
            await cast(Any, self.redis).initialize()
            self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        # A placeholder channel keeps the pub/sub connection in subscribe mode from the start.
        await self._pubsub.subscribe("chat:hub:noop")
        self._task = asyncio.create_task(self._run(), name="relay-hub")

    async def stop(self) -> None:
        self.stopping = True
        if self._flusher:
            self._flusher.cancel()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def subscribe(self, channel: str, listener: Listener) -> None:
        listeners = self._listeners[channel]
        first = not listeners
        listeners.add(listener)
        if first and self._gone and channel in self._gone:
            self._gone.discard(channel)  # still subscribed: the UNSUBSCRIBE had not gone out yet
        elif first:
            async with self._lock:
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
                    await self._pubsub.unsubscribe(*batch)

    def on_resync(self, callback: Resync) -> None:
        self._resyncs.add(callback)

    def off_resync(self, callback: Resync) -> None:
        self._resyncs.discard(callback)

    async def _run(self) -> None:
        while True:
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
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                    self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                    await self._pubsub.subscribe("chat:hub:noop", *self._listeners.keys())
                break
            except (RedisConnectionError, RedisTimeoutError, OSError):
                delay = min(delay * 2, 5.0)
        log.info("relay: subscriber connection restored")
        for callback in list(self._resyncs):
            try:
                await callback()
            except Exception:
                log.exception("relay: resync failed")
